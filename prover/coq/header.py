"""The Coq header every proof is checked under.

The theorem generators own the real header (``prover.theorems.COQ_HEADER``:
the libraries plus the functions their statements use); this module falls back
to the libraries alone when that package is not importable, so the verifier
can be used and tested on its own.
"""
from __future__ import annotations

FALLBACK_HEADER = """\
Require Import Arith Lia ZArith Bool List.
Import ListNotations.
"""


def default_header() -> str:
    try:
        from prover.theorems import COQ_HEADER
    except ImportError:  # prover.theorems missing or without COQ_HEADER: libraries only
        return FALLBACK_HEADER
    return COQ_HEADER
