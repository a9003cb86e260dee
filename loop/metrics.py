"""Per-round metrics, computed from the run store by the judge. Pure: no model, no prover.

Every function reads the store and returns plain data whose field names are
those of ``summary.json`` (see the run-directory contract). Definitions:

Judged vs not judged. A judge ``error`` means the proof was never judged (the
prover broke). Held-out samples with an error verdict are left out of the
pass@ denominators (``judge_errors`` counts them); ``timeout`` counts as a
failed proof. Elsewhere "judge-rejected" means "judge verdict is not verified".

pass@k (held-out, phase ``eval``): per theorem with n judged samples of which c
verified, the unbiased estimator 1 - C(n-c, k)/C(n, k), averaged over theorems.
``pass@1`` is therefore the mean of c/n. ``greedy_pass@1`` is the share of
theorems whose greedy (phase ``greedy``) proof is verified.

Diversity (held-out ``eval`` samples, all of them, whatever the verdict):
``unique_proofs_per_theorem`` is the mean number of distinct proofs per theorem
after whitespace normalisation (``loop.selection.normalize``, the same key the
selection dedups on). ``distinct_n`` is, per theorem, the number of distinct
word n-grams over that theorem's samples divided by the number of n-grams
(words split on whitespace, n-grams never cross two samples), averaged over
theorems that have at least one n-gram. Per theorem, so that it measures how
varied the policy is on one prompt, not how varied the theorems are.

Admitted rows link to the attempt they came from via ``attempt_id``; rows with
a NULL ``attempt_id`` (warm-start data added by the ``mix`` selection mode) are reference
proofs and count as clean. A row whose attempt is missing from the store counts
as not verified (nothing shows it is).
"""
from __future__ import annotations

import math
from collections import defaultdict
from typing import Callable, Iterable, Sequence

from loop import stats
from loop.selection import normalize
from loop.stats import curve_ks, pass_at_k  # one copy, in stats; re-exported here
from loop.store import HELDOUT_PHASES, Phase, Store

LogprobFn = Callable[[list[str], list[str]], Sequence[float]]


# ---------------------------------------------------------------------------
# pass@k
# ---------------------------------------------------------------------------

def pass_at_k_curve(counts: Sequence[tuple[int, int]], ks: Iterable[int] | None = None) -> dict[int, float]:
    """Mean over theorems of pass@k for each k; counts are (n, c) per theorem.

    ks defaults to ``curve_ks`` of the smallest n. A k above some theorem's n is an error.
    """
    if not counts:
        return {}
    ks = curve_ks(min(n for n, _ in counts)) if ks is None else list(ks)
    return {k: sum(pass_at_k(n, c, k) for n, c in counts) / len(counts) for k in ks}


# ---------------------------------------------------------------------------
# Held-out metrics
# ---------------------------------------------------------------------------

def distinct_n(samples: Sequence[str], n: int) -> tuple[int, int]:
    """(distinct n-grams, total n-grams) over whitespace words; n-grams stay inside one sample."""
    grams = []
    for s in samples:
        words = s.split()
        grams.extend(tuple(words[i:i + n]) for i in range(len(words) - n + 1))
    return len(set(grams)), len(grams)


def _mean(xs: Sequence[float]) -> float | None:
    return sum(xs) / len(xs) if xs else None


def _sampled_block(counts: dict[str, tuple[int, int]], greedy: dict[str, bool], k: int) -> dict:
    """pass@1, greedy_pass@1 and pass@k over one set of theorems (all, or one family)."""
    judged = list(counts.values())
    k_eff = min([k] + [n for n, _ in judged]) if judged else k
    return {"pass@1": _mean([c / n for n, c in judged]),
            "greedy_pass@1": _mean([float(v) for v in greedy.values()]),
            "pass@k": _mean([pass_at_k(n, c, k_eff) for n, c in judged]),
            "k": k_eff}


def heldout_metrics(store: Store, round: int, k: int) -> dict:
    """The ``heldout`` block of one round, from attempts with phase ``eval`` and ``greedy``.

    ``k`` is the configured pass@k; if some theorem has fewer than k judged samples,
    the k reported (``"k"``) is that smaller number. ``n`` is the smallest number of
    judged samples per theorem; the curve runs over ``curve_ks(n)``. ``entropy`` is
    left None: it is model-side, the caller fills it in. Every value is None when the
    round has no held-out attempts. ``ci95`` holds the 95% bootstrap intervals of pass@1 and
    pass@k over theorems (``loop.stats.heldout_intervals``) and ``pass@k_curve_ci95`` the
    curve's, k by k; an interval is None where fewer than two theorems were judged.
    """
    rows = store.heldout_attempts(round)
    family: dict[str, str] = {}
    samples: dict[str, list[str]] = defaultdict(list)  # eval proofs, every verdict
    counts: dict[str, list[int]] = {}  # eval: [judged, verified]
    greedy: dict[str, bool] = {}
    errors = 0
    for r in rows:
        tid = r["theorem_id"]
        family[tid] = r["family"]
        if r["judge"] == "error":
            errors += 1
        if r["phase"] == "greedy":
            if r["judge"] != "error":
                # one greedy sample per theorem; should there be more, any verified one counts
                greedy[tid] = greedy.get(tid, False) or r["judge"] == "verified"
            continue
        samples[tid].append(r["proof"])
        nc = counts.setdefault(tid, [0, 0])
        if r["judge"] != "error":
            nc[0] += 1
            nc[1] += r["judge"] == "verified"
    judged = {t: (n, c) for t, (n, c) in counts.items() if n > 0}
    block = _sampled_block(judged, greedy, k)
    n_min = min((n for n, _ in judged.values()), default=None)
    curve = pass_at_k_curve(list(judged.values())) if judged else {}
    uniq = [len({normalize(p) for p in ps}) for ps in samples.values()]
    out = {"pass@1": block["pass@1"], "greedy_pass@1": block["greedy_pass@1"], "pass@k": block["pass@k"],
           "k": block["k"], "n": n_min, "pass@k_curve": {str(kk): v for kk, v in curve.items()},
           "theorems": len(family), "judge_errors": errors,
           "unique_proofs_per_theorem": _mean(uniq)}
    for size in (1, 2):
        ratios = [d / t for d, t in (distinct_n(ps, size) for ps in samples.values()) if t > 0]
        out[f"distinct_{size}"] = _mean(ratios)
    out["entropy"] = None
    per_family = {}
    for fam in sorted(set(family.values())):
        members = {t for t, f in family.items() if f == fam}
        fb = _sampled_block({t: v for t, v in judged.items() if t in members},
                            {t: v for t, v in greedy.items() if t in members}, k)
        per_family[fam] = {"pass@1": fb["pass@1"], "greedy_pass@1": fb["greedy_pass@1"],
                           "pass@k": fb["pass@k"], "theorems": len(members)}
    out["per_family"] = per_family
    # 95% bootstrap intervals over theorems (loop.stats), new keys beside the point values
    out["ci95"] = stats.heldout_intervals(judged, k)
    out["pass@k_curve_ci95"] = {str(kk): iv.as_dict()["ci95"] for kk, iv in stats.pass_at_k_curve(judged).items()}
    return out


def heldout_counts(store: Store, round: int) -> dict[str, tuple[int, int]]:
    """theorem id -> (judged eval samples, verified) in a round: the counts ``loop.stats`` works on."""
    return stats.counts_from_verdicts(store.eval_verdicts(round))


def vs_base(store: Store, round: int, base_round: int = 0) -> dict:
    """``heldout.vs_base`` of a round: new, lost and sharpening against the base model's eval samples.

    The base is round ``base_round`` (round 0 evaluates the base model); see ``loop.stats.vs_base``
    for the definitions and intervals. Round 0 against itself has new = lost = 0 and sharpening
    = its own pass@1 / pass@n, the starting point.
    """
    base = heldout_counts(store, base_round)
    return stats.vs_base(base, base if round == base_round else heldout_counts(store, round))


# ---------------------------------------------------------------------------
# Training pool, contamination, lock-in, forgetting
# ---------------------------------------------------------------------------

def pool_stats(store: Store, round: int) -> dict:
    """What the round's training-pool sampling produced (phase ``train``).

    attempts, verified (judge), theorems_proved (judge), gate_admitted (gate said
    verified, before selection's dedup and cap), false_admits (gate admitted,
    judge did not verify), judge_errors, and canary_gate_admitted (gate-admitted
    samples of planted false statements; 0 when there are no canaries).
    """
    return store.pool_counts(round)


def _is_wrong(row) -> bool:
    """An admitted row is wrong when it came from a sample the judge did not verify."""
    return row["attempt_id"] is not None and row["judge"] != "verified"


def contamination(store: Store, round: int) -> float | None:
    """Share of this round's admitted set (the SFT set that trains the next policy) the judge rejects.

    Weighted by ``copies``: a text admitted 3 times (``select.mode: raw``) is 3 training examples,
    so it counts 3 times, as it weighs in training (the judge's verdict of one text is the same for
    every copy: verdicts are cached by theorem and normalised proof). Other modes have one copy
    per row. None when the set is empty.
    """
    rows = store.admitted_with_verdicts(round, round)
    if not rows:
        return None
    return sum(_is_wrong(r) * r["copies"] for r in rows) / sum(r["copies"] for r in rows)


def _wrong_proofs(store: Store, last_round: int) -> dict[tuple[str, str], str]:
    """Distinct wrongly admitted proofs of rounds <= last_round: (theorem_id, normalized proof) -> the proof
    text as admitted."""
    out: dict[tuple[str, str], str] = {}
    for r in store.admitted_with_verdicts(None, last_round):
        if _is_wrong(r):
            out.setdefault((r["theorem_id"], normalize(r["proof"])), r["proof"])
    return out


def lockin(store: Store, round: int, logprob_fn: LogprobFn | None = None) -> dict:
    """Whether errors that entered training stay in the policy.

    ``false_admitted``: number of distinct (theorem, proof after whitespace
    normalisation) pairs in the admitted sets of rounds <= ``round`` that the judge
    rejects. Cumulative.

    The rest looks at the proofs the policy of this round was trained on, i.e. the
    wrongly admitted proofs of rounds < ``round`` (W below; empty in round 0):

    ``false_theorems``: number of distinct theorems in W.
    ``false_theorems_still_produced``: how many of those theorems got, among this
    round's training-pool samples (phase ``train``), at least one proof the judge
    did not verify and that either the gate admitted or is identical (after
    normalisation) to a wrongly admitted proof of that theorem in W; None in a
    round that sampled no training pool (the last round only evaluates).
    ``reproduce_rate``: the empirical reproduction rate: for each proof in W, the
    share of this round's ``train`` samples of its theorem that are identical to it
    (after normalisation), averaged over W; proofs whose theorem was not sampled
    this round are left out; None when nothing is left.
    ``reproduce_prob``: the mean over W of exp(logprob_fn(theorem_ids, proofs)),
    i.e. the current policy's probability of writing each wrongly admitted proof
    exactly as admitted, when ``logprob_fn`` is given (its log-probabilities are
    whatever the caller computes, normally the policy's own distribution at T=1);
    otherwise ``reproduce_rate``. ``reproduce_source`` says which ("model" or
    "samples"); None when W is empty.
    """
    false_admitted = len(_wrong_proofs(store, round))
    wrong = _wrong_proofs(store, round - 1)
    by_theorem: dict[str, set[str]] = defaultdict(set)
    for tid, norm in wrong:
        by_theorem[tid].add(norm)
    samples: dict[str, list] = defaultdict(list)
    for r in store.attempts(round, Phase.TRAIN.value):
        if r["theorem_id"] in by_theorem:
            samples[r["theorem_id"]].append((normalize(r["proof"]), r["judge"], r["gate"]))
    # A round that samples no training pool (the last one only evaluates) cannot say: None, not 0.
    sampled_pool = store.has_attempts(round, Phase.TRAIN.value)
    still = sum(
        any(judge != "verified" and (gate == "verified" or norm in by_theorem[tid]) for norm, judge, gate in ss)
        for tid, ss in samples.items()) if sampled_pool else None
    rates = [sum(norm == s[0] for s in samples[tid]) / len(samples[tid])
             for tid, norm in wrong if samples.get(tid)]
    rate = _mean(rates)
    out = {"false_admitted": false_admitted, "false_theorems": len(by_theorem),
           "false_theorems_still_produced": still, "reproduce_rate": rate,
           "reproduce_prob": None, "reproduce_source": None}
    if not wrong:
        return out
    if logprob_fn is not None:
        keys = list(wrong)
        logprobs = list(logprob_fn([tid for tid, _ in keys], [wrong[key] for key in keys]))
        if len(logprobs) != len(keys):
            raise ValueError(f"logprob_fn returned {len(logprobs)} values for {len(keys)} proofs")
        out["reproduce_prob"] = sum(math.exp(lp) for lp in logprobs) / len(logprobs)
        out["reproduce_source"] = "model"
    elif rate is not None:
        out["reproduce_prob"] = rate
        out["reproduce_source"] = "samples"
    return out


def solved_heldout(store: Store, round: int) -> tuple[set[str], set[str]]:
    """(theorems evaluated, theorems solved) in a round: solved = any eval or greedy sample verified."""
    return store.proved_theorems(round, [p.value for p in HELDOUT_PHASES])


def forgetting(store: Store, round: int) -> dict | None:
    """Held-out theorems solved in round-1 and not in round (lost), and the reverse (gained).

    Only theorems evaluated in both rounds count. None in round 0 (nothing to compare with).
    """
    if round <= 0:
        return None
    seen_prev, prev = solved_heldout(store, round - 1)
    seen_now, now = solved_heldout(store, round)
    both = seen_prev & seen_now
    return {"lost": len((prev - now) & both), "gained": len((now - prev) & both)}
