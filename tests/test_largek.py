"""Large-k evaluation helpers: chunks bounded in samples, each distinct proof verified once."""
from __future__ import annotations

import pytest

from loop.largek import MAX_SAMPLES_PER_CHUNK, expand, plan_chunks, plan_verification
from loop.run import CHUNK_THEOREMS
from loop.selection import normalize


def _today(ids, size=CHUNK_THEOREMS):
    # the split loop.run.sample_and_verify makes now; sampling seeds depend on the chunk index
    return [ids[i:i + size] for i in range(0, len(ids), size)]


@pytest.mark.parametrize("n", [1, 4, 8, 32, 64])
def test_small_n_keeps_todays_chunks_exactly(n):
    ids = [f"t/{i}" for i in range(131)]
    assert plan_chunks(ids, n, chunk_theorems=CHUNK_THEOREMS) == _today(ids)


@pytest.mark.parametrize("n", [65, 128, 256, 512, 5000])
def test_large_n_chunks_are_bounded_in_samples(n):
    ids = [f"t/{i}" for i in range(131)]
    chunks = plan_chunks(ids, n, chunk_theorems=CHUNK_THEOREMS)
    assert [t for c in chunks for t in c] == ids  # every theorem once, in order
    assert all(len(c) >= 1 for c in chunks)
    assert all(len(c) * n <= max(MAX_SAMPLES_PER_CHUNK, n) for c in chunks)  # one theorem at least
    assert len(chunks[0]) == max(1, min(CHUNK_THEOREMS, MAX_SAMPLES_PER_CHUNK // n))
    with pytest.raises(ValueError, match="plan_chunks"):
        plan_chunks(ids, 0, chunk_theorems=CHUNK_THEOREMS)


def test_duplicates_and_cached_proofs_are_not_verified_again():
    key = lambda tid, p: (tid, normalize(p))  # noqa: E731  (the run's verdict-cache key)
    items = [("a", "lia."), ("a", " lia. "), ("a", "auto."), ("b", "lia."), ("a", "lia."), ("b", "ring.")]
    known = {("b", "ring."): "V-ring"}
    plan = plan_verification(items, known, key)
    # a/lia. (first layout kept), a/auto., b/lia.: three prover calls for six samples
    assert plan.todo == {("a", "lia."): "lia.", ("a", "auto."): "auto.", ("b", "lia."): "lia."}
    assert (plan.cached, plan.repeats, plan.distinct) == (1, 2, 4)
    verdicts = {**known, **{k: f"V-{k[0]}-{k[1]}" for k in plan.todo}}
    assert expand(plan, verdicts) == ["V-a-lia.", "V-a-lia.", "V-a-auto.", "V-b-lia.", "V-a-lia.", "V-ring"]
    with pytest.raises(KeyError, match="no verdict"):
        expand(plan, known)


def test_512_samples_of_few_proofs_cost_few_calls():
    items = [("t", ["lia.", "auto.", "intros; lia."][i % 3]) for i in range(512)]
    plan = plan_verification(items, {}, lambda tid, p: (tid, normalize(p)))
    assert len(plan.todo) == 3 and plan.repeats == 509 and len(plan.keys) == 512


class _CountingVerifier:
    """Verifies 'lia.' and nothing else; the first check of 'flaky.' is an infra error."""

    def __init__(self):
        self.calls: list[list[str]] = []

    def verify(self, tasks, progress=None):
        from prover.verdict import Status, Verdict

        self.calls.append([t.proof for t in tasks])
        first = len(self.calls) == 1
        return [Verdict(Status.ERROR if (t.proof == "flaky." and first) else
                        Status.VERIFIED if t.proof == "lia." else Status.REJECTED, "test", (), 0.0) for t in tasks]


def test_the_run_judges_each_distinct_proof_once_and_maps_verdicts_back():
    from types import SimpleNamespace

    from loop.run import judge

    theorem = SimpleNamespace(name="t", statement=lambda backend: "forall n : nat, n = n")
    ctx = SimpleNamespace(verdict_cache={}, verifier=_CountingVerifier(), proofs_verified=0, backend="coq",
                          theorems={"a": theorem, "b": theorem})
    texts = ["lia.", "  lia.", "auto.", "flaky."]
    items = [("a", texts[i % 4]) for i in range(512)] + [("b", "lia.")]
    verdicts = judge(ctx, items)
    # 4 distinct (theorem, normalised proof) keys: a/lia., a/auto., a/flaky., b/lia.; flaky. retried once
    assert sorted(ctx.verifier.calls[0]) == ["auto.", "flaky.", "lia.", "lia."]
    assert ctx.verifier.calls[1] == ["flaky."]
    assert ctx.proofs_verified == 5
    assert [v.status.value for v in verdicts[:4]] == ["verified", "verified", "rejected", "rejected"]
    assert len(verdicts) == 513 and verdicts[-1].status.value == "verified"
    assert judge(ctx, items[:8]) == verdicts[:8] and len(ctx.verifier.calls) == 2  # all from the cache
