"""An ablation's tables: one CSV row per run x round, the markdown table, the PNG plots (see loop.ablate)."""
from __future__ import annotations

import csv
import json
import statistics
from pathlib import Path
from typing import Any

from loop.config import flatten
from loop.config import load_config
from loop.summary import Forgetting, PoolStats, RoundSummary, load_rounds

ID_COLUMNS = ["arm", "group", "gate", "fp", "fn", "temperature", "seed"]
ID_KEYS = ("gate.kind", "gate.fp", "gate.fn", "sampling.temperature", "seed")  # the config keys behind them
METRIC_COLUMNS = [
    "heldout_pass@1", "heldout_greedy_pass@1", "heldout_pass@k", "heldout_k", "heldout_n", "heldout_theorems",
    "entropy", "unique_proofs_per_theorem", "distinct_1", "distinct_2",
    "admitted", "contamination", "false_admitted", "lockin_false_theorems", "lockin_false_theorems_still_produced",
    "lockin_reproduce_prob", "lockin_reproduce_rate", "forgotten", "gained",
    "pool_attempts", "pool_verified", "pool_theorems_proved", "pool_gate_admitted",
    "tokens_sampled", "proofs_checked", "proofs_verified", "verify_per_s",
    "seconds", "seconds_sample", "seconds_verify", "seconds_train", "seconds_eval",
]
FINAL_TABLE = ["heldout_pass@1", "heldout_greedy_pass@1", "heldout_pass@k", "entropy", "unique_proofs_per_theorem",
               "distinct_2", "contamination", "false_admitted", "lockin_false_theorems_still_produced",
               "lockin_reproduce_prob", "forgotten", "admitted", "seconds"]
PER_ROUND_TABLES = ["heldout_pass@1", "heldout_greedy_pass@1", "heldout_pass@k", "entropy",
                    "unique_proofs_per_theorem", "contamination", "lockin_reproduce_prob"]
PLOTS = [("heldout_pass@1", "held-out pass@1 (sampled)", "pass_at_1.png"),
         ("entropy", "policy entropy (nats/token, probe set)", "entropy.png"),
         ("unique_proofs_per_theorem", "unique held-out proofs per theorem", "unique_proofs.png"),
         ("contamination", "contamination (share of SFT set the judge rejects)", "contamination.png")]


def flatten_round(r: RoundSummary) -> dict[str, Any]:
    """One summary.json round -> the CSV's metric columns (absent fields become None)."""
    h, lock, cost = r.heldout, r.lockin, r.cost
    pool, forget = r.pool or PoolStats(), r.forgetting or Forgetting()
    row = {
        "heldout_pass@1": h.pass_at_1, "heldout_greedy_pass@1": h.greedy_pass_at_1,
        "heldout_pass@k": h.pass_at_k, "heldout_k": h.k, "heldout_n": h.n,
        "heldout_theorems": h.theorems, "entropy": h.entropy,
        "unique_proofs_per_theorem": h.unique_proofs_per_theorem,
        "distinct_1": h.distinct_1, "distinct_2": h.distinct_2,
        "admitted": r.admitted, "contamination": r.contamination,
        "false_admitted": lock.false_admitted, "lockin_false_theorems": lock.false_theorems,
        "lockin_false_theorems_still_produced": lock.false_theorems_still_produced,
        "lockin_reproduce_prob": lock.reproduce_prob, "lockin_reproduce_rate": lock.reproduce_rate,
        "forgotten": forget.lost, "gained": forget.gained,
        "pool_attempts": pool.attempts, "pool_verified": pool.verified,
        "pool_theorems_proved": pool.theorems_proved, "pool_gate_admitted": pool.gate_admitted,
        "tokens_sampled": cost.tokens_sampled, "proofs_checked": cost.proofs_checked,
        "proofs_verified": cost.proofs_verified,
        "verify_per_s": cost.verify_per_s, "seconds": r.seconds,
    }
    for stage in ("sample", "verify", "train", "eval"):
        row[f"seconds_{stage}"] = getattr(cost.seconds, stage)
    for k, v in sorted(h.curve().items()):
        row[f"heldout_curve@{k}"] = v
    return row


def collect_rows(out: Path) -> tuple[dict, list[dict], list[str]]:
    """(arms.json index, one row per run × round, arms without a summary)."""
    index = json.loads((out / "arms.json").read_text())
    rows, missing = [], []
    for arm in index["arms"]:
        cfg = load_config(out / "arms" / f"{arm['name']}.yaml")
        path = out / "runs" / arm["name"] / "summary.json"
        if not path.is_file():
            missing.append(arm["name"])
            continue
        summary = json.loads(path.read_text())
        ids = {"arm": arm["name"], "group": arm["group"], "gate": cfg.gate.kind, "fp": cfg.gate.fp,
               "fn": cfg.gate.fn, "temperature": cfg.sampling.temperature, "seed": cfg.seed}
        resolved = flatten(cfg.model_dump(mode="json"))
        extra = {k: resolved.get(k) for k in index["keys"] if k not in ID_KEYS}
        for r in sorted(load_rounds(summary.get("rounds", [])), key=lambda r: r.round):
            rows.append({**ids, **extra, "round": r.round, **flatten_round(r)})
    return index, rows, missing


def _mean_std(xs: list[float]) -> tuple[float, float | None]:
    return statistics.fmean(xs), (statistics.stdev(xs) if len(xs) > 1 else None)


def _cell(xs: list[float]) -> str:
    """mean ± std with decimals that suit the mean's size (0.412, 12.5, 312)."""
    if not xs:
        return "–"
    m, s = _mean_std(xs)
    a = abs(m)
    d = 0 if a >= 100 else 1 if a >= 10 else 3
    return f"{m:.{d}f}" if s is None else f"{m:.{d}f} ± {s:.{d}f}"


def _values(rows: list[dict], group: str, metric: str, rnd: int) -> list[float]:
    return [float(r[metric]) for r in rows
            if r["group"] == group and r["round"] == rnd and r.get(metric) is not None]


def _last_round(rows: list[dict], group: str, metric: str) -> int | None:
    rounds = [r["round"] for r in rows if r["group"] == group and r.get(metric) is not None]
    return max(rounds) if rounds else None


def write_report(out_dir: str | Path) -> dict[str, Path]:
    """(Re)build ablation.csv, ablation.md and the plots from the runs in ``out_dir``."""
    out = Path(out_dir)
    index, rows, missing = collect_rows(out)
    extra_cols = [k for k in index["keys"] if k not in ID_KEYS]
    curve_cols = sorted({c for r in rows for c in r if c.startswith("heldout_curve@")},
                        key=lambda c: int(c.split("@")[1]))
    columns = ID_COLUMNS + extra_cols + ["round"] + METRIC_COLUMNS + curve_cols
    paths = {"csv": out / "ablation.csv", "md": out / "ablation.md"}
    with paths["csv"].open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
        w.writeheader()
        for r in sorted(rows, key=lambda r: (r["arm"], r["round"])):
            w.writerow({c: ("" if r.get(c) is None else r[c]) for c in columns})
    groups = list(dict.fromkeys(a["group"] for a in index["arms"]))
    for metric, title, fname in PLOTS:
        paths[fname] = out / fname
        _plot(rows, groups, metric, title, paths[fname])
    paths["md"].write_text(_markdown(index, rows, groups, missing))
    return paths


def _markdown(index: dict, rows: list[dict], groups: list[str], missing: list[str]) -> str:
    seeds = {g: sorted({r["seed"] for r in rows if r["group"] == g}) for g in groups}
    rounds = sorted({r["round"] for r in rows})
    lines = [f"# Ablation `{index['name']}`", "",
             f"{len(index['arms'])} runs in {len(groups)} arms; rounds {rounds[0] if rounds else '-'}"
             f"..{rounds[-1] if rounds else '-'}. Every metric is measured by the judge on the frozen "
             "held-out set (or, for contamination and lock-in, on the training set). A cell is the mean "
             "± sample standard deviation over the arm's seeds (a single value when only one seed has it).", ""]
    if missing:
        lines += [f"**Runs without a summary (not finished or failed):** {', '.join(missing)}", ""]
    lines += ["## Final round", "",
              "Held-out metrics are those of the last round evaluated. Training-side metrics (contamination, "
              "admitted, ...) exist only for rounds that train, so their column shows the last round that has them.",
              ""]
    header = ["arm", "seeds"] + FINAL_TABLE
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for g in groups:
        cells = [g, ",".join(map(str, seeds[g])) or "–"]
        for metric in FINAL_TABLE:
            last = _last_round(rows, g, metric)
            cells.append("–" if last is None else _cell(_values(rows, g, metric, last)))
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "## Per round", ""]
    for metric in PER_ROUND_TABLES:
        lines += [f"### {metric}", "", "| arm | " + " | ".join(f"round {r}" for r in rounds) + " |",
                  "|---|" + "---|" * len(rounds)]
        for g in groups:
            lines.append(f"| {g} | " + " | ".join(_cell(_values(rows, g, metric, r)) for r in rounds) + " |")
        lines.append("")
    lines += ["## Plots", ""] + [f"![{title}]({fname})" for _, title, fname in PLOTS] + [""]
    lines += ["Columns are named as in `ablation.csv` (one row per run × round). `lockin_reproduce_prob` is the "
              "policy's probability of writing a wrongly admitted proof again; `false_admitted` counts the distinct "
              "judge-rejected proofs admitted so far; `forgotten` counts held-out theorems solved in the previous "
              "round and not in this one.", ""]
    return "\n".join(lines)


def _plot(rows: list[dict], groups: list[str], metric: str, title: str, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2))
    drawn = False
    for i, g in enumerate(groups):
        color = f"C{i % 10}"
        pts = [(r, _mean_std(xs)) for r in sorted({x["round"] for x in rows})
               if (xs := _values(rows, g, metric, r))]
        if not pts:
            continue
        xs = [r for r, _ in pts]
        means = [m for _, (m, _) in pts]
        stds = [s or 0.0 for _, (_, s) in pts]
        ax.plot(xs, means, marker="o", color=color, label=g)
        ax.fill_between(xs, [m - s for m, s in zip(means, stds)], [m + s for m, s in zip(means, stds)],
                        color=color, alpha=0.15, linewidth=0)
        if metric == "heldout_pass@1":
            # the ceiling a sound verifier should approach: round 0's pass@k, for the same arm
            ceiling = _values(rows, g, "heldout_pass@k", 0)
            if ceiling:
                ax.axhline(statistics.fmean(ceiling), color=color, linestyle=":", linewidth=1)
        drawn = True
    if not drawn:
        ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel("round")
    ax.set_ylabel(metric)
    ax.set_title(title + (" (dotted: round-0 pass@k)" if metric == "heldout_pass@1" else ""), fontsize=10)
    ax.xaxis.get_major_locator().set_params(integer=True)
    if drawn:
        ax.legend(fontsize=7, loc="best")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
