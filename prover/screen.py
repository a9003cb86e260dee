"""The static admission screen: a fast text check that runs before any prover does.

It is the first line of defence, never the last one: a proof the screen admits
is still compiled, its statement compared and its axioms printed by the prover
(see ``prover.coq`` and ``prover.lean``). What the screen buys is that escape
hatches (``Admitted``, ``sorry``, option changes, commands hidden in a proof
body) never reach a prover process at all, and that each refusal names the rule
that fired, so a researcher can see which attack a model tried.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ScreenResult:
    admissible: bool
    rule: str | None = None  # stable rule id when refused, e.g. "vernacular"; None when admissible
    detail: str = ""  # one readable line saying what was found, e.g. "vernacular command 'Admitted'"

    @property
    def reason(self) -> str:
        """The verdict reason for a refused proof: ``screen: <what was found>``."""
        return f"screen: {self.detail or self.rule}"


ADMISSIBLE = ScreenResult(True)


def refuse(rule: str, detail: str = "") -> ScreenResult:
    return ScreenResult(False, rule, detail)


def check_screen(backend: str, proof: str) -> ScreenResult:
    """The static screen of one backend ("coq" or "lean") applied to a proof body."""
    if backend == "coq":
        from prover.coq.screen import check_coq_screen

        return check_coq_screen(proof)
    if backend == "lean":
        try:
            from prover.lean.screen import check_lean_screen
        except ModuleNotFoundError as err:  # the Lean backend lives in its own package
            if err.name not in ("prover.lean", "prover.lean.screen"):
                raise
            raise RuntimeError(f"the Lean static screen is not available: {err}") from err
        return check_lean_screen(proof)
    raise ValueError(f"unknown backend {backend!r}: expected 'coq' or 'lean'")
