"""Held-out pass@k curves and vs-base comparisons with 95% intervals, read from a run directory.

    python -m loop.heldout_report RUN_DIR [--by-difficulty] [--json OUT.json]

summary.json carries the same numbers for the whole held-out set (``heldout.ci95``,
``heldout.pass@k_curve_ci95``, ``heldout.vs_base``); this reads them again from any
run's store, also for runs written before they existed, and per difficulty: per round,
pass@1 and pass@n with intervals, the curve up to k = n, and new / lost / sharpening
against round 0 (the base model). Reads the store through ``Store.eval_verdicts``;
computes with ``loop.stats``; writes nothing into the run.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from loop import stats
from loop.store import Store


def read_counts(run_dir: Path) -> tuple[dict[int, stats.Counts], dict[str, int]]:
    """(round -> held-out counts for every round with eval attempts, theorem id -> difficulty)."""
    store = Store(run_dir / "run.db")
    try:
        counts = {r: stats.counts_from_verdicts(store.eval_verdicts(r)) for r in store.eval_rounds()}
        ids = {t for c in counts.values() for t in c}
        difficulty = {t: store.theorem(t)["difficulty"] for t in ids}
        return counts, difficulty
    finally:
        store.close()


def report(counts: dict[int, stats.Counts], *, reps: int = stats.REPS, seed: int = 0) -> dict:
    """{round: {"pass@k_curve": {k: {"value", "ci95"}}, "vs_base": {...}}} against the first round."""
    if not counts:
        return {}
    base = min(counts)
    vb = stats.vs_base_by_round(counts, base_round=base, reps=reps, seed=seed)
    return {r: {"theorems": len(c),
                "pass@k_curve": {k: iv.as_dict() for k, iv in stats.pass_at_k_curve(c, reps=reps, seed=seed).items()},
                "vs_base": vb[r]} for r, c in counts.items()}


def _cell(d: dict | None) -> str:
    if d is None or d["value"] is None:
        return "-"
    ci = d["ci95"]
    return f"{d['value']:.3f}" + ("" if ci is None else f" [{ci[0]:.3f},{ci[1]:.3f}]")


def format_report(rep: dict, title: str) -> str:
    lines = [title]
    for r, block in rep.items():
        curve = block["pass@k_curve"]
        n = max(curve) if curve else None
        vb = block["vs_base"]
        lines.append(f"  round {r} ({block['theorems']} theorems, n={n})")
        lines.append(f"    pass@1 {_cell(curve.get(1))}  pass@{n} {_cell(curve.get(n))}")
        lines.append(f"    new {_cell(vb['new'])}  lost {_cell(vb['lost'])}  sharpening {_cell(vb['sharpening'])}")
        lines.append("    curve: " + "  ".join(f"@{k} {d['value']:.3f}" for k, d in curve.items()))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m loop.heldout_report", description=__doc__.split("\n\n")[0])
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("--by-difficulty", action="store_true", help="also report each difficulty on its own")
    ap.add_argument("--json", type=Path, help="write the numbers here as JSON")
    args = ap.parse_args(argv)
    if not (args.run_dir / "run.db").is_file():
        print(f"error: {args.run_dir}/run.db not found: not a run directory", file=sys.stderr)
        return 2
    counts, difficulty = read_counts(args.run_dir)
    out = {"all": report(counts)}
    print(format_report(out["all"], f"{args.run_dir}: all held-out theorems"))
    if args.by_difficulty:
        for d in sorted(set(difficulty.values())):
            sub = {r: {t: nc for t, nc in c.items() if difficulty[t] == d} for r, c in counts.items()}
            out[f"difficulty {d}"] = report(sub)
            print(format_report(out[f"difficulty {d}"], f"difficulty {d}"))
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
