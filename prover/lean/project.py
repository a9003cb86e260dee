"""The Lake project on disk (``lean_project/``): where Lean, the REPL and the checker are.

Nothing here installs anything. ``lean_project/setup.sh`` does (elan, the pinned
toolchain, ``lake build``); this module only finds what it built and says
precisely what is missing and how to install it when it is not there.

``python -m prover.lean --write-defs`` regenerates ``Ratchet/Defs.lean`` from
``LEAN_HEADER``; a test checks that the two agree.
"""
from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from prover.lean.admission import KernelChecker
from prover.lean.pool import LaunchSpec, run_limited

LEAN_PROJECT = Path(__file__).resolve().parents[2] / "lean_project"
DEFS_PATH = Path("Ratchet") / "Defs.lean"
CHECKER_ENV = "RATCHET_LEAN_CHECKER"  # path to a kernel-replay executable, overriding the built one

DEFS_PREAMBLE = """\
/-
Ratchet/Defs.lean: the definitions every Lean theorem statement may use.

GENERATED from prover.theorems.headers.LEAN_HEADER; do not edit by hand.
Regenerate with `python -m prover.lean --write-defs` (a test checks they agree).
The REPL loads LEAN_HEADER itself as its first command (the header environment
every proof runs in); this file lets the same text be built and browsed with
`lake build` and compiled under the same default options as the REPL.
-/
"""


class LeanUnavailable(RuntimeError):
    """Lean or the built REPL is missing; the message says how to install it."""


def install_hint(project_dir: Path = LEAN_PROJECT) -> str:
    return (f"Install it with `bash {project_dir}/setup.sh` on a machine with internet access: it installs "
            f"elan and the toolchain pinned in {project_dir}/lean-toolchain, then runs `lake build` there "
            f"(the REPL and the Ratchet library). Until then use `--backend coq`.")


def find_lake() -> str | None:
    found = shutil.which("lake")
    if found:
        return found
    elan_lake = Path.home() / ".elan" / "bin" / "lake"
    return str(elan_lake) if elan_lake.is_file() and os.access(elan_lake, os.X_OK) else None


def find_repl_binary(project_dir: Path = LEAN_PROJECT) -> Path | None:
    """The REPL executable Lake built for the pinned dependency (``.lake/packages/<repl>/...``)."""
    for candidate in sorted((project_dir / ".lake" / "packages").glob("*/.lake/build/bin/repl")):
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def pinned_toolchain(project_dir: Path = LEAN_PROJECT) -> str:
    path = project_dir / "lean-toolchain"
    return path.read_text(encoding="utf-8").strip() if path.is_file() else "unpinned"


def repl_revision(project_dir: Path = LEAN_PROJECT) -> str | None:
    """The REPL commit Lake resolved (lake-manifest.json), if the project was set up."""
    manifest = project_dir / "lake-manifest.json"
    if not manifest.is_file():
        return None
    data = json.loads(manifest.read_text(encoding="utf-8"))
    for package in data.get("packages", []):
        if str(package.get("name", "")).lower() == "repl":
            return package.get("rev")
    return None


def lean_unavailable_message(project_dir: Path = LEAN_PROJECT) -> str:
    """Why the Lean backend cannot run here and how to fix it; "" if it can."""
    if not (project_dir / "lean-toolchain").is_file():
        return f"Lean 4 is not set up: {project_dir}/lean-toolchain is missing. " + install_hint(project_dir)
    if find_lake() is None:
        return "Lean 4 is not installed: `lake` is not on PATH or in ~/.elan/bin. " + install_hint(project_dir)
    if find_repl_binary(project_dir) is None:
        return (f"Lean 4 is installed but the REPL is not built in {project_dir} "
                f"(no .lake/packages/*/.lake/build/bin/repl). " + install_hint(project_dir))
    return ""


def lean_available(project_dir: Path = LEAN_PROJECT) -> bool:
    """True when `lake` is installed and the pinned REPL has been built in the Lake project."""
    return lean_unavailable_message(project_dir) == ""


@dataclass(frozen=True)
class LeanInstall:
    project_dir: Path
    lake: str
    repl: Path

    def launch_spec(self) -> LaunchSpec:
        # `lake env` puts the project's (and Mathlib's, when configured) build outputs on
        # LEAN_PATH, so headers can import them; the REPL is the pinned dependency's binary.
        return LaunchSpec(argv=(self.lake, "env", str(self.repl)), cwd=str(self.project_dir))


def find_install(project_dir: Path = LEAN_PROJECT) -> LeanInstall:
    message = lean_unavailable_message(project_dir)
    if message:
        raise LeanUnavailable(message)
    lake = find_lake()
    repl = find_repl_binary(project_dir)
    assert lake is not None and repl is not None
    return LeanInstall(project_dir, lake, repl)


@lru_cache(maxsize=8)
def lean_version(lake: str, project_dir: Path) -> str:
    """`lean --version` of the pinned toolchain, e.g. "Lean (version 4.33.0, ...)"."""
    code, output = run_limited([lake, "env", "lean", "--version"], cwd=project_dir, env=None,
                               timeout_s=60, memory_mb=4096)
    return output.strip().splitlines()[0] if code == 0 and output.strip() else "lean --version failed"


def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def bundled_leanchecker(install: LeanInstall) -> Path | None:
    """The pinned toolchain's own ``leanchecker`` (lean4checker, shipped with Lean from v4.28).

    ``elan which`` run in the project directory resolves the toolchain that lean-toolchain
    pins; older toolchains have no such binary, and then this returns None.
    """
    elan = Path(install.lake).parent / "elan"
    if not _executable(elan):
        found = shutil.which("elan")
        if found is None:
            return None
        elan = Path(found)
    code, output = run_limited([str(elan), "which", "leanchecker"], cwd=install.project_dir, env=None,
                               timeout_s=60, memory_mb=4096)
    lines = output.strip().splitlines()
    if code != 0 or not lines:
        return None
    path = Path(lines[-1].strip())
    return path if path.is_absolute() and _executable(path) else None


def find_kernel_checker(install: LeanInstall, memory_mb: int) -> KernelChecker | None:
    """The kernel checker, with the project's LEAN_PATH: $RATCHET_LEAN_CHECKER if set, else
    lean4checker built by setup.sh, else the toolchain's bundled leanchecker; None if none is there."""
    override = os.environ.get(CHECKER_ENV)
    built = install.project_dir / ".lake" / "lean4checker" / ".lake" / "build" / "bin" / "lean4checker"
    if override:
        checker: Path | None = Path(override)
    elif _executable(built):
        checker = built
    else:
        checker = bundled_leanchecker(install)
    if checker is None or not _executable(checker):
        return None
    code, output = run_limited([install.lake, "env", "printenv", "LEAN_PATH"], cwd=install.project_dir,
                               env=None, timeout_s=60, memory_mb=4096)
    if code != 0:
        return None
    return KernelChecker(name=checker.name, lean=(install.lake, "env", "lean"), checker=(str(checker),),
                         cwd=str(install.project_dir), lean_path=output.strip(),
                         bin_dir=str(Path(install.lake).parent), memory_mb=memory_mb)


# ---------------------------------------------------------------------------------------------
# Ratchet/Defs.lean, generated from LEAN_HEADER
# ---------------------------------------------------------------------------------------------

def default_header() -> str:
    """The framework's Lean header (definitions used by the theorem families), imported lazily."""
    from prover.theorems.headers import LEAN_HEADER
    return LEAN_HEADER


def render_defs(header: str) -> str:
    return DEFS_PREAMBLE + "\n" + header.strip("\n") + "\n"


def header_from_defs(text: str) -> str:
    """The header text inside a Defs.lean written by ``render_defs``."""
    if not text.startswith(DEFS_PREAMBLE):
        raise ValueError(f"{DEFS_PATH} does not start with the generated preamble; regenerate it")
    return text[len(DEFS_PREAMBLE):].strip("\n")
