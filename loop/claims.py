"""Claims: published predictions, the arms that test them, the measured effect and a verdict.

``ratchet claims CONFIG`` runs the arms of a claims grid (``configs/claims.yaml``)
and writes ``claims.json``, ``claims.md`` and ``claims.png``. This module holds:

* ``CLAIMS``: the claims as data. Each names where it comes from, what it
  predicts, and its effect: a difference of two held-out measurements
  (``Measure``: an arm group, a round, a per-theorem value), with the sign the
  prediction expects. Each claim was written before any arm that tests it ran; nothing
  in it is tuned to a result.
* ``verdict``: the rule from an effect's 95% interval. Directional prediction:
  *supported* if the interval excludes 0 on the predicted side, *contradicted*
  if it excludes 0 on the other, else *inconclusive* (at this scale). A
  prediction of no effect ("neutral") cannot be supported by failing to find
  one: it is *supported* only if the whole interval lies inside its declared
  margin, *contradicted* if the interval excludes 0, else inconclusive.
* ``measure_claims``: effects from the arms' per-theorem held-out counts
  (``loop.stats``; bootstrap over theorems and seeds).
* ``write_claims``: claims.json / claims.md / claims.png.
* ``load_plan`` / ``run_claims``: the grid, run by the ablation runner.

The grid file
-------------
An ablation config split into blocks, so that each block chooses its own seeds
and evaluation size (the ablation format crosses every arm with one grid)::

    name: claims
    base_config: quickstart.yaml
    base: {...}                       # RunConfig overrides for every block
    arm_timeout_s: 3600
    blocks:
      largek:                         # a block is an ablation: base, arms, grid
        base: {eval.n: 256}
        arms: [{label: judge, gate.kind: judge}]
        grid: {seed: [0, 1]}
      stdlib:
        base_config: coq-stdlib.yaml  # a block may start from its own config (replaces the plan's)
        arms: [{label: judge, gate.kind: judge}]

Block B's arms run as the ablation ``OUT/blocks/B`` (resumable by arm, its own
ablation.md); every block's arms share one pool of ``--jobs`` slots
(``loop.ablate.run_ablations``), so the slots stay busy across blocks. An arm group is
referred to as ``B:GROUP`` (GROUP as the ablation names it: the label, or the
values without the seed).

Per-theorem values (``Measure.value``)
--------------------------------------
pass@1   c / n
pass@n   pass@n(n, c) with n the arm-round's smallest sample count: 1 if solved
gap      pass@n - pass@1: how much of what the policy can reach in n samples
         its single sample misses. Sharpening shrinks it, flattening grows it.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Sequence

from loop import stats
from loop.config import ConfigError, read_yaml_mapping
from loop.metrics import pass_at_k

VERDICTS = ("supported", "contradicted", "inconclusive")
PLAN_KEYS = ("name", "base_config", "base", "blocks", "arm_timeout_s")
BLOCK_KEYS = ("base_config", "base", "arms", "grid")

ArmCounts = list[dict[int, stats.Counts]]  # one entry per seed: round -> theorem id -> (n, c)


# ---------------------------------------------------------------------------
# The spec
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Measure:
    arm: str  # "block:group"
    round: int | str  # a round number, or "last" (the arm's last evaluated round)
    value: str  # "pass@1", "pass@n" or "gap"
    difficulty: int | None = None  # only held-out theorems of this difficulty (the depth family: depth)

    def describe(self) -> str:
        only = "" if self.difficulty is None else f" (difficulty {self.difficulty} only)"
        return f"{self.value} of {self.arm} at round {self.round}{only}"


@dataclass(frozen=True)
class Claim:
    id: str
    source: str
    prediction: str
    a: Measure
    b: Measure
    direction: int  # +1: effect = a - b > 0 predicted; -1: < 0; 0: no effect (needs margin to be supported)
    margin: float | None = None  # direction 0 only: |effect| below this counts as "no effect"

    @property
    def arms(self) -> list[str]:
        return list(dict.fromkeys([self.a.arm, self.b.arm]))

    def effect_text(self) -> str:
        return f"{self.a.describe()} - {self.b.describe()}"


def _c(id, source, prediction, a, b, direction, margin=None) -> Claim:
    return Claim(id, source, prediction, Measure(*a), Measure(*b), direction, margin)


def _depth(d: int, id, source, prediction, a, b, direction) -> Claim:
    return Claim(id, source, prediction, Measure(*a, difficulty=d), Measure(*b, difficulty=d), direction)


YUE = "Yue et al. 2025, 'Does RL really incentivize reasoning capacity beyond the base model?'"
LEASH = "Wu et al. 2025, 'The Invisible Leash: why RLVR may not escape its origin'"
GERST = "Gerstgrasser et al. 2024, 'Is model collapse inevitable?'"
SHUM = "Shumailov et al. 2024, 'AI models collapse when trained on recursively generated data'"
DESIGN = "docs/DESIGN.md, claims the framework should test"
STDLIB = ("issue 9 (the Coq standard library as a theorem source); two earlier runs at eval.n = 4 "
          "(docs/sources.md) went 0.002 -> 0.060 and 0.010 -> 0.058")
SELF = "self-distillation prediction (DESIGN.md; issue 14 item 2): neutral at T=1, sharpens below, flattens above"

CLAIMS: list[Claim] = [
    _c("sound-verifier-raises-pass1", DESIGN + "; the verifier ablation",
       "A sound verifier (gate = judge) raises held-out pass@1 over the rounds.",
       ("largek:judge", "last", "pass@1"), ("largek:judge", 0, "pass@1"), +1),
    _c("pass1-stays-below-base-passn", YUE,
       "The loop pulls the base's pass@n into pass@1 but not past it: the last round's pass@1 stays below the "
       "base model's pass@n at n = 256.",
       ("largek:judge", "last", "pass@1"), ("largek:judge", 0, "pass@n"), -1),
    _c("support-shrinks-at-large-k", f"{YUE}; {LEASH}",
       "At large k the base reaches more than the trained policy: the last round's pass@256 is below the base's.",
       ("largek:judge", "last", "pass@n"), ("largek:judge", 0, "pass@n"), -1),
    _c("composition-grows-past-base", "issue 14 item 6 (composition-depth family)",
       "Where depth d+1 composes steps of depth d, the loop reaches theorems the base never reaches: the last "
       "round's pass@256 on the depth family exceeds the base's.",
       ("depth:judge", "last", "pass@n"), ("depth:judge", 0, "pass@n"), +1),
    _depth(3, "composition-grows-past-base-depth3", "issue 14 item 6 (composition-depth family)",
           "The growth is where the base is weakest: on depth-3 statements the last round's pass@256 exceeds "
           "the base's.",
           ("depth:judge", "last", "pass@n"), ("depth:judge", 0, "pass@n"), +1),
    _c("selfdistill-neutral-at-T1", SELF,
       "Training on the policy's own raw samples at T = 1 leaves its sharpness unchanged: the pass@n - pass@1 "
       "gap moves by less than 0.05.",
       ("selfdistill:raw-T1.0", "last", "gap"), ("selfdistill:raw-T1.0", 0, "gap"), 0, margin=0.05),
    _c("selfdistill-sharpens-below-T1", SELF,
       "Raw self-distillation at T = 0.7 sharpens the policy: the pass@n - pass@1 gap shrinks.",
       ("selfdistill:raw-T0.7", "last", "gap"), ("selfdistill:raw-T0.7", 0, "gap"), -1),
    _c("selfdistill-flattens-above-T1", SELF,
       "Raw self-distillation at T = 1.3 flattens the policy: the pass@n - pass@1 gap grows.",
       ("selfdistill:raw-T1.3", "last", "gap"), ("selfdistill:raw-T1.3", 0, "gap"), +1),
    _c("replace-degrades", GERST,
       "With no gate, replacing the training data every round makes held-out pass@1 fall.",
       ("data:none-replace", "last", "pass@1"), ("data:none-replace", 0, "pass@1"), -1),
    _c("accumulate-beats-replace", GERST,
       "With no gate, accumulating data ends with a higher pass@1 than replacing it.",
       ("data:none-accumulate", "last", "pass@1"), ("data:none-replace", "last", "pass@1"), +1),
    _c("fresh-data-beats-replace", f"{GERST}; {SHUM}",
       "With no gate, mixing in fresh data (half of each round's set) ends with a higher pass@1 than replacing.",
       ("data:none-mix0.5", "last", "pass@1"), ("data:none-replace", "last", "pass@1"), +1),
    _c("fresh-data-beats-replace-noisy", f"{GERST}; {SHUM}",
       "Under a noisy gate (fp 0.3), mixing in fresh data ends with a higher pass@1 than replacing.",
       ("data:noisy-mix0.5", "last", "pass@1"), ("data:noisy-replace", "last", "pass@1"), +1),
    _c("noisy-gate-locks-in", DESIGN,
       "A gate that admits false proofs (fp 0.3) ends below the sound verifier in held-out pass@1.",
       ("data:noisy-accumulate", "last", "pass@1"), ("largek:judge", "last", "pass@1"), -1),
    _c("mild-noise-costs-less", DESIGN,
       "A gate with fp 0.1 ends below the sound verifier too (the dose-response of lock-in).",
       ("data:noisy0.1-accumulate", "last", "pass@1"), ("largek:judge", "last", "pass@1"), -1),
    _c("long-horizon-decline", DESIGN + "; issue 14 item 4",
       "Over ten rounds a noisy gate (fp 0.3) makes true pass@1 fall after its peak: round 10 below round 3.",
       ("long:noisy0.3", 10, "pass@1"), ("long:noisy0.3", 3, "pass@1"), -1),
    _c("long-horizon-decline-mild-noise", DESIGN + "; issue 14 item 4",
       "A gate with fp 0.1 locks errors in more slowly, but over ten rounds true pass@1 falls too: round 10 "
       "below round 3.",
       ("long:noisy0.1", 10, "pass@1"), ("long:noisy0.1", 3, "pass@1"), -1),
    _c("long-horizon-decline-no-gate", f"{SHUM}; issue 14 item 4",
       "With no gate at all, ten rounds of training on its own unchecked output make true pass@1 fall: round 10 "
       "below round 3.",
       ("long:none", 10, "pass@1"), ("long:none", 3, "pass@1"), -1),
    _c("long-horizon-judge-plateaus", "the verifier ablation (pass@1 flattens after two rounds); issue 14 item 4",
       "Under the sound verifier the loop sharpens and then holds: true pass@1 at round 10 is within 0.05 of "
       "round 3 (neither a further climb nor a decline).",
       ("long:judge", 10, "pass@1"), ("long:judge", 3, "pass@1"), 0, margin=0.05),
    _c("bigger-model-more-headroom", "issue 14 item 5",
       "A bigger base model has more room before it saturates: under the judge its last-round pass@1 is higher.",
       ("size:large", "last", "pass@1"), ("size:small", "last", "pass@1"), +1),
    _c("bigger-model-reaches-more", "issue 14 item 5",
       "A bigger base model reaches more: under the judge its last-round pass@n is higher.",
       ("size:large", "last", "pass@n"), ("size:small", "last", "pass@n"), +1),
    _c("stdlib-judge-raises-pass1", STDLIB,
       "On real theorems (Coq standard-library lemmas, each in its own file's context) the sound verifier "
       "raises held-out pass@1 over the rounds.",
       ("stdlib:judge", "last", "pass@1"), ("stdlib:judge", 0, "pass@1"), +1),
    _c("stdlib-support-shrinks", f"{YUE}; {LEASH}; on real theorems",
       "On real theorems too, the trained policy reaches no more than the base: the last round's pass@n is "
       "not above the base's (predicted below).",
       ("stdlib:judge", "last", "pass@n"), ("stdlib:judge", 0, "pass@n"), -1),
]


def verdict(ci95: Sequence[float] | None, direction: int, margin: float | None = None) -> str:
    """supported / contradicted / inconclusive from an effect's interval (see the module docstring)."""
    if ci95 is None:
        return "inconclusive"
    lo, hi = ci95
    if lo > hi:
        raise ValueError(f"verdict: interval [{lo}, {hi}] is reversed")
    excludes_zero = lo > 0 or hi < 0
    if direction == 0:
        if margin is not None and -margin <= lo and hi <= margin:
            return "supported"
        return "contradicted" if excludes_zero else "inconclusive"
    if direction not in (1, -1):
        raise ValueError(f"verdict: direction must be +1, -1 or 0, got {direction}")
    if (lo > 0 and direction > 0) or (hi < 0 and direction < 0):
        return "supported"
    return "contradicted" if excludes_zero else "inconclusive"


# ---------------------------------------------------------------------------
# Effects from per-theorem counts
# ---------------------------------------------------------------------------

def _round_of(runs: ArmCounts, round_: int | str) -> int | None:
    if round_ != "last":
        return int(round_)
    common = set.intersection(*(set(r) for r in runs)) if runs else set()
    return max(common) if common else None


def _value_fn(value: str, n: int) -> Callable[[int, int], float]:
    if value == "pass@1":
        return lambda nn, c: c / nn
    if value == "pass@n":
        return lambda nn, c: pass_at_k(nn, c, n)
    if value == "gap":
        return lambda nn, c: pass_at_k(nn, c, n) - c / nn
    raise ValueError(f"unknown measure value {value!r} (pass@1, pass@n, gap)")


def _values(runs: ArmCounts, m: Measure, order: list[str]) -> tuple[list[list[float]], int]:
    r = _round_of(runs, m.round)
    counts = [run[r] for run in runs]
    n = min(nn for c in counts for t in order for nn, _ in [c[t]])
    f = _value_fn(m.value, n)
    return [[f(*c[t]) for t in order] for c in counts], r


def measure_claim(claim: Claim, arms: Mapping[str, ArmCounts], *, reps: int = stats.REPS, seed: int = 0,
                  difficulty: Mapping[str, int] | None = None) -> dict:
    """One claims.json entry: the spec, the effect with its interval, the verdict and what they rest on.

    ``difficulty`` (theorem id -> difficulty) is needed by measures restricted to one difficulty.
    """
    out = {"id": claim.id, "source": claim.source, "prediction": claim.prediction, "arms": claim.arms,
           "effect": None, "ci95": None, "verdict": "inconclusive", "measured": claim.effect_text(),
           "direction": {1: "positive", -1: "negative", 0: "none"}[claim.direction]}
    if claim.margin is not None:
        out["margin"] = claim.margin
    missing = [a for a in claim.arms if not arms.get(a)]
    if missing:
        out["note"] = f"not measured: no finished runs of {', '.join(missing)}"
        return out
    ra, rb = arms[claim.a.arm], arms[claim.b.arm]
    rounds = {m: _round_of(arms[m.arm], m.round) for m in (claim.a, claim.b)}
    absent = [m.describe() for m, r in rounds.items() if r is None or any(r not in run for run in arms[m.arm])]
    if absent:
        out["note"] = f"not measured: no counts for {'; '.join(absent)}"
        return out
    # the theorems every run of both sides evaluated (the frozen held-out set: all of them, normally)
    sets = [set(run[rounds[m]]) for m in (claim.a, claim.b) for run in arms[m.arm]]
    order = sorted(set.intersection(*sets))
    wanted = {m.difficulty for m in (claim.a, claim.b)} - {None}
    if wanted:
        if len(wanted) > 1 or difficulty is None:
            raise ValueError(f"claim {claim.id}: a difficulty subset needs one difficulty and the theorems' "
                             f"difficulties")
        d = wanted.pop()
        order = [t for t in order if difficulty.get(t) == d]
    if not order:
        out["note"] = "not measured: the two sides share no held-out theorem"
        return out
    va, round_a = _values(ra, claim.a, order)
    vb, round_b = _values(rb, claim.b, order)
    if claim.a.arm == claim.b.arm:
        # the same runs at two rounds (or values): paired by seed and by theorem
        diffs = [[x - y for x, y in zip(sa, sb)] for sa, sb in zip(va, vb)]
        iv = stats.bootstrap_mean(diffs, shared=True, reps=reps, seed=seed)
    else:
        iv = stats.difference(va, vb, reps=reps, seed=seed)
    mean = lambda v: sum(map(sum, v)) / (len(v) * len(order))  # noqa: E731
    out.update(effect=iv.value, ci95=None if iv.lo is None else [iv.lo, iv.hi],
               verdict=verdict(None if iv.lo is None else (iv.lo, iv.hi), claim.direction, claim.margin),
               sides={"a": {"arm": claim.a.arm, "round": round_a, "value": claim.a.value, "mean": mean(va),
                            "seeds": len(va)},
                      "b": {"arm": claim.b.arm, "round": round_b, "value": claim.b.value, "mean": mean(vb),
                            "seeds": len(vb)}},
               theorems=len(order), interval=iv.scheme)
    return out


def measure_claims(arms: Mapping[str, ArmCounts], claims: Sequence[Claim] = CLAIMS, *, reps: int = stats.REPS,
                   seed: int = 0, difficulty: Mapping[str, int] | None = None) -> list[dict]:
    return [measure_claim(c, arms, reps=reps, seed=seed, difficulty=difficulty) for c in claims]


# ---------------------------------------------------------------------------
# claims.json, claims.md, claims.png
# ---------------------------------------------------------------------------

def _num(x: float | None) -> str:
    return "–" if x is None else f"{x:+.3f}"


def claims_markdown(results: Sequence[dict], title: str = "Claims") -> str:
    lines = [f"# {title}", "",
             "Each effect is a difference of held-out measurements made by the judge, with a 95% percentile "
             "bootstrap interval over theorems and seeds (loop/stats.py). Verdict rule: supported if the "
             "interval excludes 0 on the predicted side, contradicted if it excludes 0 on the other side, "
             "inconclusive otherwise; a prediction of no effect is supported only if the whole interval lies "
             "inside its declared margin. Verdicts hold at this scale only.", "",
             "| claim | predicted | effect | 95% interval | verdict |", "|---|---|---|---|---|"]
    for r in results:
        ci = "–" if r["ci95"] is None else f"[{r['ci95'][0]:+.3f}, {r['ci95'][1]:+.3f}]"
        pred = {"positive": "> 0", "negative": "< 0", "none": f"|·| < {r.get('margin')}"}[r["direction"]]
        lines.append(f"| {r['id']} | {pred} | {_num(r['effect'])} | {ci} | {r['verdict']} |")
    lines += ["", "![effects with 95% intervals](claims.png)", ""]
    for r in results:
        lines += [f"## {r['id']}", "", f"*Source:* {r['source']}", "", f"*Prediction:* {r['prediction']}", "",
                  f"*Arms:* {', '.join(r['arms'])}. *Effect:* {r['measured']}."]
        if "sides" in r:
            a, b = r["sides"]["a"], r["sides"]["b"]
            lines += ["", f"Measured on {r['theorems']} held-out theorems: {a['value']} = {a['mean']:.3f} "
                          f"({a['arm']}, round {a['round']}, {a['seeds']} seed(s)) against {b['value']} = "
                          f"{b['mean']:.3f} ({b['arm']}, round {b['round']}, {b['seeds']} seed(s)); effect "
                          f"{_num(r['effect'])}, interval "
                          f"{'–' if r['ci95'] is None else '[%+.3f, %+.3f]' % tuple(r['ci95'])} "
                          f"({r['interval']}). **{r['verdict']}**."]
        if r.get("note"):
            lines += ["", f"**{r['verdict']}**: {r['note']}."]
        lines.append("")
    return "\n".join(lines)


def _plot(results: Sequence[dict], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.5, 0.4 * len(results) + 1.2))
    colors = {"supported": "C2", "contradicted": "C3", "inconclusive": "C7"}
    for i, r in enumerate(results):
        y = len(results) - 1 - i
        if r["effect"] is None:
            ax.text(0, y, "not measured", ha="center", va="center", fontsize=7, color="C7")
            continue
        lo, hi = r["ci95"] or (r["effect"], r["effect"])
        ax.plot([lo, hi], [y, y], color=colors[r["verdict"]], linewidth=2)
        ax.plot([r["effect"]], [y], "o", color=colors[r["verdict"]])
    ax.axvline(0, color="k", linewidth=0.8)
    ax.set_yticks(range(len(results)), [r["id"] for r in reversed(results)], fontsize=7)
    ax.set_xlabel("effect (95% interval); green supported, red contradicted, grey inconclusive", fontsize=8)
    ax.grid(alpha=0.3, axis="x")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_claims(out_dir: str | Path, results: Sequence[dict], title: str = "Claims") -> dict[str, Path]:
    """claims.json ({"claims": [...]}), claims.md and claims.png in ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for r in results:
        if r["verdict"] not in VERDICTS:
            raise ValueError(f"claim {r['id']}: verdict {r['verdict']!r} is not one of {VERDICTS}")
    paths = {"json": out / "claims.json", "md": out / "claims.md", "png": out / "claims.png"}
    paths["json"].write_text(json.dumps({"claims": list(results)}, indent=2) + "\n")
    paths["md"].write_text(claims_markdown(results, title))
    _plot(results, paths["png"])
    return paths


# ---------------------------------------------------------------------------
# The grid: blocks of ablations, run by the ablation runner
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Plan:
    name: str
    blocks: dict[str, dict]  # block name -> an ablation config (as loaded from YAML)
    base_dir: Path


def load_plan(path: str | Path) -> Plan:
    """Read a claims grid; every block is checked as an ablation (arms expanded and validated)."""
    from loop.ablate import build_ablation

    p = Path(path)
    data = read_yaml_mapping(p, what="claims config")
    unknown = [k for k in data if k not in PLAN_KEYS]
    if unknown:
        raise ConfigError(f"{p}: {unknown[0]}: unknown key (allowed: {', '.join(PLAN_KEYS)})")
    blocks = data.get("blocks")
    if not isinstance(blocks, dict) or not blocks:
        raise ConfigError(f"{p}: blocks: expected a mapping of block name -> {{base, arms, grid}}")
    out = {}
    for name, block in blocks.items():
        if not isinstance(block, dict):
            raise ConfigError(f"{p}: blocks.{name}: expected a mapping with {', '.join(BLOCK_KEYS)}")
        bad = [k for k in block if k not in BLOCK_KEYS]
        if bad:
            raise ConfigError(f"{p}: blocks.{name}.{bad[0]}: unknown key (allowed: {', '.join(BLOCK_KEYS)})")
        ablation = {"name": name, "base": {**_flat(data.get("base") or {}), **_flat(block.get("base") or {})}}
        for key in ("base_config", "arm_timeout_s"):
            if data.get(key) is not None:
                ablation[key] = data[key]
        if block.get("base_config") is not None:  # a block may start from its own config (another source)
            ablation["base_config"] = block["base_config"]
        for key in ("arms", "grid"):
            if block.get(key) is not None:
                ablation[key] = block[key]
        build_ablation(ablation, p.parent, f"{p}: blocks.{name}", default_name=name)  # fails loudly, naming the key
        out[name] = ablation
    return Plan(name=data.get("name") or p.stem, blocks=out, base_dir=p.parent)


def _flat(d: dict) -> dict:
    from loop.config import flatten
    return flatten(d)


def block_yaml(plan: Plan, block: str) -> str:
    """The block as a standalone ablation YAML (base_config made absolute, so it loads from anywhere)."""
    import yaml

    data = dict(plan.blocks[block])
    if data.get("base_config") is not None and not Path(data["base_config"]).is_absolute():
        data["base_config"] = str((plan.base_dir / data["base_config"]).resolve())
    return yaml.safe_dump(data, sort_keys=False)


def arm_counts(run_dir: Path, difficulty: dict[str, int] | None = None) -> dict[int, stats.Counts]:
    """round -> held-out counts of one finished run, from its store (phase ``eval``).

    Fills ``difficulty`` (theorem id -> difficulty) for the theorems it saw, when given.
    """
    from loop.store import Store

    store = Store(run_dir / "run.db")
    try:
        summary = json.loads((run_dir / "summary.json").read_text())
        rounds = sorted(r["round"] for r in summary.get("rounds", []))
        out = {r: stats.counts_from_verdicts(store.eval_verdicts(r)) for r in rounds}
        if difficulty is not None:
            for t in {t for c in out.values() for t in c} - set(difficulty):
                row = store.theorem(t)
                if row is not None:
                    difficulty[t] = row["difficulty"]
        return out
    finally:
        store.close()


def collect_arms(out_dir: Path) -> tuple[dict[str, ArmCounts], dict[str, int]]:
    """("block:group" -> per-seed round counts, theorem id -> difficulty) for every arm with a summary."""
    arms: dict[str, ArmCounts] = {}
    difficulty: dict[str, int] = {}
    for index_path in sorted((out_dir / "blocks").glob("*/arms.json")):
        block = index_path.parent.name
        index = json.loads(index_path.read_text())
        for arm in index["arms"]:
            run_dir = index_path.parent / "runs" / arm["name"]
            if (run_dir / "summary.json").is_file() and (run_dir / "run.db").is_file():
                arms.setdefault(f"{block}:{arm['group']}", []).append(arm_counts(run_dir, difficulty))
    return arms, difficulty


def run_claims(config: str | Path, out_dir: str | Path, jobs: int = 1, resume: bool = False,
               report_only: bool = False, echo: Callable[[str], None] = print, run_fn=None,
               claims: Sequence[Claim] = CLAIMS) -> dict:
    """Run every block's arms with the ablation runner, then write the claims report.

    All blocks' arms share one pool of ``jobs`` slots (``loop.ablate.run_ablations``), so a block
    whose last arm leaves a slot idle hands it to the next block's first arm.

    Returns {"paths": ..., "failed": [arm names], "results": [...]}. ``run_fn`` is the ablation
    runner's in-process hook (tests); by default each arm is its own process.
    """
    from loop.ablate import run_ablations

    plan = load_plan(config)
    out = Path(out_dir)
    failed: list[str] = []
    if not report_only:
        (out / "blocks").mkdir(parents=True, exist_ok=True)
        for block in plan.blocks:
            (out / "blocks" / f"{block}.yaml").write_text(block_yaml(plan, block))
        results = run_ablations([(out / "blocks" / f"{b}.yaml", out / "blocks" / b) for b in plan.blocks], jobs=jobs,
                                resume=resume, run_fn=run_fn, echo=echo)
        failed += [o.arm for result in results for o in result.failed]
    arms, difficulty = collect_arms(out)
    results = measure_claims(arms, claims, difficulty=difficulty)
    paths = write_claims(out, results, title=f"Claims `{plan.name}`")
    return {"paths": paths, "failed": failed, "results": results}
