"""Uncertainty for held-out numbers: pass@k curves, sharpening against growth, 95% intervals.

Pure: no SQL, no model, no torch. The input is counts, one ``(n, c)`` per held-out
theorem (n judged samples, c of them verified), keyed by theorem id, for one run
or for several runs that differ only in seed. ``loop.metrics`` builds such counts
from the store; this module only does arithmetic on them.

What is estimated
-----------------
pass@k      the mean over theorems of the unbiased per-theorem estimator
            ``pass_at_k`` below (1 - C(n-c, k)/C(n, k)).
vs base     per theorem, against the base model's counts on the same theorem:
            new         solved now, never solved by the base in its samples;
            lost        solved by the base, unsolved now;
            sharpening  mean pass@1 now / mean pass@n of the base. 1 means the
                        round's single sample is as good as the base's best of
                        n: pass@n pulled into pass@1. Above 1 needs growth.
            "Solved" at the common sample count n is the estimator itself:
            pass@n(n_i, c_i) is 1 when c_i > 0 and theorem i had exactly n
            samples, and the probability that n of its samples contain a
            correct one when it had more. ``new`` for theorem i is therefore
            pass@n(now) * (1 - pass@n(base)), which is the 0/1 indicator when
            both runs drew exactly n samples, and the expected indicator under
            independent subsampling when one of them drew more.
            ``new`` and ``lost`` are counts of theorems (means over seeds).

Intervals
---------
Percentile bootstrap, 95%, seeded (numpy's PCG64; the same input and seed give the
same interval). The replicates are weights, not copies: a replicate draws
multinomial counts over theorems (and over seeds), so one replicate costs a dot
product whatever k is.

Over theorems: the held-out set is a sample from the families' distribution; a
claim about the method, not about these 130 statements, must carry that variance.
Samples within a theorem are not resampled: the per-theorem estimator already
averages them, and with n in the hundreds their variance is small against the
spread between theorems.

Over seeds (several runs): a seed changes the base model, the sampling and the
training, so runs differ by more than theorems do; seeds are resampled first,
then theorems. The held-out set is frozen by a hash of the theorem id, so runs
that differ only in seed evaluate the *same* theorems: the design is crossed
(seed x theorem), not nested. Resampling theorems independently inside each
drawn seed would treat a theorem's difficulty as independent across seeds and
shrink the theorem part of the variance by the number of seeds; so when every
run has the same theorem set, one theorem draw is shared by all the drawn seeds
of a replicate (the two-way "pigeonhole" bootstrap, Owen 2007, which is slightly
conservative). When the runs' theorem sets differ, theorems are resampled
within each drawn seed (nested). ``Interval.scheme`` records which was used.

With fewer than two theorems (and one seed) there is nothing to resample and the
interval is None rather than a zero-width one that would look like certainty.
A ratio whose denominator is 0 in a replicate drops that replicate; the share
dropped is reported (``dropped``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Mapping, Sequence

import numpy as np

Counts = Mapping[str, tuple[int, int]]  # theorem id -> (judged samples n, verified c)

REPS = 2000
LEVEL = 0.95


@dataclass(frozen=True)
class Interval:
    """A point estimate and its percentile-bootstrap interval (None where it cannot be formed)."""
    value: float | None
    lo: float | None
    hi: float | None
    scheme: str  # "theorems", "seeds+theorems (shared)", "seeds+theorems (nested)", or "none"
    dropped: float = 0.0  # share of replicates left out (a ratio's denominator was 0)

    def as_dict(self) -> dict:
        """The summary.json form: {"value": x, "ci95": [lo, hi] or None}."""
        ci = None if self.lo is None else [self.lo, self.hi]
        return {"value": self.value, "ci95": ci}


# ---------------------------------------------------------------------------
# The per-theorem estimator (loop.metrics re-exports both: one copy)
# ---------------------------------------------------------------------------

def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k for one theorem with n samples, c correct: 1 - C(n-c, k) / C(n, k).

    Computed as 1 - prod_{i=n-c+1}^{n} (1 - k/i), which never forms the large binomials.
    """
    if not (0 <= c <= n) or not (1 <= k <= n):
        raise ValueError(f"pass_at_k needs 0 <= c <= n and 1 <= k <= n; got n={n}, c={c}, k={k}")
    if n - c < k:
        return 1.0  # every k-subset contains a correct sample
    prod = 1.0
    for i in range(n - c + 1, n + 1):
        prod *= 1.0 - k / i
    return 1.0 - prod


def curve_ks(n: int) -> list[int]:
    """1, 2, 4, ... up to n, plus n itself."""
    ks, k = [], 1
    while k <= n:
        ks.append(k)
        k *= 2
    if ks[-1] != n:
        ks.append(n)
    return ks


# ---------------------------------------------------------------------------
# The bootstrap engine: per-theorem values, weights over seeds and theorems
# ---------------------------------------------------------------------------

def _weights(rng: np.random.Generator, size: int, reps: int) -> np.ndarray:
    """(reps, size) multinomial counts: how often each unit is drawn in each replicate."""
    return rng.multinomial(size, np.full(size, 1.0 / size), size=reps).astype(float)


def _replicates(tables: Sequence[np.ndarray], runs: int, shared: bool, rng: np.random.Generator,
                reps: int) -> list[np.ndarray]:
    """For each table (a list over runs of per-theorem arrays), the replicate means: (reps,) each.

    All tables are resampled with the same weights, so a ratio of two of them is a ratio of
    means over one and the same resampled population.
    """
    seed_w = _weights(rng, runs, reps) if runs > 1 else np.ones((reps, 1))
    if shared:
        theorems = len(tables[0][0])
        th_w = _weights(rng, theorems, reps)
        # mean over drawn seeds of the mean over drawn theorems: sum_s w_s sum_t v_t x_st / (S T)
        return [np.einsum("bs,st,bt->b", seed_w, np.stack(t), th_w) / (runs * theorems) for t in tables]
    out = [np.zeros(reps) for _ in tables]
    for s in range(runs):  # nested: each run draws its own theorems (its theorem set may differ)
        th_w = _weights(rng, len(tables[0][s]), reps)
        for acc, t in zip(out, tables):
            acc += seed_w[:, s] * (th_w @ t[s]) / len(t[s])
    return [acc / runs for acc in out]


def _percentiles(values: np.ndarray, level: float) -> tuple[float, float]:
    tail = (1 - level) / 2 * 100
    lo, hi = np.percentile(values, [tail, 100 - tail])
    return float(lo), float(hi)


def bootstrap_mean(per_run: Sequence[Sequence[float]], shared: bool, *, reps: int = REPS, seed: int = 0,
                   level: float = LEVEL, denominator: Sequence[Sequence[float]] | None = None) -> Interval:
    """Interval for the mean (over runs, then theorems) of per-theorem values.

    ``per_run[s][t]`` is theorem t's value in run s; ``shared`` says the runs' theorem
    lists are aligned (the same theorems, in the same order). With ``denominator`` the
    statistic is the ratio of the two means (same resampling for both).
    """
    runs = len(per_run)
    if runs == 0 or any(len(t) == 0 for t in per_run):
        return Interval(None, None, None, "none")
    num = [np.asarray(t, dtype=float) for t in per_run]
    den = None if denominator is None else [np.asarray(t, dtype=float) for t in denominator]

    def stat(a: list[np.ndarray]) -> float:
        return float(np.mean([x.mean() for x in a]))

    top = stat(num)
    if den is not None:
        d = stat(den)
        top = None if d == 0 else top / d
    scheme = ("theorems" if runs == 1 else
              "seeds+theorems (shared)" if shared else "seeds+theorems (nested)")
    if runs == 1 and len(num[0]) < 2:
        return Interval(top, None, None, "none")
    rng = np.random.default_rng(seed)
    tables = [num] if den is None else [num, den]
    reps_out = _replicates(tables, runs, shared, rng, reps)
    values, dropped = reps_out[0], 0.0
    if den is not None:
        ok = reps_out[1] != 0
        dropped = 1 - float(ok.mean())
        if not ok.any():
            return Interval(top, None, None, scheme, dropped)
        values = values[ok] / reps_out[1][ok]
    lo, hi = _percentiles(values, level)
    return Interval(top, lo, hi, scheme, dropped)


def _aligned(runs: Sequence[Counts]) -> tuple[list[list[str]], bool]:
    """Theorem order per run, and whether every run has the same theorem set (crossed design)."""
    sets = [frozenset(r) for r in runs]
    if sets and all(s == sets[0] for s in sets):
        order = sorted(sets[0])
        return [order] * len(runs), True
    return [sorted(s) for s in sets], False


def counts_from_verdicts(rows: Iterable[tuple[str, str]]) -> dict[str, tuple[int, int]]:
    """Counts from (theorem_id, judge status) pairs of one round's ``eval`` attempts.

    The same rule as ``loop.metrics.heldout_metrics``: an ``error`` verdict was never judged
    and is left out of n; ``timeout`` is a failed proof. Theorems with no judged sample are
    left out.
    """
    out: dict[str, list[int]] = {}
    for tid, judge in rows:
        nc = out.setdefault(tid, [0, 0])
        if judge != "error":
            nc[0] += 1
            nc[1] += judge == "verified"
    return {t: (n, c) for t, (n, c) in out.items() if n > 0}


def _as_runs(counts: Counts | Sequence[Counts]) -> list[Counts]:
    return [counts] if isinstance(counts, Mapping) else list(counts)


# ---------------------------------------------------------------------------
# Held-out pass rates and the pass@k curve
# ---------------------------------------------------------------------------

def _per_theorem(runs: Sequence[Counts], orders: list[list[str]], f: Callable[[int, int], float]) -> list[list[float]]:
    return [[f(*run[t]) for t in order] for run, order in zip(runs, orders)]


def min_n(runs: Sequence[Counts]) -> int | None:
    return min((n for run in runs for n, _ in run.values()), default=None)


def pass_at_k_interval(counts: Counts | Sequence[Counts], k: int, *, reps: int = REPS, seed: int = 0,
                       level: float = LEVEL) -> Interval:
    """Mean pass@k over theorems (and seeds) with its interval; k must be <= every theorem's n."""
    runs = _as_runs(counts)
    orders, shared = _aligned(runs)
    values = _per_theorem(runs, orders, lambda n, c: pass_at_k(n, c, k))
    return bootstrap_mean(values, shared, reps=reps, seed=seed, level=level)


def pass_at_k_curve(counts: Counts | Sequence[Counts], ks: Sequence[int] | None = None, *, reps: int = REPS,
                    seed: int = 0, level: float = LEVEL) -> dict[int, Interval]:
    """pass@k with intervals for k = 1, 2, 4, ... up to n (the smallest n of any theorem), n included."""
    runs = _as_runs(counts)
    n = min_n(runs)
    if n is None:
        return {}
    ks = curve_ks(n) if ks is None else list(ks)
    return {k: pass_at_k_interval(runs, k, reps=reps, seed=seed, level=level) for k in ks}


def heldout_intervals(counts: Counts | Sequence[Counts], k: int, *, reps: int = REPS, seed: int = 0) -> dict:
    """``{"pass@1": [lo, hi], "pass@k": [lo, hi], "k": k_used}`` for the round table and summary.

    k is lowered to the smallest n, as ``loop.metrics.heldout_metrics`` does. Values are
    None where no interval can be formed.
    """
    runs = _as_runs(counts)
    n = min_n(runs)
    if n is None:
        return {"pass@1": None, "pass@k": None, "k": k}
    k_eff = min(k, n)
    p1 = pass_at_k_interval(runs, 1, reps=reps, seed=seed).as_dict()["ci95"]
    pk = pass_at_k_interval(runs, k_eff, reps=reps, seed=seed).as_dict()["ci95"]
    return {"pass@1": p1, "pass@k": pk, "k": k_eff}


# ---------------------------------------------------------------------------
# Sharpening against growth: a round against the base model
# ---------------------------------------------------------------------------

def vs_base(base: Counts | Sequence[Counts], now: Counts | Sequence[Counts], *, reps: int = REPS, seed: int = 0,
            level: float = LEVEL) -> dict:
    """``{"n", "theorems", "new", "lost", "sharpening"}`` of one round against the base model.

    ``base`` and ``now`` are counts of the same run(s), paired by position (seed s's base
    with seed s's round). Only theorems present in both are compared. ``n`` is the common
    sample count: the smallest n of any compared theorem in either. Each of new, lost and
    sharpening is ``{"value", "ci95"}`` (see the module docstring for the definitions).
    """
    bases, nows = _as_runs(base), _as_runs(now)
    if len(bases) != len(nows):
        raise ValueError(f"vs_base: {len(bases)} base runs but {len(nows)} round runs; pair them by seed")
    runs_b = [{t: b[t] for t in b if t in r} for b, r in zip(bases, nows)]
    runs_r = [{t: r[t] for t in b if t in r} for b, r in zip(bases, nows)]
    n = min([x for x in (min_n(runs_b), min_n(runs_r)) if x is not None], default=None)
    theorems = sum(len(r) for r in runs_r) / max(1, len(runs_r))
    empty = {"value": None, "ci95": None}
    if n is None or any(not r for r in runs_r):
        return {"n": n, "theorems": 0, "new": empty, "lost": empty, "sharpening": empty}
    orders, shared = _aligned(runs_r)
    solved_b = _per_theorem(runs_b, orders, lambda nn, c: pass_at_k(nn, c, n))
    solved_r = _per_theorem(runs_r, orders, lambda nn, c: pass_at_k(nn, c, n))
    new = [[r * (1 - b) for r, b in zip(rs, bs)] for rs, bs in zip(solved_r, solved_b)]
    lost = [[b * (1 - r) for r, b in zip(rs, bs)] for rs, bs in zip(solved_r, solved_b)]
    p1 = _per_theorem(runs_r, orders, lambda nn, c: c / nn)
    opts = dict(reps=reps, seed=seed, level=level)

    def count(values: list[list[float]]) -> dict:
        # a mean over theorems times the number of theorems: a count, with the count's interval
        iv = bootstrap_mean(values, shared, **opts)
        scale = theorems
        return {"value": iv.value * scale,
                "ci95": None if iv.lo is None else [iv.lo * scale, iv.hi * scale]}

    sharp = bootstrap_mean(p1, shared, denominator=solved_b, **opts)
    return {"n": n, "theorems": theorems, "new": count(new), "lost": count(lost), "sharpening": sharp.as_dict()}


def vs_base_by_round(per_round: Mapping[int, Counts | Sequence[Counts]], *, base_round: int = 0,
                     reps: int = REPS, seed: int = 0) -> dict[int, dict]:
    """``rounds[r].heldout.vs_base`` for every round: per_round maps round -> counts (or a list over seeds).

    The base is ``per_round[base_round]`` (round 0 evaluates the base model). Round 0 against
    itself has new = lost = 0 and sharpening = its own pass@1 / pass@n, the starting point.
    """
    if base_round not in per_round:
        raise ValueError(f"vs_base_by_round: no counts for the base round {base_round}")
    base = per_round[base_round]
    return {r: vs_base(base, counts, reps=reps, seed=seed) for r, counts in sorted(per_round.items())}


# ---------------------------------------------------------------------------
# Differences between two arms (what a claim's effect is)
# ---------------------------------------------------------------------------

def difference(a: Sequence[Sequence[float]], b: Sequence[Sequence[float]], *, reps: int = REPS, seed: int = 0,
               level: float = LEVEL) -> Interval:
    """mean(a) - mean(b) for two arms' per-theorem values, each a list over seeds of aligned lists.

    Both arms evaluate the same held-out theorems (frozen by id), so one theorem draw is
    shared by both arms in each replicate (a paired comparison); seeds are drawn
    independently per arm (each arm's runs are its own). Every run's list must be aligned
    on the same theorem order.
    """
    if not a or not b:
        return Interval(None, None, None, "none")
    width = {len(t) for t in list(a) + list(b)}
    if len(width) != 1:
        raise ValueError("difference: every run must list the same theorems in the same order")
    theorems = width.pop()
    A = np.asarray(a, dtype=float)
    B = np.asarray(b, dtype=float)
    top = float(A.mean() - B.mean())
    if theorems < 2 and len(a) < 2 and len(b) < 2:
        return Interval(top, None, None, "none")
    rng = np.random.default_rng(seed)
    th_w = _weights(rng, theorems, reps)
    wa = _weights(rng, len(a), reps) if len(a) > 1 else np.ones((reps, 1))
    wb = _weights(rng, len(b), reps) if len(b) > 1 else np.ones((reps, 1))
    ma = np.einsum("bs,st,bt->b", wa, A, th_w) / (len(a) * theorems)
    mb = np.einsum("bs,st,bt->b", wb, B, th_w) / (len(b) * theorems)
    lo, hi = _percentiles(ma - mb, level)
    return Interval(top, lo, hi, "arms: seeds per arm, theorems shared")
