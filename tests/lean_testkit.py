"""Shared by the Lean tests: the recorded transcripts, the REPL double, process checks.

The transcripts are data shared between projects (``../shared/lean-repl-transcripts/``
next to the repository; see its README), not part of this repository. Set
``RATCHET_LEAN_TRANSCRIPTS`` to read them from elsewhere.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

TRANSCRIPTS = Path(os.environ.get("RATCHET_LEAN_TRANSCRIPTS",
                                  Path(__file__).resolve().parents[1].parent / "shared" / "lean-repl-transcripts"))
KIMINA = TRANSCRIPTS / "kimina-lean-server-match"
VERSIONS = ("v4.9.0", "v4.15.0", "v4.33.0-rc2")

needs_transcripts = pytest.mark.skipif(not TRANSCRIPTS.is_dir(),
                                       reason=f"recorded transcripts not found at {TRANSCRIPTS}")


def files(pattern: str) -> list[Path]:
    return sorted(TRANSCRIPTS.rglob(pattern)) if TRANSCRIPTS.is_dir() else []


def ids(paths: list[Path]) -> list[str]:
    return [str(p.relative_to(TRANSCRIPTS)) for p in paths]


# The executable stand-in for the Lean REPL (see its docstring for the magic words).
DOUBLE = (sys.executable, str(Path(__file__).with_name("lean_repl_double.py")))


def gone(pid: int) -> bool:
    """True if no process has this pid any more (our children are reaped, so no zombies)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False
