"""`ratchet report`: one self-contained HTML file for one or more runs.

The file fetches nothing: CSS and JS are inline, plots are inline SVG drawn by
matplotlib, and the attempts are embedded as compact column-wise JSON (proofs
and messages interned once) that a small script pages through, so a store with
100,000 attempts stays responsive without 100,000 DOM rows.

Per-round numbers come from summary.json (the metrics stage is the one place
that computes them; the report does not re-grade anything). The verification
time histogram and the table come straight from the attempts in the store.
"""
from __future__ import annotations

import datetime as dt
import io
import json
import re
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Callable

import numpy as np
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from loop.roundtable import format_ci, format_count, format_rate, format_value_ci
from loop.runview import PHASES, STATUSES, Run, label_runs
from loop.summary import Forgetting, PoolStats, RoundSummary

# Colour per run (overlaid runs) and per verdict; colour-blind-friendly (Okabe-Ito).
RUN_COLORS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442"]
VERDICT_COLORS = {"verified": "#009E73", "rejected": "#D55E00", "timeout": "#E69F00", "error": "#CC79A7"}


@dataclass(frozen=True)
class ReportStats:
    path: Path
    bytes: int
    attempts: int
    seconds: float


@dataclass(frozen=True)
class Plot:
    id: str
    title: str
    caption: str
    svg: Markup


# -- reading numbers out of summary.json ------------------------------------------------

# A per-round number, read off a summary; None where the round does not have it.
Field_ = Callable[[RoundSummary], Any]


def _series(run: Run, field: Field_) -> tuple[list[int], list[float]]:
    """(rounds, values) for one per-round number, skipping rounds where it is missing."""
    xs, ys = [], []
    for s in run.round_summaries():
        v = field(s)
        if isinstance(v, (int, float)) and not isinstance(v, bool) and s.round is not None:
            xs.append(s.round)
            ys.append(float(v))
    return xs, ys


def _family_pass1(s: RoundSummary, family: str) -> float | None:
    block = s.heldout.per_family.get(family)
    return block.pass_at_1 if block else None


def _fmt(v: Any, digits: int = 3) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


# -- plots -----------------------------------------------------------------------

def _svg(fig, plot_id: str, title: str) -> Markup:
    """Render a matplotlib figure as an inline <svg class="plot"> element."""
    import matplotlib

    buf = io.StringIO()
    # Text stays text (smaller, selectable); the salt keeps clip-path ids unique across figures in one page.
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": plot_id}):
        fig.savefig(buf, format="svg", metadata={"Date": None}, bbox_inches="tight")
    text = buf.getvalue()
    text = text[text.index("<svg"):]
    text = re.sub(r"<metadata>.*?</metadata>", "", text, count=1, flags=re.S)
    text = text.replace("<svg ", f'<svg class="plot" id="{plot_id}" role="img" aria-label="{title}" ', 1)
    return Markup(text)


def _figure(width: float = 5.0, height: float = 3.0, ncols: int = 1):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    axes = fig.subplots(1, ncols, squeeze=False)[0]
    for ax in axes:
        ax.grid(True, alpha=0.3, linewidth=0.6)
        ax.spines[["top", "right"]].set_visible(False)
    return fig, axes


def _integer_ticks(axis) -> None:
    """Counts (theorems, attempts) get whole-number ticks: matplotlib would put 0.5 steps on small ranges."""
    from matplotlib.ticker import MaxNLocator

    axis.set_major_locator(MaxNLocator(integer=True))


def _no_data(ax, what: str) -> None:
    ax.text(0.5, 0.5, f"no {what} in these runs", ha="center", va="center", transform=ax.transAxes, color="#777")


def _round_axis(ax, runs: list[Run]) -> None:
    rounds = sorted({r for run in runs for r in run.rounds})
    if rounds:
        ax.set_xticks(rounds)
    ax.set_xlabel("round")


def _band(run: Run, field: Callable[[RoundSummary], list[float] | None]) -> tuple[list[int], list[float], list[float]]:
    """(rounds, lows, highs) of a per-round [lo, hi] interval, skipping rounds that have none."""
    rows = [(s.round, ci) for s in run.round_summaries() if s.round is not None and (ci := field(s)) is not None]
    return [r for r, _ in rows], [ci[0] for _, ci in rows], [ci[1] for _, ci in rows]


def _line_plot(runs: list[Run], series: list[tuple[Field_, str, str]], ylabel: str,
               what: str, ylim01: bool = True, bands: dict[int, Callable] | None = None):
    """One line per (run, series); series = (summary field, legend suffix, line style).

    ``bands`` maps a series' index to a field giving its [lo, hi] interval per round, drawn shaded.
    """
    fig, (ax,) = _figure()
    drawn = 0
    for i, run in enumerate(runs):
        for j, (field, suffix, style) in enumerate(series):
            xs, ys = _series(run, field)
            if not xs:
                continue
            label = run.label if len(series) == 1 else f"{run.label}: {suffix}"
            color = RUN_COLORS[i % len(RUN_COLORS)]
            ax.plot(xs, ys, style, color=color, label=label, markersize=4)
            if bands and j in bands and (band := _band(run, bands[j]))[0]:
                ax.fill_between(*band, color=color, alpha=0.15, linewidth=0)
            drawn += 1
    if drawn:
        ax.legend(fontsize=8, frameon=False)
    else:
        _no_data(ax, what)
    if ylim01:
        ax.set_ylim(-0.02, 1.02)
    ax.set_ylabel(ylabel)
    _round_axis(ax, runs)
    return fig


def _pass_k_label(runs: list[Run]) -> str:
    ks = {s.heldout.k for run in runs for s in run.round_summaries()} - {None}
    return f"pass@{ks.pop()}" if len(ks) == 1 else "pass@k"


def _passk_curve_plot(runs: list[Run]):
    """pass@k against k for the first and last round: how much of the gap to pass@k each run closed."""
    fig, (ax,) = _figure()
    drawn = 0
    for i, run in enumerate(runs):
        summaries = [s for s in run.round_summaries() if s.heldout.pass_at_k_curve]
        for s, style in ((summaries[0], "o--"), (summaries[-1], "o-")) if summaries else ():
            curve = s.heldout.curve()
            if not curve:
                continue
            ks = sorted(curve)
            ax.plot(ks, [curve[k] for k in ks], style, color=RUN_COLORS[i % len(RUN_COLORS)], markersize=4,
                    label=f"{run.label}: round {s.round}")
            drawn += 1
            if len(summaries) == 1:
                break
    if drawn:
        ax.set_xscale("log", base=2)
        ax.legend(fontsize=8, frameon=False)
    else:
        _no_data(ax, "pass@k curves")
    ax.set_xlabel("k (samples per theorem)")
    ax.set_ylabel("held-out pass@k")
    ax.set_ylim(-0.02, 1.02)
    return fig


def _family_plot(runs: list[Run]):
    """Held-out pass@1 per family across rounds, one panel per run."""
    ncols = min(len(runs), 3)
    fig, axes = _figure(width=min(5.0 * ncols, 15), height=3.0, ncols=ncols)
    families = sorted({f for run in runs for s in run.round_summaries() for f in s.heldout.per_family})
    for ax, run in zip(axes, runs[:ncols]):
        drawn = 0
        for j, fam in enumerate(families):
            xs, ys = _series(run, lambda s: _family_pass1(s, fam))
            if xs:
                ax.plot(xs, ys, "o-", markersize=3, color=RUN_COLORS[j % len(RUN_COLORS)], label=fam)
                drawn += 1
        if drawn:
            ax.legend(fontsize=7, frameon=False, ncols=2)
        else:
            _no_data(ax, "per-family numbers")
        ax.set_title(run.label, fontsize=9)
        ax.set_ylim(-0.02, 1.02)
        ax.set_ylabel("held-out pass@1")
        _round_axis(ax, [run])
    return fig


def _forgetting_plot(runs: list[Run]):
    fig, (ax,) = _figure()
    width = 0.8 / max(len(runs), 1)
    drawn = 0
    for i, run in enumerate(runs):
        gx, gained = _series(run, lambda s: s.forgetting.gained if s.forgetting else None)
        lx, lost = _series(run, lambda s: s.forgetting.lost if s.forgetting else None)
        color = RUN_COLORS[i % len(RUN_COLORS)]
        offset = (i - (len(runs) - 1) / 2) * width
        if gx:
            ax.bar([x + offset for x in gx], gained, width, color=color, label=f"{run.label}: gained")
            drawn += 1
        if lx:
            ax.bar([x + offset for x in lx], [-v for v in lost], width, color=color, alpha=0.45,
                   label=f"{run.label}: lost")
            drawn += 1
    ax.axhline(0, color="#333", linewidth=0.8)
    _integer_ticks(ax.yaxis)
    if drawn:
        ax.legend(fontsize=8, frameon=False)
    else:
        _no_data(ax, "forgetting numbers")
    ax.set_ylabel("held-out theorems vs previous round")
    _round_axis(ax, runs)
    return fig


def _time_histogram(runs: list[Run], seconds: list[dict[str, np.ndarray]]):
    """Verification time of every attempt; one run is split by verdict, several are overlaid."""
    fig, (ax,) = _figure()
    everything = np.concatenate([a for per in seconds for a in per.values()] or [np.zeros(0)])
    positive = everything[everything > 0]
    if positive.size == 0:
        _no_data(ax, "timed attempts")
        return fig
    lo, hi = max(positive.min(), 1e-3), max(positive.max(), 2e-3)
    bins = np.geomspace(lo, hi * 1.0001, 40)
    if len(runs) == 1:
        per = seconds[0]
        stack = [(v, np.clip(per[v], lo, None)) for v in STATUSES if per.get(v) is not None and per[v].size]
        ax.hist([a for _, a in stack], bins=bins, stacked=True, label=[v for v, _ in stack],
                color=[VERDICT_COLORS[v] for v, _ in stack])
    else:
        for i, (run, per) in enumerate(zip(runs, seconds)):
            arr = np.concatenate(list(per.values()) or [np.zeros(0)])
            ax.hist(np.clip(arr, lo, None), bins=bins, histtype="step", linewidth=1.4,
                    color=RUN_COLORS[i % len(RUN_COLORS)], label=run.label)
    ax.set_xscale("log")
    ax.set_xlabel("seconds per proof check (log scale)")
    ax.set_ylabel("attempts")
    _integer_ticks(ax.yaxis)
    ax.legend(fontsize=8, frameon=False)
    return fig


def _plots(runs: list[Run], seconds: list[dict[str, np.ndarray]]) -> list[Plot]:
    k = _pass_k_label(runs)
    specs: list[tuple[str, str, str, Callable[[], Any]]] = [
        ("plot-pass1", "Held-out pass@1 per round",
         "Sampled pass@1 (mean over theorems of c/n, solid) and greedy pass@1 (dashed), judged by the ground truth;"
         " shaded: the sampled pass@1's 95% bootstrap interval over theorems.",
         lambda: _line_plot(runs, [(lambda s: s.heldout.pass_at_1, "sampled", "o-"),
                                   (lambda s: s.heldout.greedy_pass_at_1, "greedy", "s--")], "held-out pass@1",
                            "held-out numbers", bands={0: lambda s: _interval(s, "pass_at_1")})),
        ("plot-passk", f"Held-out {k} per round",
         "Unbiased estimator 1 - C(n-c,k)/C(n,k), averaged over held-out theorems; shaded: its 95% bootstrap"
         " interval over theorems.",
         lambda: _line_plot(runs, [(lambda s: s.heldout.pass_at_k, k, "o-")], f"held-out {k}", "held-out numbers",
                            bands={0: lambda s: _interval(s, "pass_at_k")})),
        ("plot-passk-curve", "pass@k curve, first and last round",
         "How far sampled pass@1 is from pass@k, and how much of that gap training closed.",
         lambda: _passk_curve_plot(runs)),
        ("plot-contamination", "Contamination per round",
         "Share of each round's admitted (SFT) proofs that the judge rejects: 0 with a sound gate.",
         lambda: _line_plot(runs, [(lambda s: s.contamination, "contamination", "o-")], "false share of SFT set",
                            "contamination numbers")),
        ("plot-pool", "Training pool per round",
         "Judge-verified share of training-pool samples (solid) and gate-admitted share (dashed).",
         lambda: _pool_plot(runs)),
        ("plot-forgetting", "Held-out theorems gained and lost",
         "Theorems proved (greedy or any sample) in a round but not in the previous one, and vice versa.",
         lambda: _forgetting_plot(runs)),
        ("plot-entropy", "Policy entropy per round",
         "Mean token entropy of the policy on a fixed probe set of held-out prompts.",
         lambda: _line_plot(runs, [(lambda s: s.heldout.entropy, "entropy", "o-")], "nats per token",
                            "entropy numbers", ylim01=False)),
        ("plot-diversity", "Diversity per round",
         "Distinct-2 (solid) and distinct-1 (dashed) over held-out samples.",
         lambda: _line_plot(runs, [(lambda s: s.heldout.distinct_2, "distinct-2", "o-"),
                                   (lambda s: s.heldout.distinct_1, "distinct-1", "s--")], "distinct-n",
                            "diversity numbers")),
        ("plot-unique", "Unique proofs per held-out theorem",
         "Distinct proof texts among the n samples of each held-out theorem, averaged.",
         lambda: _line_plot(runs, [(lambda s: s.heldout.unique_proofs_per_theorem, "unique", "o-")],
                            "unique proofs / theorem", "diversity numbers", ylim01=False)),
        ("plot-family", "Per-family held-out pass@1", "One panel per run (at most three), one line per family.",
         lambda: _family_plot(runs)),
        ("plot-vtime", "Verification time", "Wall time of every proof check in the store (all phases).",
         lambda: _time_histogram(runs, seconds)),
    ]
    out = []
    for plot_id, title, caption, make in specs:
        out.append(Plot(plot_id, title, caption, _svg(make(), plot_id, title)))
    return out


def _pool_plot(runs: list[Run]):
    fig, (ax,) = _figure()
    drawn = 0
    for i, run in enumerate(runs):
        for key, style, suffix in (("verified", "o-", "judge-verified"), ("gate_admitted", "s--", "gate-admitted")):
            xs, ys = [], []
            for s in run.round_summaries():
                if s.pool is None:
                    continue
                n, v = s.pool.attempts, getattr(s.pool, key)
                if isinstance(n, int) and n > 0 and isinstance(v, (int, float)) and s.round is not None:
                    xs.append(s.round)
                    ys.append(v / n)
            if xs:
                ax.plot(xs, ys, style, color=RUN_COLORS[i % len(RUN_COLORS)], markersize=4,
                        label=f"{run.label}: {suffix}")
                drawn += 1
    if drawn:
        ax.legend(fontsize=8, frameon=False)
    else:
        _no_data(ax, "training-pool numbers")
    ax.set_ylim(-0.02, 1.02)
    ax.set_ylabel("share of pool samples")
    _round_axis(ax, runs)
    return fig


# -- tables ------------------------------------------------------------------------

def _timestamp(ts: Any) -> dt.datetime | None:
    """manifest.json times: epoch seconds or ISO 8601 text (both are in use)."""
    if isinstance(ts, (int, float)) and not isinstance(ts, bool):
        return dt.datetime.fromtimestamp(ts, dt.timezone.utc)
    if isinstance(ts, str):
        try:
            t = dt.datetime.fromisoformat(ts)
        except ValueError:
            return None
        return t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc)
    return None


def _when(ts: Any) -> str:
    t = _timestamp(ts)
    if t is None:
        return str(ts) if ts else "–"
    return t.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _git(h: Any) -> str:
    if not h:
        return "–"
    commit, _, rest = str(h).partition("-")
    return commit[:12] + (f"-{rest}" if rest else "")


def _run_overview(run: Run, pass_k: str) -> dict[str, str]:
    """The side-by-side summary: one column per run.

    ``pass_k`` is the row's label, shared by all runs (``pass@8``, or ``pass@k`` when their k differ:
    then each value says its own k).
    """
    pools = run.store.pool_sizes()
    n_attempts = run.store.attempt_count()
    n_admitted = run.store.admitted_count()
    gate = run.summary.get("gate") or run.config.get("gate") or {}
    rs = run.round_summaries()
    first, last = (rs[0], rs[-1]) if rs else (RoundSummary(), RoundSummary())
    k = last.heldout.k

    def arrow(field: Field_) -> str:
        a, b = field(first), field(last)
        if a is None and b is None:
            return "–"
        return f"{_fmt(a)} → {_fmt(b)}" if len(rs) > 1 else _fmt(b)

    m = run.manifest
    start, end = _timestamp(m.get("started_at")), _timestamp(m.get("finished_at"))
    duration = (end - start).total_seconds() if start and end else None
    return {
        "directory": str(run.path),
        "name": run.name,
        "backend": f"{run.backend} {run.backend_version}",
        "seed": _fmt(run.summary.get("seed", run.config.get("seed"))),
        "gate": " ".join(f"{k_}={v}" for k_, v in gate.items()) if isinstance(gate, dict) else str(gate),
        "rounds": f"{run.rounds[0]}..{run.rounds[-1]}" if run.rounds else "none yet",
        "theorems": ", ".join(f"{p} {n}" for p, n in sorted(pools.items())),
        "attempts": f"{n_attempts:,}",
        "admitted (all rounds)": f"{n_admitted:,}",
        "held-out pass@1 (first → last)": arrow(lambda s: s.heldout.pass_at_1),
        "greedy pass@1": arrow(lambda s: s.heldout.greedy_pass_at_1),
        pass_k: arrow(lambda s: s.heldout.pass_at_k) + (f" (k={k})" if pass_k == "pass@k" and k is not None else ""),
        # The final round only evaluates, so its contamination is null: show the last round that trained.
        "contamination (last SFT set)": _fmt(next((s.contamination for s in reversed(rs)
                                                   if s.contamination is not None), None)),
        "base model": str(m.get("base_model") or (run.config.get("model") or {}).get("name_or_path") or "–"),
        "started": _when(m.get("started_at")),
        "duration": f"{duration / 60:.1f} min" if duration is not None else "–",
        "git": _git(m.get("git_hash")),
        "config hash": str(run.summary.get("config_hash") or m.get("config_hash") or "–"),
    }


def _interval(s: RoundSummary, key: str) -> list[float] | None:
    """heldout.ci95's pass@1 or pass@k interval (None in summaries written before intervals)."""
    return getattr(s.heldout.ci95, key) if s.heldout.ci95 is not None else None


def _round_table(run: Run) -> list[dict[str, str]]:
    rows = []
    ks = {s.heldout.k for s in run.round_summaries()} - {None}
    pass_k = f"pass@{ks.pop()}" if len(ks) == 1 else "pass@k"
    for s in run.round_summaries():
        h, pool, forget, train = s.heldout, s.pool or PoolStats(), s.forgetting or Forgetting(), s.train
        vb = h.vs_base
        rows.append({
            "round": _fmt(s.round), "checkpoint": _fmt(s.checkpoint),
            "pass@1": _fmt(h.pass_at_1), "greedy": _fmt(h.greedy_pass_at_1),
            pass_k: _fmt(h.pass_at_k),
            "pass@1 95% CI": format_ci(_interval(s, "pass_at_1")),
            f"{pass_k} 95% CI": format_ci(_interval(s, "pass_at_k")),
            # against the base model's n samples (loop.stats.vs_base)
            "new vs base": format_value_ci(vb.new if vb else None, format_count, format_count),
            "lost vs base": format_value_ci(vb.lost if vb else None, format_count, format_count),
            "sharpening": format_value_ci(vb.sharpening if vb else None, format_rate, format_rate),
            "entropy": _fmt(h.entropy),
            "distinct-2": _fmt(h.distinct_2),
            "pool verified": f"{_fmt(pool.verified)}/{_fmt(pool.attempts)}",
            "admitted": _fmt(s.admitted), "contamination": _fmt(s.contamination),
            "gained/lost": f"+{_fmt(forget.gained)}/-{_fmt(forget.lost)}",
            "train loss": (f"{_fmt(train.loss_first)} → {_fmt(train.loss_last)}"
                           if train is not None and train.loss_last is not None else "–"),
            "seconds": _fmt(s.seconds, 1),
        })
    return rows


STAGES = (("sample", "sampling"), ("verify", "verification"), ("train", "training"), ("eval", "evaluation"))


def _cost_table(run: Run) -> list[dict[str, str]]:
    """Per round: each stage's share of the wall and of the CPU seconds the four stages took.

    ``eval`` is held-out sampling; ``verify`` is every proof check, training pool and held-out set
    alike. CPU seconds are absent from summaries written before they were recorded.
    """
    rows = []
    for s in run.round_summaries():
        row = {"round": _fmt(s.round)}
        cost = s.cost
        for key, label in (("seconds", "wall"), ("cpu_seconds", "CPU")):
            block = getattr(cost, key, None) if cost is not None else None
            per = block.model_dump() if block is not None else {}
            total = sum(v for v in per.values() if isinstance(v, (int, float)))
            for stage, name in STAGES:
                v = per.get(stage)
                row[f"{name} ({label})"] = f"{100 * v / total:.0f}%" if total > 0 and v is not None else "–"
            row[f"{label} s"] = _fmt(total, 1) if per and total > 0 else "–"
        rows.append(row)
    return rows


def _family_table(runs: list[Run]) -> tuple[list[str], list[list[str]]]:
    """Per family: held-out pass@1 in the first and last round of each run."""
    header = ["family"]
    cols = []
    for run in runs:
        rs = run.round_summaries()
        if not rs:
            continue
        header += [f"{run.label}: r{rs[0].round}", f"r{rs[-1].round}", "theorems"]
        cols.append((rs[0], rs[-1]))
    families = sorted({f for run in runs for s in run.round_summaries() for f in s.heldout.per_family})
    body = []
    for fam in families:
        row = [fam]
        for first, last in cols:
            in_last = last.heldout.per_family.get(fam)
            row += [_fmt(_family_pass1(first, fam)), _fmt(_family_pass1(last, fam)),
                    _fmt(in_last.theorems if in_last else None)]
        body.append(row)
    return header, body


# -- the embedded attempts -----------------------------------------------------------

def _table_data(runs: list[Run]) -> tuple[dict, list[dict[str, np.ndarray]]]:
    """Column-wise attempts of all runs with interned strings, and verification times per run and verdict."""
    strings: dict[str, int] = {}
    theorems: dict[tuple[int, str], int] = {}
    theorem_rows: list[list] = []
    cols: dict[str, list] = {c: [] for c in ("r", "rd", "ph", "th", "s", "j", "g", "ms", "p", "m")}
    phase_idx = {p: i for i, p in enumerate(PHASES)}
    verdict_idx = {v: i for i, v in enumerate(STATUSES)}
    seconds: list[dict[str, np.ndarray]] = []

    def intern(s: str) -> int:
        i = strings.get(s)
        if i is None:
            i = strings[s] = len(strings)
        return i

    for ri, run in enumerate(runs):
        stmt = f"statement_{run.backend}" if run.backend in ("coq", "lean") else "statement"
        info = {r["id"]: (r["family"], r["pool"], r[stmt] or r["statement"])
                for r in run.store.theorems()}
        per_verdict: dict[str, list[float]] = {v: [] for v in STATUSES}
        for rd, ph, tid, s, judge, gate, sec, proof, jr, gr, completion in run.store.report_attempts():
            key = (ri, tid)
            ti = theorems.get(key)
            if ti is None:
                fam, pool, statement = info.get(tid, ("?", "?", ""))
                ti = theorems[key] = len(theorem_rows)
                theorem_rows.append([ri, tid, fam, pool, statement])
            msg = jr or ""
            if gate is not None and gate != judge and gr:
                msg = f"{msg} [gate: {gr}]".strip()
            cols["r"].append(ri)
            cols["rd"].append(rd)
            cols["ph"].append(phase_idx.get(ph, 0))
            cols["th"].append(ti)
            cols["s"].append(s)
            cols["j"].append(verdict_idx.get(judge, 3))
            cols["g"].append(-1 if gate is None else verdict_idx.get(gate, 3))
            cols["ms"].append(int(round((sec or 0.0) * 1000)))
            cols["p"].append(intern(proof if completion is None else f"{proof}\n-- completion:\n{completion}"))
            cols["m"].append(intern(msg))
            per_verdict.setdefault(judge, []).append(sec or 0.0)
        seconds.append({v: np.asarray(a, dtype=float) for v, a in per_verdict.items()})
    data = {"runs": [r.label for r in runs], "phases": list(PHASES), "verdicts": list(STATUSES),
            "theorems": theorem_rows, "strings": list(strings), "cols": cols}
    return data, seconds


def _script_json(obj: Any) -> Markup:
    """JSON safe inside <script type="application/json">: no '<' can end the element early."""
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
    return Markup(text.replace("<", "\\u003c").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


# -- the page ---------------------------------------------------------------------------

def render_report(runs: list[Run]) -> tuple[str, int]:
    """The report's HTML and the number of attempts it embeds."""
    label_runs(runs)
    data, seconds = _table_data(runs)
    env = Environment(loader=PackageLoader("loop", "templates"), autoescape=select_autoescape(["html"]),
                      trim_blocks=True, lstrip_blocks=True)
    assets = resources.files("loop") / "templates"
    header, body = _family_table(runs)
    html = env.get_template("report.html").render(
        title="Ratchet report: " + ", ".join(r.label for r in runs),
        generated=dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        runs=runs,
        colors=[RUN_COLORS[i % len(RUN_COLORS)] for i in range(len(runs))],
        overviews=[_run_overview(r, _pass_k_label(runs)) for r in runs],
        round_tables=[_round_table(r) for r in runs],
        cost_tables=[(r.label, _cost_table(r)) for r in runs],
        configs=[(r.path / "config.yaml").read_text() if (r.path / "config.yaml").exists() else "(no config.yaml)"
                 for r in runs],
        plots=_plots(runs, seconds),
        family_header=header, family_rows=body,
        css=Markup((assets / "report.css").read_text()),
        js=Markup((assets / "report.js").read_text()),
        data_json=_script_json(data),
        n_attempts=len(data["cols"]["rd"]),
    )
    return html, len(data["cols"]["rd"])


def build_report(runs: list[Run], out: str | Path) -> ReportStats:
    """Write the report for already-loaded runs to ``out``."""
    t0 = time.perf_counter()
    html, n = render_report(runs)
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")
    return ReportStats(path=path, bytes=path.stat().st_size, attempts=n, seconds=time.perf_counter() - t0)
