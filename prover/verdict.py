"""The one result type every verifier returns, and the interface verifiers implement.

A verdict is data about what the proof assistant said. A broken process is not a
failed proof: it becomes ``Status.ERROR`` (infra-error), which callers retry or
report, and which is never counted as a rejection.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Callable, Protocol, Sequence


class Status(str, enum.Enum):
    VERIFIED = "verified"  # the prover accepted it and every admission check passed
    REJECTED = "rejected"  # the prover (or the static screen) said no; reason says why
    TIMEOUT = "timeout"  # wall-clock limit hit; the worker was killed and replaced
    ERROR = "error"  # infrastructure failure: the proof was not judged

    def __str__(self) -> str:  # so f-strings and JSON show "verified", not "Status.VERIFIED"
        return self.value


@dataclass(frozen=True)
class Verdict:
    status: Status
    reason: str  # one line a researcher can read: the rule or the prover's first error
    messages: tuple[str, ...] = ()  # the prover's messages, verbatim
    seconds: float = 0.0

    @property
    def verified(self) -> bool:
        return self.status is Status.VERIFIED

    def to_dict(self) -> dict:
        return {"verdict": self.status.value, "reason": self.reason,
                "messages": list(self.messages), "seconds": round(self.seconds, 4)}


@dataclass(frozen=True)
class ProofTask:
    """What the framework asks a verifier to check.

    ``statement`` is in the backend's language; ``proof`` is the body only (the
    model never writes the header). ``name`` is the theorem name the framework
    declares; it must be a plain identifier.
    """

    id: str
    statement: str
    proof: str
    name: str = "ratchet_goal"
    header: str | None = None  # the environment the statement lives in; None = the verifier's default header
    meta: dict = field(default_factory=dict, compare=False, hash=False)


Progress = Callable[[int], None]  # called with the number of tasks just finished


class Verifier(Protocol):
    """A pooled ground-truth checker. Implementations: ``prover.coq``, ``prover.lean``."""

    backend: str  # "coq" | "lean"

    def version(self) -> str: ...

    def verify(self, tasks: Sequence[ProofTask], progress: Progress | None = None) -> list[Verdict]:
        """Verdicts in input order. Never raises for a bad proof; raises only for misuse."""
        ...

    def close(self) -> None: ...
