"""The per-round table `ratchet run` prints: as many columns as the terminal holds, none truncated.

Below it, ``interval_table`` prints the held-out intervals and the comparison with the base model
(new, lost, sharpening: loop.stats) as a second short table, so the first keeps its columns at 80.

Columns have a priority. The essential ones (the held-out numbers, what was admitted, time) fit an
80-column terminal with every header whole; wider terminals add the rest, and a caption names what a
narrow one left out (every number is in summary.json either way). Headers are at most two short lines
and cells never wrap, so a column is as wide as its widest header line or value.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from rich import box
from rich.table import Table

from loop.summary import RoundSummary, load_rounds

GAP = 2  # characters between columns: one space of padding and the (blank) column divider


@dataclass(frozen=True)
class Column:
    header: str  # "\n" splits it over two lines
    cell: Callable[[RoundSummary], str]
    priority: int  # 1 = always shown; higher numbers are dropped first when the terminal is narrow
    name: str  # how the caption calls it when it is left out

    def width(self, rows: list[RoundSummary]) -> int:
        return max([len(line) for line in self.header.split("\n")] + [len(self.cell(r)) for r in rows])


def _f(x: Any) -> str:
    return "-" if x is None else f"{x:.3f}"


def _n(x: Any) -> str:
    return "-" if x is None else str(x)


def columns(k: int) -> list[Column]:
    return [
        Column("round", lambda s: str(s.round), 1, "round"),
        Column("greedy\npass@1", lambda s: _f(s.heldout.greedy_pass_at_1), 1, "greedy pass@1"),
        Column("pass@1", lambda s: _f(s.heldout.pass_at_1), 1, "pass@1"),
        Column(f"pass@{k}", lambda s: _f(s.heldout.pass_at_k), 1, f"pass@{k}"),
        Column("entropy", lambda s: _f(s.heldout.entropy), 1, "entropy"),
        Column("pool\nverified", lambda s: _n(s.pool.verified if s.pool else None), 2, "pool verified"),
        Column("pool\nproved", lambda s: _n(s.pool.theorems_proved if s.pool else None), 3, "pool proved"),
        Column("admitted", lambda s: _n(s.admitted), 1, "admitted"),
        Column("contam.", lambda s: _f(s.contamination), 2, "contamination"),
        Column("LoRA\nloss", lambda s: _f(s.train.loss_last if s.train else None), 4, "LoRA loss"),
        Column("seconds", lambda s: "-" if s.seconds is None else f"{s.seconds:.0f}", 1, "seconds"),
    ]


def fitting(cols: list[Column], rows: list[RoundSummary], width: int) -> list[Column]:
    """The columns to show at ``width``: drop the lowest priority (rightmost first) until they fit."""
    shown = list(cols)
    while len(shown) > 1 and sum(c.width(rows) for c in shown) + GAP * (len(shown) - 1) > width:
        worst = max(c.priority for c in shown)
        if worst == 1:
            break  # the essentials stay; rich will have to squeeze them
        shown.remove([c for c in shown if c.priority == worst][-1])
    return shown


def _table(cols: list[Column], summaries: list[RoundSummary], title: str, width: int) -> Table:
    shown = fitting(cols, summaries, width)
    hidden = [c.name for c in cols if c not in shown]
    table = Table(title=title, box=box.SIMPLE_HEAD, show_edge=False, padding=(0, 1), collapse_padding=True,
                  pad_edge=False, header_style="bold",
                  caption=f"not shown at this width: {', '.join(hidden)} (all in summary.json)" if hidden else None)
    for c in shown:
        table.add_column(c.header, justify="right", no_wrap=True)
    for s in summaries:
        table.add_row(*(c.cell(s) for c in shown))
    return table


def _typed(rows: list[dict] | list[RoundSummary]) -> list[RoundSummary]:
    return [r if isinstance(r, RoundSummary) else load_rounds([r])[0] for r in rows]


def round_table(rows: list[dict] | list[RoundSummary], title: str, k: int, width: int) -> Table:
    """``rows``: round summaries, typed or as stored (dicts are read through loop.summary)."""
    return _table(columns(k), _typed(rows), title, width)


# ---------------------------------------------------------------------------
# The second block: 95% intervals and the comparison with the base model
# ---------------------------------------------------------------------------

def format_ci(ci: list[float] | None) -> str:
    """"[lo,hi]" of a pass rate's interval; two places: a bootstrap interval's ends are not known to
    the third, and the block's columns must fit 80."""
    return "-" if ci is None else f"[{ci[0]:.2f},{ci[1]:.2f}]"


def format_count(x: float | None) -> str:
    """A count of theorems (an expected one may be fractional): 12, 7.5."""
    return "-" if x is None else f"{round(x, 1):g}"


def format_rate(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def format_value_ci(v, value: Callable[[float | None], str], bound: Callable[[float | None], str]) -> str:
    """"value [lo,hi]" of a loop.summary.ValueCI (None, or no value: "-")."""
    if v is None or v.value is None:
        return "-"
    return value(v.value) + ("" if v.ci95 is None else f" [{bound(v.ci95[0])},{bound(v.ci95[1])}]")


def interval_columns(k: int) -> list[Column]:
    def vb(s: RoundSummary, key: str):
        return getattr(s.heldout.vs_base, key) if s.heldout.vs_base is not None else None

    def ci(s: RoundSummary, key: str):
        return getattr(s.heldout.ci95, key) if s.heldout.ci95 is not None else None

    return [
        Column("round", lambda s: str(s.round), 1, "round"),
        Column("pass@1\n95% CI", lambda s: format_ci(ci(s, "pass_at_1")), 1, "pass@1 95% CI"),
        Column(f"pass@{k}\n95% CI", lambda s: format_ci(ci(s, "pass_at_k")), 1, f"pass@{k} 95% CI"),
        Column("new\nvs base", lambda s: format_value_ci(vb(s, "new"), format_count, format_count), 1, "new"),
        Column("lost\nvs base", lambda s: format_value_ci(vb(s, "lost"), format_count, format_count), 1, "lost"),
        Column("sharpening", lambda s: format_value_ci(vb(s, "sharpening"), format_rate, format_rate), 2,
               "sharpening"),
    ]


def interval_table(rows: list[dict] | list[RoundSummary], k: int, width: int) -> Table | None:
    """Held-out pass@1 and pass@k intervals and new / lost / sharpening against the base, one row per
    round, printed below the round table (which keeps its columns). None when no round carries them
    (a summary written before they existed)."""
    summaries = _typed(rows)
    if not any(s.heldout.ci95 is not None or s.heldout.vs_base is not None for s in summaries):
        return None
    ns = sorted({s.heldout.vs_base.n for s in summaries if s.heldout.vs_base and s.heldout.vs_base.n})
    at = f", n={ns[0]}" if len(ns) == 1 else ""
    title = f"95% CI over theorems; vs base (round 0){at}"
    return _table(interval_columns(k), summaries, title, width)
