"""The per-round table `ratchet run` prints: as many columns as the terminal holds, none truncated.

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


def round_table(rows: list[dict] | list[RoundSummary], title: str, k: int, width: int) -> Table:
    """``rows``: round summaries, typed or as stored (dicts are read through loop.summary)."""
    summaries = [r if isinstance(r, RoundSummary) else load_rounds([r])[0] for r in rows]
    cols = columns(k)
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
