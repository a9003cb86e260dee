"""Metrics on constructed cases whose answers can be worked out by hand."""
from __future__ import annotations

import itertools
import math

import pytest

from loop import metrics, stats
from loop.store import Attempt, Store


# ---------------------------------------------------------------------------
# pass@k against brute force
# ---------------------------------------------------------------------------

def brute_pass_at_k(n: int, c: int, k: int) -> float:
    """Share of all k-subsets of n samples (the first c correct) containing a correct one."""
    subsets = list(itertools.combinations(range(n), k))
    return sum(any(i < c for i in s) for s in subsets) / len(subsets)


@pytest.mark.parametrize("n", range(1, 11))
def test_pass_at_k_matches_enumeration(n):
    for c in range(n + 1):
        for k in range(1, n + 1):
            assert metrics.pass_at_k(n, c, k) == pytest.approx(brute_pass_at_k(n, c, k), abs=1e-12), (n, c, k)


def test_pass_at_k_matches_binomial_form_for_large_n():
    n, c, k = 200, 7, 50
    exact = 1 - math.comb(n - c, k) / math.comb(n, k)
    assert metrics.pass_at_k(n, c, k) == pytest.approx(exact, rel=1e-12)


@pytest.mark.parametrize("n,c,k", [(4, 5, 1), (4, -1, 1), (4, 2, 0), (4, 2, 5)])
def test_pass_at_k_rejects_bad_arguments(n, c, k):
    with pytest.raises(ValueError, match="pass_at_k"):
        metrics.pass_at_k(n, c, k)


def test_curve_ks():
    assert metrics.curve_ks(8) == [1, 2, 4, 8]
    assert metrics.curve_ks(6) == [1, 2, 4, 6]
    assert metrics.curve_ks(1) == [1]


def test_curve_averages_per_theorem():
    counts = [(4, 0), (4, 1), (4, 4)]
    curve = metrics.pass_at_k_curve(counts)
    assert list(curve) == [1, 2, 4]
    assert curve[1] == pytest.approx((0 + 0.25 + 1) / 3)
    assert curve[2] == pytest.approx((0 + 0.5 + 1) / 3)  # one correct of 4: 1 - C(3,2)/C(4,2) = 1/2
    assert curve[4] == pytest.approx((0 + 1 + 1) / 3)
    with pytest.raises(ValueError):
        metrics.pass_at_k_curve(counts, ks=[8])


# ---------------------------------------------------------------------------
# A synthetic store
# ---------------------------------------------------------------------------

def theorem(tid, family, pool):
    return {"id": tid, "family": family, "difficulty": 1, "pool": pool, "name": tid, "statement": "s",
            "statement_coq": "s", "statement_lean": "s"}


def att(r, phase, tid, idx, proof, judge, gate=None, tokens=0):
    return Attempt(round=r, phase=phase, theorem_id=tid, sample_idx=idx, proof=proof, judge=judge, judge_reason="",
                   gate=gate, gate_reason=None, seconds=0.0, tokens=tokens, checkpoint="base")


def attempt_id(store, r, phase, tid, idx):
    return store.db.execute("SELECT id FROM attempts WHERE round=? AND phase=? AND theorem_id=? AND sample_idx=?",
                            (r, phase, tid, idx)).fetchone()[0]


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "run.db")
    s.add_theorems([theorem("h1", "lin", "heldout"), theorem("h2", "lin", "heldout"),
                    theorem("h3", "ring", "heldout"), theorem("t1", "lin", "train"),
                    theorem("t2", "ring", "train"), theorem("c1", "canary", "canary")])
    yield s
    s.close()


def test_heldout_metrics_by_hand(store):
    V, R, E = "verified", "rejected", "error"
    store.add_attempts([
        # h1: 4 samples, 2 verified, 2 distinct texts up to whitespace ("lia." twice in different layouts)
        att(0, "eval", "h1", 0, "intros. lia.", V), att(0, "eval", "h1", 1, "intros.  lia.", V),
        att(0, "eval", "h1", 2, "auto.", R), att(0, "eval", "h1", 3, "auto.", R),
        att(0, "greedy", "h1", 0, "intros. lia.", V),
        # h2: 4 samples, none verified, all the same text
        *[att(0, "eval", "h2", i, "simpl. ring.", R) for i in range(4)],
        att(0, "greedy", "h2", 0, "simpl. ring.", R),
        # h3: 4 samples, one verified, one infra error (left out of n), greedy rejected
        att(0, "eval", "h3", 0, "ring.", V), att(0, "eval", "h3", 1, "lia.", R),
        att(0, "eval", "h3", 2, "auto.", "timeout"), att(0, "eval", "h3", 3, "x.", E),
        att(0, "greedy", "h3", 0, "lia.", R),
        # other rounds and phases must not leak in
        att(1, "eval", "h1", 0, "auto.", R), att(0, "train", "t1", 0, "lia.", V, gate=V),
    ])
    h = metrics.heldout_metrics(store, 0, k=4)
    assert h["theorems"] == 3
    assert h["judge_errors"] == 1
    assert h["n"] == 3  # h3 has only 3 judged samples
    assert h["k"] == 3
    assert h["pass@1"] == pytest.approx((2 / 4 + 0 / 4 + 1 / 3) / 3)
    assert h["greedy_pass@1"] == pytest.approx(1 / 3)
    # pass@3: h1 = 1 - C(2,3)/C(4,3) = 1; h2 = 0; h3 = 1 (n=3, c=1, k=3)
    assert h["pass@k"] == pytest.approx((1 + 0 + 1) / 3)
    assert set(h["pass@k_curve"]) == {"1", "2", "3"}
    assert h["pass@k_curve"]["1"] == pytest.approx(h["pass@1"])
    # h1: {"intros. lia.", "auto."} = 2; h2: 1; h3: 4 distinct
    assert h["unique_proofs_per_theorem"] == pytest.approx((2 + 1 + 4) / 3)
    # distinct-1 per theorem: h1 words intros. lia. intros. lia. auto. auto. -> 3/6;
    # h2: simpl. ring. x4 -> 2/8; h3: ring. lia. auto. x. -> 4/4
    assert h["distinct_1"] == pytest.approx((3 / 6 + 2 / 8 + 4 / 4) / 3)
    # distinct-2: h1 bigrams (intros. lia.) x2 -> 1/2; h2 (simpl. ring.) x4 -> 1/4; h3 has no bigram
    assert h["distinct_2"] == pytest.approx((1 / 2 + 1 / 4) / 2)
    assert h["entropy"] is None
    lin, ring = h["per_family"]["lin"], h["per_family"]["ring"]
    assert lin["theorems"] == 2 and ring["theorems"] == 1
    assert lin["pass@1"] == pytest.approx((0.5 + 0) / 2)
    assert lin["greedy_pass@1"] == pytest.approx(0.5)
    assert ring["pass@1"] == pytest.approx(1 / 3)
    assert ring["greedy_pass@1"] == 0.0
    # intervals over the three theorems (loop.stats), beside the unchanged point values
    counts = {"h1": (4, 2), "h2": (4, 0), "h3": (3, 1)}
    assert h["ci95"] == stats.heldout_intervals(counts, 4)
    assert h["ci95"]["k"] == 3
    lo, hi = h["ci95"]["pass@1"]
    assert lo <= h["pass@1"] <= hi and lo < hi
    assert h["ci95"]["pass@k"][0] <= h["pass@k"] <= h["ci95"]["pass@k"][1]
    assert set(h["pass@k_curve_ci95"]) == set(h["pass@k_curve"])
    assert h["pass@k_curve_ci95"]["1"] == h["ci95"]["pass@1"]
    assert h["pass@k_curve_ci95"]["3"] == h["ci95"]["pass@k"]


def test_heldout_metrics_empty_round_is_all_none(store):
    h = metrics.heldout_metrics(store, 5, k=8)
    assert h["theorems"] == 0
    assert h["pass@1"] is None and h["pass@k"] is None and h["greedy_pass@1"] is None
    assert h["pass@k_curve"] == {} and h["per_family"] == {}
    assert h["ci95"] == {"pass@1": None, "pass@k": None, "k": 8} and h["pass@k_curve_ci95"] == {}


def test_vs_base_against_round_zero_by_hand(store):
    """Round 0 (the base) solves h1 only; round 1 solves h1 and h2 and loses nothing; h3 is never solved."""
    V, R, E = "verified", "rejected", "error"
    rows = {0: {"h1": "VRRR", "h2": "RRRR", "h3": "RRRR"},
            1: {"h1": "VVVV", "h2": "VRRR", "h3": "RRRE"}}
    names = {"V": V, "R": R, "E": E}
    store.add_attempts([att(r, "eval", t, j, f"p{j}", names[v]) for r, per in rows.items()
                        for t, vs in per.items() for j, v in enumerate(vs)]
                       + [att(1, "greedy", "h3", 0, "lia.", V), att(1, "train", "t1", 0, "lia.", V, gate=V)])
    assert store.eval_verdicts(1)[:4] == [("h1", V)] * 4  # eval only, in the order made
    assert store.eval_rounds() == [0, 1]
    assert metrics.heldout_counts(store, 1) == {"h1": (4, 4), "h2": (4, 1), "h3": (3, 0)}
    base = metrics.vs_base(store, 0)
    assert base["n"] == 4 and base["theorems"] == 3
    assert base["new"]["value"] == 0 and base["lost"]["value"] == 0
    assert base["sharpening"]["value"] == pytest.approx((1 / 4 / 3) / (1 / 3))
    now = metrics.vs_base(store, 1)
    # common n = 3 (h3 lost a sample to an error). new: h2 (1 of 4 now, 0 of 4 in the base) is solved in 3
    # samples with probability 3/4; h1 (4 of 4 now) was solved by the base's 3 samples with probability 3/4,
    # so it is new with probability 1/4: 3/4 + 1/4
    assert now["n"] == 3
    assert now["new"]["value"] == pytest.approx(1.0)
    assert now["lost"]["value"] == pytest.approx(0.0)
    assert now["sharpening"]["value"] == pytest.approx(((1 + 0.25 + 0) / 3) / ((3 / 4) / 3))
    lo, hi = now["new"]["ci95"]
    assert lo <= 1.0 <= hi


def test_pool_stats(store):
    V, R = "verified", "rejected"
    store.add_attempts([
        att(0, "train", "t1", 0, "lia.", V, gate=V), att(0, "train", "t1", 1, "auto.", R, gate=V),
        att(0, "train", "t2", 0, "ring.", R, gate=R), att(0, "train", "t2", 1, "x.", "error", gate="error"),
        att(0, "train", "c1", 0, "lia.", R, gate=V), att(0, "eval", "h1", 0, "lia.", V),
    ])
    assert metrics.pool_stats(store, 0) == {
        "attempts": 5, "verified": 1, "theorems_proved": 1, "gate_admitted": 3, "false_admits": 2,
        "judge_errors": 1, "canary_gate_admitted": 1}
    assert metrics.pool_stats(store, 1)["attempts"] == 0


def lockin_store(store):
    """Round 0: two wrong proofs admitted (t1 'auto.', canary c1 'lia.'), one right one (t2).

    Round 1: the policy samples t1 four times: twice the wrong proof (once re-laid-out), once a new
    wrong proof the gate refuses, once a correct proof; c1 twice, a different wrong proof the gate
    admits and a refused one. Round 1's admitted set accumulates round 0's and adds a new wrong one.
    """
    V, R = "verified", "rejected"
    store.add_attempts([
        att(0, "train", "t1", 0, "auto.", R, gate=V), att(0, "train", "t2", 0, "ring.", V, gate=V),
        att(0, "train", "c1", 0, "lia.", R, gate=V),
    ])
    a_t1 = attempt_id(store, 0, "train", "t1", 0)
    a_t2 = attempt_id(store, 0, "train", "t2", 0)
    a_c1 = attempt_id(store, 0, "train", "c1", 0)
    store.set_admitted(0, [("t1", "auto.", a_t1), ("t2", "ring.", a_t2), ("c1", "lia.", a_c1),
                           ("t2", "simpl. ring.", None)])  # warm-start data: clean
    store.add_attempts([
        att(1, "train", "t1", 0, "auto.", R, gate=R), att(1, "train", "t1", 1, " auto. ", R, gate=R),
        att(1, "train", "t1", 2, "trivial.", R, gate=R), att(1, "train", "t1", 3, "lia.", V, gate=V),
        att(1, "train", "c1", 0, "tauto.", R, gate=V), att(1, "train", "c1", 1, "tauto.", R, gate=R),
    ])
    a_c1_new = attempt_id(store, 1, "train", "c1", 0)
    a_t1_ok = attempt_id(store, 1, "train", "t1", 3)
    store.set_admitted(1, [("t1", "auto.", a_t1), ("t2", "ring.", a_t2), ("c1", "lia.", a_c1),
                           ("c1", "tauto.", a_c1_new), ("t1", "lia.", a_t1_ok)])


def test_contamination(store):
    lockin_store(store)
    assert metrics.contamination(store, 0) == pytest.approx(2 / 4)
    assert metrics.contamination(store, 1) == pytest.approx(3 / 5)
    assert metrics.contamination(store, 2) is None


def test_lockin_empirical(store):
    lockin_store(store)
    l0 = metrics.lockin(store, 0)
    assert l0["false_admitted"] == 2
    assert l0["false_theorems"] == 0 and l0["false_theorems_still_produced"] == 0
    assert l0["reproduce_prob"] is None and l0["reproduce_source"] is None
    l1 = metrics.lockin(store, 1)
    assert l1["false_admitted"] == 3  # t1 auto., c1 lia., c1 tauto. (deduplicated across rounds)
    assert l1["false_theorems"] == 2  # W = round-0 wrong proofs: t1 auto., c1 lia.
    # t1: reproduced the wrong proof (judge-rejected, identical) -> counts;
    # c1: a different wrong proof, but the gate admitted it -> counts
    assert l1["false_theorems_still_produced"] == 2
    # t1 'auto.' reproduced 2 of 4 samples; c1 'lia.' 0 of 2
    assert l1["reproduce_rate"] == pytest.approx((2 / 4 + 0 / 2) / 2)
    assert l1["reproduce_prob"] == pytest.approx(l1["reproduce_rate"])
    assert l1["reproduce_source"] == "samples"


def test_lockin_with_model_logprobs(store):
    lockin_store(store)
    calls = []

    def logprob_fn(theorem_ids, proofs):
        calls.append(list(zip(theorem_ids, proofs)))
        return [math.log(0.5) if tid == "t1" else math.log(0.1) for tid in theorem_ids]

    l1 = metrics.lockin(store, 1, logprob_fn=logprob_fn)
    assert sorted(calls[0]) == [("c1", "lia."), ("t1", "auto.")]
    assert l1["reproduce_prob"] == pytest.approx((0.5 + 0.1) / 2)
    assert l1["reproduce_source"] == "model"
    assert l1["reproduce_rate"] == pytest.approx(0.25)
    with pytest.raises(ValueError, match="returned 1 values for 2"):
        metrics.lockin(store, 1, logprob_fn=lambda ids, proofs: [0.0])


def test_still_produced_needs_a_judge_rejected_sample(store):
    """A theorem whose round-r samples are all verified (or refused and new) is not 'still produced'."""
    V, R = "verified", "rejected"
    store.add_attempts([att(0, "train", "t1", 0, "auto.", R, gate=V)])
    store.set_admitted(0, [("t1", "auto.", attempt_id(store, 0, "train", "t1", 0))])
    store.add_attempts([att(1, "train", "t1", 0, "lia.", V, gate=V), att(1, "train", "t1", 1, "simpl.", R, gate=R)])
    l1 = metrics.lockin(store, 1)
    assert l1["false_theorems"] == 1
    assert l1["false_theorems_still_produced"] == 0
    assert l1["reproduce_rate"] == 0.0


def test_forgetting(store):
    V, R = "verified", "rejected"
    store.add_attempts([
        att(0, "eval", "h1", 0, "a.", V), att(0, "eval", "h2", 0, "a.", R), att(0, "greedy", "h2", 0, "a.", V),
        att(0, "eval", "h3", 0, "a.", R),
        # round 1: h1 lost, h2 kept (by an eval sample now), h3 gained
        att(1, "eval", "h1", 0, "a.", R), att(1, "greedy", "h1", 0, "a.", R),
        att(1, "eval", "h2", 0, "a.", V), att(1, "eval", "h3", 0, "a.", V),
    ])
    assert metrics.forgetting(store, 0) is None
    assert metrics.forgetting(store, 1) == {"lost": 1, "gained": 1}
    # round 2 evaluated only h3: h1/h2 are not counted as lost
    store.add_attempts([att(2, "eval", "h3", 0, "a.", V)])
    assert metrics.forgetting(store, 2) == {"lost": 0, "gained": 0}


def test_still_produced_is_unknown_in_a_round_without_pool_sampling(store):
    """The last round only evaluates: 'still produced' cannot be measured there, so it is None, not 0."""
    lockin_store(store)
    store.add_attempts([att(2, "eval", "h1", 0, "a.", "verified")])
    l2 = metrics.lockin(store, 2)
    assert l2["false_theorems"] >= 1
    assert l2["false_theorems_still_produced"] is None
