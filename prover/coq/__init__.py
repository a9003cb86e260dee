"""Coq ground truth: a pool of persistent coqtop workers behind the Verifier interface.

``CoqVerifier`` is the pooled judge; ``fresh_verify`` checks one proof with a
fresh ``coqc`` process (the reference the benchmark compares against);
``check_coq_screen`` is the static screen that runs before either.
"""
from prover.coq.fresh import fresh_verify
from prover.coq.header import FALLBACK_HEADER, default_header
from prover.coq.screen import check_coq_screen
from prover.coq.verifier import CoqVerifier, coq_available, coq_version, precheck
from prover.coq.worker import CoqInfraError

__all__ = ["CoqVerifier", "CoqInfraError", "FALLBACK_HEADER", "check_coq_screen", "coq_available",
           "coq_version", "default_header", "fresh_verify", "precheck"]
