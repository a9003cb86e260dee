"""The per-round summary as typed values: what the round table, summary.json, ablate and report read.

The models carry the names of ``summary.json`` as aliases (``pass@1`` is
``pass_at_1`` here), so the file's keys do not change. Every field may be
absent: a summary written by an earlier version, or read back from a run that
was killed between stages, still loads, and a reader sees None where a number
is missing instead of a KeyError. The last round only evaluates, so it has no
``pool``, ``admitted``, ``contamination`` or ``train``; ``to_json`` leaves those
keys out, as the loop always has.
"""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Block(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="allow")


class FamilyHeldout(_Block):
    pass_at_1: float | None = Field(None, alias="pass@1")
    greedy_pass_at_1: float | None = Field(None, alias="greedy_pass@1")
    pass_at_k: float | None = Field(None, alias="pass@k")
    theorems: int | None = None


class HeldoutCI(_Block):
    """95% bootstrap intervals over theorems ([lo, hi], None where none can be formed; loop.stats)."""
    pass_at_1: list[float] | None = Field(None, alias="pass@1")
    pass_at_k: list[float] | None = Field(None, alias="pass@k")
    k: int | None = None


class ValueCI(_Block):
    value: float | None = None
    ci95: list[float] | None = None  # [lo, hi], 95% bootstrap over theorems; None where none can be formed


class VsBase(_Block):
    """A round against the base model's held-out samples (loop.stats.vs_base): new and lost are counts
    of theorems at the common sample count n, sharpening is pass@1 now over the base's pass@n."""
    n: int | None = None
    theorems: float | None = None
    new: ValueCI = Field(default_factory=ValueCI)
    lost: ValueCI = Field(default_factory=ValueCI)
    sharpening: ValueCI = Field(default_factory=ValueCI)


class Heldout(_Block):
    """The held-out block of one round (definitions in loop.metrics)."""
    pass_at_1: float | None = Field(None, alias="pass@1")
    greedy_pass_at_1: float | None = Field(None, alias="greedy_pass@1")
    pass_at_k: float | None = Field(None, alias="pass@k")
    k: int | None = None
    n: int | None = None
    pass_at_k_curve: dict[str, float | None] = Field(default_factory=dict, alias="pass@k_curve")
    theorems: int | None = None
    judge_errors: int | None = None
    unique_proofs_per_theorem: float | None = None
    distinct_1: float | None = None
    distinct_2: float | None = None
    entropy: float | None = None
    per_family: dict[str, FamilyHeldout] = Field(default_factory=dict)
    ci95: HeldoutCI | None = None  # None in a summary written before intervals existed
    pass_at_k_curve_ci95: dict[str, list[float] | None] = Field(default_factory=dict, alias="pass@k_curve_ci95")
    vs_base: VsBase | None = None  # None in a summary written before vs_base existed

    def curve(self) -> dict[int, float]:
        """pass@k against k, numeric keys, missing values left out."""
        return {int(k): v for k, v in self.pass_at_k_curve.items() if v is not None}


class PoolStats(_Block):
    attempts: int | None = None
    verified: int | None = None
    theorems_proved: int | None = None
    gate_admitted: int | None = None
    false_admits: int | None = None
    judge_errors: int | None = None
    canary_gate_admitted: int | None = None


class TrainStats(_Block):
    """What the fine-tune of the round did (prover.lora.train_lora's stats; skipped for a fixed proposer)."""
    steps: int | None = None
    examples: int | None = None
    loss_first: float | None = None
    loss_last: float | None = None
    loss_epochs: list[float] = Field(default_factory=list)
    init: str | None = None
    trainable_parameters: int | None = None
    seed: int | None = None
    device: str | None = None
    seconds: float | None = None


class Lockin(_Block):
    false_admitted: int | None = None
    false_theorems: int | None = None
    false_theorems_still_produced: int | None = None
    reproduce_rate: float | None = None
    reproduce_prob: float | None = None
    reproduce_source: str | None = None


class Forgetting(_Block):
    lost: int | None = None
    gained: int | None = None


class StageSeconds(_Block):
    sample: float | None = None
    verify: float | None = None
    train: float | None = None
    eval: float | None = None


class Cost(_Block):
    seconds: StageSeconds = Field(default_factory=StageSeconds)
    cpu_seconds: StageSeconds | None = None  # CPU of the run's process and its descendants, per stage
    tokens_sampled: int | None = None
    proofs_checked: int | None = None
    proofs_verified: int | None = None
    verify_per_s: float | None = None


_TRAINING_KEYS = ("pool", "admitted", "contamination", "train")


class RoundSummary(_Block):
    round: int | None = None
    checkpoint: str | None = None
    heldout: Heldout = Field(default_factory=Heldout)
    pool: PoolStats | None = None  # None in a round that sampled no training pool (the last)
    admitted: int | None = None
    contamination: float | None = None
    train: TrainStats | None = None
    lockin: Lockin = Field(default_factory=Lockin)
    forgetting: Forgetting | None = None  # None in round 0
    cost: Cost = Field(default_factory=Cost)
    seconds: float | None = None

    @property
    def trained(self) -> bool:
        """Whether this round sampled a training pool (every round but the last does)."""
        return self.pool is not None

    def to_json(self) -> dict[str, Any]:
        """The round as summary.json holds it: the same keys, in the same order."""
        data = self.model_dump(mode="json", by_alias=True)
        if not self.trained:
            for key in _TRAINING_KEYS:
                data.pop(key, None)
        return data


class RunSummary(_Block):
    """summary.json: who ran what, and every finished round."""
    name: str | None = None
    backend: str | None = None
    backend_version: str | None = None
    seed: int | None = None
    config_hash: str | None = None
    gate: dict[str, Any] = Field(default_factory=dict)
    rounds: list[RoundSummary] = Field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        data = self.model_dump(mode="json", by_alias=True)
        data["rounds"] = [r.to_json() for r in self.rounds]
        return data


def load_rounds(rows: list[Any]) -> list[RoundSummary]:
    """Round summaries from summary.json or the store; anything that is not a mapping is skipped."""
    return [RoundSummary.model_validate(r) for r in rows if isinstance(r, dict)]
