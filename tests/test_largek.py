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
