"""``select.mode: raw``: pure self-distillation, every admitted sample exactly as sampled.

The other modes (accumulate, replace, mix) deduplicate after whitespace
normalisation and cap distinct proofs per theorem, so a theorem's rare samples
weigh as much as its common one. That reshapes the policy's own distribution,
and the README names it as the confound of the no-gate arm. ``raw`` removes it:
the SFT set is this round's training-pool samples that the gate admitted, one
row per sample, duplicates included (a proof sampled 3 times is trained on 3
times), in sampling order, with no per-theorem cap and no normalisation of the
text. With ``gate.kind: none`` that is the policy's sampling distribution at
temperature T, the setting of the prediction that self-distillation is neutral
in expectation at T = 1, sharpens below it and flattens above it.

Empty bodies are kept too, unlike the other modes: with no gate an empty
completion is one of the policy's samples, and leaving it out would bias the
training distribution that the prediction is about. A gate that checks proofs
never admits one (an empty body leaves the goal open).

Earlier rounds' SFT sets are not carried over (raw is a "replace" of this
round's samples): accumulating would make round r train on a mixture of
earlier policies, not on its own samples.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

# One training-pool attempt as raw selection reads it: (attempt id, theorem id, proof, gate status).
TrainAttempt = tuple[int, str, str, "str | None"]


@dataclass(frozen=True)
class RawRow:
    theorem_id: str
    proof: str  # exactly as sampled
    attempt_id: int


def select_raw(attempts: Iterable[TrainAttempt]) -> list[RawRow]:
    """Every gate-admitted attempt, one row each, in the order given (the run gives attempt id order)."""
    return [RawRow(tid, proof, aid) for aid, tid, proof, gate in attempts if gate == "verified"]
