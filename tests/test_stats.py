"""Intervals and vs-base comparisons on counts whose answers are known."""
from __future__ import annotations

import math

import numpy as np
import pytest

from loop import metrics, stats


def _counts(pairs):
    return {f"t/{i}": nc for i, nc in enumerate(pairs)}


# ---------------------------------------------------------------------------
# The curve is loop.metrics' estimator, up to k = n
# ---------------------------------------------------------------------------

def test_curve_values_are_the_metrics_estimator_up_to_n():
    counts = _counts([(16, 0), (16, 1), (16, 5), (16, 16), (16, 3)])
    curve = stats.pass_at_k_curve(counts, reps=200)
    assert list(curve) == [1, 2, 4, 8, 16]
    expected = metrics.pass_at_k_curve(list(counts.values()))
    for k, iv in curve.items():
        assert iv.value == pytest.approx(expected[k], abs=1e-12)
        assert iv.lo <= iv.value <= iv.hi
    # pass@n is the share of theorems with any correct sample: 4 of 5
    assert curve[16].value == pytest.approx(4 / 5)
    # and pass@1 the mean of c/n
    assert curve[1].value == pytest.approx((0 + 1 + 5 + 16 + 3) / 16 / 5)


def test_large_n_curve_matches_the_binomial_form():
    counts = _counts([(512, 1), (512, 40), (512, 0)])
    iv = stats.pass_at_k_interval(counts, 256, reps=100)
    exact = sum(1 - math.comb(512 - c, 256) / math.comb(512, 256) for c in (1, 40, 0)) / 3
    assert iv.value == pytest.approx(exact, rel=1e-9)
    assert max(stats.pass_at_k_curve(counts, reps=50)) == 512


# ---------------------------------------------------------------------------
# Degenerate cases
# ---------------------------------------------------------------------------

def test_all_solved_and_none_solved_have_zero_width_intervals():
    for c, value in ((8, 1.0), (0, 0.0)):
        counts = _counts([(8, c)] * 30)
        for k in (1, 8):
            iv = stats.pass_at_k_interval(counts, k)
            assert (iv.value, iv.lo, iv.hi) == (value, value, value)


def test_one_theorem_has_no_interval_over_theorems():
    iv = stats.pass_at_k_interval(_counts([(8, 3)]), 1)
    assert iv.value == pytest.approx(3 / 8)
    assert iv.lo is None and iv.hi is None and iv.as_dict()["ci95"] is None


def test_no_theorems():
    assert stats.pass_at_k_curve({}) == {}
    assert stats.heldout_intervals({}, 8) == {"pass@1": None, "pass@k": None, "k": 8}


def test_seeded_and_reproducible():
    counts = _counts([(8, i % 9) for i in range(40)])
    a = stats.pass_at_k_interval(counts, 1, seed=3)
    assert a == stats.pass_at_k_interval(counts, 1, seed=3)
    assert a != stats.pass_at_k_interval(counts, 1, seed=4)


# ---------------------------------------------------------------------------
# Against closed forms and by simulation
# ---------------------------------------------------------------------------

def test_interval_matches_the_normal_approximation_for_a_share():
    # One sample per theorem: pass@1 is a share of 0/1 values, whose bootstrap distribution
    # is binomial: the 95% interval is close to p +- 1.96 sqrt(p (1 - p) / T).
    T, solved = 400, 120
    counts = _counts([(1, 1)] * solved + [(1, 0)] * (T - solved))
    iv = stats.pass_at_k_interval(counts, 1, reps=4000)
    p = solved / T
    half = 1.96 * math.sqrt(p * (1 - p) / T)
    assert iv.value == pytest.approx(p)
    assert iv.lo == pytest.approx(p - half, abs=0.006)
    assert iv.hi == pytest.approx(p + half, abs=0.006)


def test_coverage_of_a_binomial_by_simulation():
    # Each theorem's c ~ Binomial(n, p) with the same p: the true pass@1 is p. Over 300
    # simulated held-out sets the 95% interval should contain p about 95% of the time.
    rng = np.random.default_rng(12345)
    p, n, T, sims = 0.3, 4, 60, 300
    hits = 0
    for s in range(sims):
        counts = _counts([(n, int(c)) for c in rng.binomial(n, p, size=T)])
        iv = stats.pass_at_k_interval(counts, 1, reps=800, seed=s)
        hits += iv.lo <= p <= iv.hi
    coverage = hits / sims
    assert 0.90 <= coverage <= 0.985, coverage


def test_pass_at_k_coverage_with_heterogeneous_theorems():
    # Theorems differ in difficulty (p_i from a Beta): the target is the population mean of
    # pass@k = 1 - (1 - p)^k, here computed in closed form for Beta(1, 3): 1 - 3/(3 + k).
    rng = np.random.default_rng(7)
    n, k, T, sims = 16, 8, 80, 200
    truth = 1 - 3 / (3 + k)
    hits = 0
    for s in range(sims):
        ps = rng.beta(1, 3, size=T)
        counts = _counts([(n, int(c)) for c in rng.binomial(n, ps)])
        iv = stats.pass_at_k_interval(counts, k, reps=800, seed=s)
        hits += iv.lo <= truth <= iv.hi
    assert 0.89 <= hits / sims <= 0.99, hits / sims


# ---------------------------------------------------------------------------
# Several seeds: the hierarchical bootstrap
# ---------------------------------------------------------------------------

def test_two_seeds_that_disagree_completely_span_the_whole_range():
    # seed 0 solves everything, seed 1 nothing: drawing seeds gives 0, 1/2 or 1 with
    # probabilities 1/4, 1/2, 1/4, so the 2.5% and 97.5% percentiles are 0 and 1.
    runs = [_counts([(4, 4)] * 20), _counts([(4, 0)] * 20)]
    iv = stats.pass_at_k_interval(runs, 1)
    assert iv.value == pytest.approx(0.5)
    assert (iv.lo, iv.hi) == (0.0, 1.0)
    assert iv.scheme == "seeds+theorems (shared)"


def test_shared_theorems_are_drawn_once_per_replicate():
    # Four seeds that agree exactly: the seeds add no variance, and since they evaluate the
    # same theorems, the interval must be as wide as one run's, not narrower.
    one = _counts([(8, c) for c in np.random.default_rng(0).integers(0, 9, size=50)])
    single = stats.pass_at_k_interval(one, 1, reps=3000)
    four = stats.pass_at_k_interval([one] * 4, 1, reps=3000)
    assert four.value == pytest.approx(single.value)
    assert (four.hi - four.lo) == pytest.approx(single.hi - single.lo, rel=0.15)
    # Runs on different theorems are nested: four independent theorem sets do narrow it.
    shifted = [{f"{s}:{t}": v for t, v in one.items()} for s in range(4)]
    nested = stats.pass_at_k_interval(shifted, 1, reps=3000)
    assert nested.scheme == "seeds+theorems (nested)"
    assert (nested.hi - nested.lo) < 0.7 * (single.hi - single.lo)


def test_heldout_intervals_lower_k_to_n():
    counts = _counts([(4, c) for c in (0, 1, 2, 3, 4, 2, 1)])
    out = stats.heldout_intervals(counts, k=8)
    assert out["k"] == 4
    lo, hi = out["pass@k"]
    assert lo <= metrics.pass_at_k_curve(list(counts.values()), ks=[4])[4] <= hi


# ---------------------------------------------------------------------------
# vs base: new, lost, sharpening
# ---------------------------------------------------------------------------

def test_vs_base_counts_by_hand():
    base = {"a": (4, 0), "b": (4, 2), "c": (4, 4), "d": (4, 0), "e": (4, 1)}
    now = {"a": (4, 1), "b": (4, 0), "c": (4, 4), "d": (4, 0), "e": (4, 4)}
    out = stats.vs_base(base, now, reps=500)
    assert out["n"] == 4 and out["theorems"] == 5
    assert out["new"]["value"] == pytest.approx(1)   # a
    assert out["lost"]["value"] == pytest.approx(1)  # b
    p1_now = (1 / 4 + 0 + 1 + 0 + 1) / 5
    passn_base = 3 / 5  # b, c, e
    assert out["sharpening"]["value"] == pytest.approx(p1_now / passn_base)
    for key in ("new", "lost", "sharpening"):
        lo, hi = out[key]["ci95"]
        assert lo <= out[key]["value"] <= hi
    assert out["new"]["ci95"][0] >= 0 and out["new"]["ci95"][1] <= 5


def test_vs_base_of_the_base_itself():
    base = _counts([(8, c) for c in (0, 1, 4, 8, 0, 2)])
    out = stats.vs_base_by_round({0: base, 1: base})
    for r in (0, 1):
        assert out[r]["new"] == {"value": 0.0, "ci95": [0.0, 0.0]}
        assert out[r]["lost"] == {"value": 0.0, "ci95": [0.0, 0.0]}
    # pass@1 / pass@8 of the base: the room a sound verifier has to sharpen into
    assert out[0]["sharpening"]["value"] == pytest.approx(((1 + 4 + 8 + 2) / 8 / 6) / (4 / 6))
    with pytest.raises(ValueError, match="base round"):
        stats.vs_base_by_round({1: base})


def test_vs_base_with_more_base_samples_uses_the_expected_indicator():
    # base drew 8 samples (1 correct), the round 4: at n = 4 the base solves it with
    # probability pass@4(8, 1) = 1/2, so a round that solves it counts half a new theorem.
    base = {"a": (8, 1), "b": (8, 0)}
    now = {"a": (4, 2), "b": (4, 0)}
    out = stats.vs_base(base, now, reps=200)
    assert out["n"] == 4
    assert out["new"]["value"] == pytest.approx(0.5)
    assert out["lost"]["value"] == pytest.approx(0.0)


def test_vs_base_sharpening_undefined_when_the_base_solves_nothing():
    base = _counts([(4, 0)] * 5)
    now = _counts([(4, 1)] + [(4, 0)] * 4)
    out = stats.vs_base(base, now)
    assert out["sharpening"] == {"value": None, "ci95": None}
    assert out["new"]["value"] == pytest.approx(1)


def test_vs_base_only_compares_shared_theorems_and_pairs_seeds():
    base = {"a": (4, 0), "b": (4, 4)}
    now = {"a": (4, 4), "z": (4, 4)}
    assert stats.vs_base(base, now)["theorems"] == 1
    with pytest.raises(ValueError, match="pair them by seed"):
        stats.vs_base([base, base], [now])


def test_vs_base_over_seeds():
    base = [_counts([(4, 0)] * 10 + [(4, 2)] * 10)] * 2
    now = [_counts([(4, 1)] * 10 + [(4, 2)] * 10), _counts([(4, 0)] * 10 + [(4, 2)] * 10)]
    out = stats.vs_base(base, now)
    assert out["new"]["value"] == pytest.approx(5)  # 10 new in seed 0, none in seed 1
    lo, hi = out["new"]["ci95"]
    # drawing seed 1 twice gives 0 whatever the theorems; drawing seed 0 twice gives 10 give or
    # take the theorem draw (which can hold more than 10 of its 10 new theorems)
    assert lo == pytest.approx(0) and 10 <= hi <= 16


# ---------------------------------------------------------------------------
# Differences between arms
# ---------------------------------------------------------------------------

def test_difference_of_identical_arms_is_zero_and_of_shifted_arms_is_the_shift():
    rng = np.random.default_rng(1)
    a = [list(rng.uniform(0, 1, size=40)) for _ in range(3)]
    same = stats.difference(a, a)
    assert same.value == pytest.approx(0)
    assert same.lo <= 0 <= same.hi
    shifted = [[x + 0.2 for x in run] for run in a]
    d = stats.difference(shifted, a)
    assert d.value == pytest.approx(0.2)
    assert d.lo <= 0.2 <= d.hi
    # one seed each and a constant shift: theorems are paired, so the interval is the point
    d1 = stats.difference([shifted[0]], [a[0]])
    assert d1.lo == pytest.approx(0.2) and d1.hi == pytest.approx(0.2)
    with pytest.raises(ValueError, match="same theorems"):
        stats.difference([[0.1, 0.2]], [[0.1]])


def test_counts_from_verdicts_follow_the_metrics_rule():
    rows = [("a", "verified"), ("a", "rejected"), ("a", "error"), ("a", "timeout"),
            ("b", "error"), ("c", "rejected")]
    assert stats.counts_from_verdicts(rows) == {"a": (3, 1), "c": (1, 0)}
