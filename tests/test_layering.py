"""prover/ (one step of proving) must not import loop/ (many rounds).

Every module under prover/ is imported in a fresh interpreter in which any import of
``loop`` raises; the test fails naming the module that tried.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_PROBE = r"""
import importlib, pkgutil, sys

class BlockLoop:
    def find_spec(self, name, path=None, target=None):
        if name == "loop" or name.startswith("loop."):
            raise ImportError(f"prover imported {name}")
        return None

sys.meta_path.insert(0, BlockLoop())
import prover
names = sorted(m.name for m in pkgutil.walk_packages(prover.__path__, "prover."))
bad = []
for name in names:
    try:
        importlib.import_module(name)
    except ImportError as e:
        if "prover imported loop" in str(e):
            bad.append(f"{name}: {e}")
        else:
            raise
print(len(names))
for line in bad:
    print("BAD", line)
assert not [m for m in sys.modules if m == "loop" or m.startswith("loop.")]
"""


def test_no_prover_module_imports_loop():
    proc = subprocess.run([sys.executable, "-c", _PROBE], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.split("\n")
    assert int(lines[0]) >= 10  # the walk found the package's modules (model, lora, sampling, coq, lean, ...)
    assert not [line for line in lines if line.startswith("BAD")], proc.stdout


def test_the_probe_catches_a_loop_import(tmp_path):
    """The blocker really fires: a module that imports loop is reported."""
    probe = _PROBE.replace("import prover\n", "import prover\nimport loop.config\n")
    proc = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0 and "prover imported loop" in proc.stderr
