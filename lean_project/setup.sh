#!/usr/bin/env bash
# Set up Ratchet's Lean 4 backend: elan, the pinned toolchain, the REPL, the Ratchet library
# and a kernel checker for kernel replay (the toolchain's own leanchecker from Lean v4.28,
# else lean4checker built at the toolchain's tag). Needs internet access the first time.
#
#   bash lean_project/setup.sh              # core Lean only (what the theorem families need)
#   bash lean_project/setup.sh --mathlib    # also Mathlib (several GB; for real benchmarks)
#   bash lean_project/setup.sh --no-checker # no kernel checker (kernel replay is then "off")
#
# Safe to re-run: every step is skipped when its result is already there.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

mathlib=0
checker=1
for arg in "$@"; do
  case "$arg" in
    --mathlib) mathlib=1 ;;
    --no-checker) checker=0 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "setup.sh: unknown option $arg (see --help)" >&2; exit 2 ;;
  esac
done

toolchain="$(tr -d '[:space:]' < lean-toolchain)"   # e.g. leanprover/lean4:v4.15.0
tag="${toolchain#*:}"                               # e.g. v4.15.0
lake_flags=()
if [ "$mathlib" = 1 ]; then lake_flags=(-R -Kmathlib=on); fi

say() { printf '\n== %s\n' "$*"; }
die() { printf '\nsetup.sh: %s\n' "$*" >&2; exit 1; }

need_internet() {
  command -v curl >/dev/null || die "curl is needed to download elan and Lake dependencies; install curl first."
  curl -fsS --max-time 15 -o /dev/null https://github.com \
    || die "no internet access (https://github.com is unreachable). $1
Run this script on a machine that can reach github.com; until then use Ratchet's Coq backend (--backend coq)."
}

# 1. elan, the Lean toolchain manager.
export PATH="$HOME/.elan/bin:$PATH"
if ! command -v elan >/dev/null; then
  need_internet "Installing elan needs it."
  say "installing elan (into ~/.elan)"
  installer="$(mktemp)"
  curl -sSfL https://raw.githubusercontent.com/leanprover/elan/master/elan-init.sh -o "$installer"
  sh "$installer" -y --default-toolchain none --no-modify-path
  rm -f "$installer"
fi

# 2. The pinned toolchain.
if ! elan toolchain list | grep -q "^${toolchain}"; then
  need_internet "Downloading the Lean toolchain $toolchain needs it."
  say "installing $toolchain"
  elan toolchain install "$toolchain"
fi

# 3. Dependencies (the REPL; Mathlib with --mathlib) and the builds.
if [ ! -d .lake/packages/REPL ] || { [ "$mathlib" = 1 ] && [ ! -d .lake/packages/mathlib ]; }; then
  need_internet "Fetching Lake dependencies (the REPL, Mathlib) needs it."
  say "resolving Lake dependencies"
  lake ${lake_flags[@]+"${lake_flags[@]}"} update
fi
if [ "$mathlib" = 1 ]; then
  say "downloading Mathlib's prebuilt .olean cache"
  lake ${lake_flags[@]+"${lake_flags[@]}"} exe cache get
fi
say "building the REPL and the Ratchet library"
lake ${lake_flags[@]+"${lake_flags[@]}"} build REPL/repl
lake ${lake_flags[@]+"${lake_flags[@]}"} build

repl="$(ls .lake/packages/*/.lake/build/bin/repl 2>/dev/null | head -n 1)"
[ -n "$repl" ] || die "lake build finished but no REPL executable was found under .lake/packages/*/.lake/build/bin/"

# 4. A kernel checker for kernel replay of admitted proofs. Toolchains from v4.28 ship
#    `leanchecker` (lean4checker, upstreamed); older ones need lean4checker built at their tag.
bundled_checker=""
if [ "$checker" = 1 ]; then
  candidate="$(elan which leanchecker 2>/dev/null || true)"   # run here: resolves the pinned toolchain
  if [ -n "$candidate" ] && [ -x "$candidate" ]; then bundled_checker="$candidate"; fi
  if [ -n "$bundled_checker" ]; then
    say "kernel replay: the toolchain's leanchecker ($bundled_checker)"
  elif [ ! -x .lake/lean4checker/.lake/build/bin/lean4checker ]; then
    say "building lean4checker $tag (kernel replay)"
    if [ ! -d .lake/lean4checker ]; then
      need_internet "Cloning lean4checker needs it."
      git clone --quiet --depth 1 --branch "$tag" https://github.com/leanprover/lean4checker .lake/lean4checker \
        || { echo "warning: lean4checker has no tag $tag; kernel replay stays off" >&2; checker=0; }
    fi
    if [ "$checker" = 1 ]; then
      theirs="$(tr -d '[:space:]' < .lake/lean4checker/lean-toolchain)"
      if [ "$theirs" != "$toolchain" ]; then
        echo "warning: lean4checker $tag is pinned to $theirs, not $toolchain; kernel replay stays off" >&2
      else
        (cd .lake/lean4checker && lake build) \
          || echo "warning: building lean4checker failed; kernel replay stays off" >&2
      fi
    fi
  fi
fi

# 5. Smoke test: proofs through the REPL, the way prover.lean sends them. The second is a
#    ring-family proof: `grind` must normalise Nat polynomials (Lean >= v4.22, see README.md).
say "smoke test"
answer="$(printf '%s\n\n%s\n\n%s\n\n' \
  '{"cmd": "theorem ratchet_smoke : 2 + 2 = 4 := by decide"}' \
  '{"cmd": "#print axioms ratchet_smoke", "env": 0}' \
  '{"cmd": "theorem ratchet_smoke_ring : ∀ x y : Nat, (x + 2) ^ 2 * y = y * x ^ 2 + 4 * x * y + 4 * y := by grind", "env": 0}' \
  | lake env "$repl")"
printf '%s\n' "$answer"
grep -q '"env": 2' <<<"$answer" || die "the REPL did not answer as expected (see above)"
if grep -q '"severity": "error"' <<<"$answer"; then die "a smoke-test proof failed (see above)"; fi

say "ready: $toolchain, REPL at $repl"
if [ -n "$bundled_checker" ]; then
  echo "kernel replay: leanchecker (bundled with the toolchain)"
elif [ -x .lake/lean4checker/.lake/build/bin/lean4checker ]; then
  echo "kernel replay: lean4checker"
else
  echo "kernel replay: off (lean4checker not built)"
fi
echo "check from Python: .venv/bin/python -m prover.lean"
