# Two commands do all set-up on a fresh machine (both are idempotent):
#   make quickstart   set up, then run configs/quickstart.yaml into runs/quickstart
#   make test         set up, then run the default test suite (what .ci/run calls)
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo -n)

.PHONY: setup coq chromium quickstart test test-all lean-setup clean-runs

setup: $(STAMP) coq

$(STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q -e '.[test,ray,tracking]'
	@rm -f $(VENV)/.installed-* && touch $@

# Coq is the ground truth on machines without Lean; Debian ships it.
coq:
	@command -v coqtop >/dev/null || { \
	  if command -v apt-get >/dev/null && $(SUDO) true 2>/dev/null; then \
	    echo "installing coq (apt-get)"; \
	    $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq coq >/dev/null; \
	  else \
	    echo "error: coqtop not found and apt-get is not usable here; install Coq 8.16 (Debian: apt-get install coq)" >&2; \
	    exit 1; \
	  fi; }

# Chromium drives the report's browser test; where it cannot be installed that test is skipped.
chromium:
	@command -v chromium >/dev/null || { \
	  if command -v apt-get >/dev/null && $(SUDO) true 2>/dev/null; then \
	    echo "installing chromium (apt-get) for the report's browser test"; \
	    { $(SUDO) apt-get update -qq; DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null; } \
	      || echo "warning: chromium could not be installed; browser tests will be skipped"; \
	  else echo "warning: chromium absent; browser tests will be skipped"; fi; }

quickstart: setup
	$(VENV)/bin/ratchet run configs/quickstart.yaml --out runs/quickstart --resume

test: setup chromium
	$(VENV)/bin/pytest -q

# Everything, including the long experiments and tests that need Lean or a GPU (skipped when absent).
test-all: setup chromium
	$(VENV)/bin/pytest -q -m ''

lean-setup:
	bash lean_project/setup.sh

clean-runs:
	rm -rf runs/
