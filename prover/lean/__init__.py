"""The Lean 4 backend: the community REPL, pooled, behind ``prover.verdict.Verifier``.

* ``protocol``  - request encoding and response parsing (Lean v4.9 to v4.33 shapes)
* ``pool``      - REPL processes: header reuse, timeouts, memory limits, recycling, restarts
* ``admission`` - the Lean admission rule, in one place
* ``policy``    - the static policy run before any prover
* ``project``   - the Lake project on disk: finding Lean, the REPL and the kernel checker
"""
from prover.lean.policy import check_lean_policy
from prover.lean.project import LeanUnavailable, lean_available, lean_unavailable_message
from prover.lean.verifier import LeanVerifier

__all__ = ["LeanVerifier", "LeanUnavailable", "check_lean_policy", "lean_available",
           "lean_unavailable_message"]
