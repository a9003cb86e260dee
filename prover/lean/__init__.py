"""The Lean 4 backend: the community REPL, pooled, behind ``prover.verdict.Verifier``.

* ``protocol``  - request encoding and response parsing (Lean v4.9 to v4.33 shapes)
* ``pool``      - REPL processes: header reuse, timeouts, memory limits, recycling, restarts
* ``admission`` - the Lean admission rule, in one place
* ``screen``    - the static screen run before any prover
* ``project``   - the Lake project on disk: finding Lean, the REPL and the kernel checker
"""
from prover.lean.screen import check_lean_screen
from prover.lean.project import LeanUnavailable, lean_available, lean_unavailable_message
from prover.lean.verifier import LeanVerifier

__all__ = ["LeanVerifier", "LeanUnavailable", "check_lean_screen", "lean_available",
           "lean_unavailable_message"]
