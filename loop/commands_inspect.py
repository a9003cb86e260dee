"""`ratchet logs | show | diff | export | report`: read a run directory back (registered by loop.cli).

The commands only parse and print; the queries live in loop.runview and the
HTML in loop.report. A wrong argument (no such run, theorem or round) is one
line on stderr and exit code 2, like any other usage error.
"""
from __future__ import annotations

import csv
import json
import os
import sys
import time
from enum import Enum
from pathlib import Path
from typing import Callable, Iterable, Optional, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from loop.runview import (ADMITTED_FIELDS, DIFF_BASIS, EXPORT_FIELDS, Run, RunError, export_rows, load_run,
                          query_attempts, round_diff, theorem_story)
from prover.exits import fail

T = TypeVar("T")
LOG_COLUMNS = ("round", "phase", "theorem", "family", "sample", "verdict", "gate", "seconds", "proof", "reason")
RIGHT_ALIGNED = ("round", "sample", "seconds")
RICH_TABLE_ROWS = 2000  # above this, `ratchet logs` prints a plain aligned table (see _plain_table)
VERDICT_STYLE = {"verified": "green", "rejected": "red", "timeout": "yellow", "error": "magenta"}


class ExportFormat(str, Enum):
    jsonl = "jsonl"
    csv = "csv"


def _console() -> Console:
    # Piped output (a file, `less`, a README example) gets a fixed, wide layout instead of rich's 80 columns.
    if sys.stdout.isatty():
        return Console()
    return Console(width=int(os.environ.get("COLUMNS", "160")), no_color=True, soft_wrap=False)


def _or_fail(fn: Callable[..., T], *args, **kwargs) -> T:
    """Call a query; a RunError (bad run dir, theorem or round) becomes one line on stderr and exit 2."""
    try:
        return fn(*args, **kwargs)
    except RunError as e:
        fail(str(e))
        raise  # unreachable: fail exits


def _open(run_dir: Path) -> Run:
    return _or_fail(load_run, run_dir)


def _printable(text: str | None) -> str:
    """Model output can hold control characters; show them escaped instead of sending them to the terminal."""
    return "".join(ch if ch.isprintable() or ch in "\n\t" else ch.encode("unicode_escape").decode("ascii")
                   for ch in (text or ""))


def _short(text: str | None, width: int) -> str:
    text = " ".join(_printable(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _with_raw(a: dict, sep: str) -> str:
    """The proof body, and the model's completion after `sep` when it differs from the body."""
    return a["proof"] if a.get("raw") is None else f"{a['proof']}{sep}{a['raw']}"


def _verdict(v: str | None) -> Text:
    return Text(v or "-", style=VERDICT_STYLE.get(v or "", "dim"))


def _json_line(obj: dict) -> str:
    return json.dumps(obj, ensure_ascii=False, default=str)


def logs(
    run_dir: Path = typer.Argument(..., help="run directory (holds run.db)"),
    round_: Optional[int] = typer.Option(None, "--round", "-r", help="only this round"),
    theorem: Optional[str] = typer.Option(None, "--theorem", "-t", help="only this theorem id"),
    family: Optional[str] = typer.Option(None, "--family", "-f", help="only this theorem family"),
    verdict: Optional[str] = typer.Option(None, "--verdict", "-v",
                                          help="judge verdict: verified | rejected | timeout | error"),
    phase: Optional[str] = typer.Option(None, "--phase", help="train | eval | greedy"),
    disagree: bool = typer.Option(False, "--disagree", metavar="",
                                  help="only attempts where the gate and the judge differ"),
    limit: Optional[int] = typer.Option(None, "--limit", "-n", help="at most N attempts"),
    as_json: bool = typer.Option(False, "--json", metavar="", help="JSON lines with every field, untruncated"),
) -> None:
    """Every attempt of a run as a table (or JSON lines), filterable."""
    run = _open(run_dir)
    rows = _or_fail(query_attempts, run, round=round_, theorem=theorem, family=family, verdict=verdict,
                    disagree=disagree, limit=limit, phase=phase)
    if as_json:
        out = sys.stdout
        for row in rows:
            out.write(_json_line(row) + "\n")
        return
    cells = [(str(a["round"]), a["phase"], a["theorem_id"], a["family"] or "?", str(a["sample_idx"]),
              a["judge"], a["gate"] or "-", f"{a['seconds']:.2f}", _short(_with_raw(a, " | raw: "), 40),
              _short(a["judge_reason"] or a["gate_reason"], 60)) for a in rows]
    title = f"{run.name}: {len(rows)} attempts"
    if len(cells) > RICH_TABLE_ROWS:
        _plain_table(title, cells)
        return
    table = Table(title=title, title_justify="left", header_style="bold")
    # Short columns never shrink; when the terminal is narrow, proof and reason give way (with an ellipsis).
    for col in LOG_COLUMNS[:-2]:
        table.add_column(col, no_wrap=True, justify="right" if col in RIGHT_ALIGNED else "left")
    table.add_column("proof", ratio=4)
    table.add_column("reason", ratio=5)
    for c in cells:
        table.add_row(*c[:5], _verdict(c[5]), _verdict(c[6]), c[7],
                      Text(c[8], no_wrap=True, overflow="ellipsis"), Text(c[9], no_wrap=True, overflow="ellipsis"))
    _console().print(table)


def _plain_table(title: str, cells: list[tuple[str, ...]]) -> None:
    """The same columns as the rich table, aligned with plain padding: rich measures every cell
    (about a millisecond a row), which is minutes for a whole 100k-attempt store."""
    widths = [max([len(col)] + [len(c[i]) for c in cells]) for i, col in enumerate(LOG_COLUMNS)]

    def line(values) -> str:
        return "  ".join(v.rjust(w) if col in RIGHT_ALIGNED else v.ljust(w)
                         for v, w, col in zip(values, widths, LOG_COLUMNS)).rstrip()

    out = sys.stdout
    out.write(f"{title} (plain layout above {RICH_TABLE_ROWS} rows)\n{line(LOG_COLUMNS)}\n")
    out.write("  ".join("-" * w for w in widths) + "\n")
    for c in cells:
        out.write(line(c) + "\n")


def show(
    run_dir: Path = typer.Argument(..., help="run directory"),
    theorem_id: str = typer.Argument(..., help="theorem id, as in `ratchet logs`"),
    as_json: bool = typer.Option(False, "--json", metavar="", help="the whole story as one JSON object"),
) -> None:
    """One theorem's story across rounds: statement, every attempt and the prover's messages."""
    run = _open(run_dir)
    story = _or_fail(theorem_story, run, theorem_id)
    if as_json:
        print(_json_line(story.to_dict()))
        return
    con = _console()
    th = story.theorem
    con.print(Text(f"{th['id']}  ({th['family']}, difficulty {th['difficulty']}, pool {th['pool']})", style="bold"))
    # Text, not a markup string: statements, proofs and Coq's messages are full of [brackets]
    con.print(Text(f"{story.backend} statement:  {story.statement}"))
    if story.first_proved is None:
        con.print("first proved: never")
    else:
        con.print(f"first proved: round {story.first_proved}")
    if story.ever_lost:
        con.print(f"lost: yes, not proved again in round(s) {', '.join(map(str, story.lost_in))}")
    else:
        con.print("lost: never" if story.first_proved is not None else "lost: n/a")
    for rs in story.rounds:
        parts = []
        for phase in ("train", "eval", "greedy"):
            n = rs.count((phase,))
            if n:
                parts.append(f"{phase} {rs.verified((phase,))}/{n} verified")
        con.print()
        con.print(Text(f"round {rs.round}  (checkpoint {rs.checkpoint})  " + ", ".join(parts), style="bold"))
        if rs.attempts:
            table = Table(show_edge=False, header_style="bold", pad_edge=False)
            for col in ("phase", "sample", "verdict", "gate", "seconds", "proof", "prover's message"):
                table.add_column(col, overflow="fold")
            for a in rs.attempts:
                msg = a["judge_reason"]
                if a["gate"] is not None and a["gate"] != a["judge"] and a["gate_reason"]:
                    msg = f"{msg}  [gate: {a['gate_reason']}]".strip()
                table.add_row(a["phase"], str(a["sample_idx"]), _verdict(a["judge"]), _verdict(a["gate"]),
                              f"{a['seconds']:.2f}", Text(_printable(_with_raw(a, "\n-- completion:\n"))),
                              Text(_printable(msg)))
            con.print(table)
        for ad in rs.admitted:
            false = "" if ad["judge"] == "verified" else f"  FALSE (judge: {ad['judge'] or 'unknown'})"
            con.print(Text(f"  admitted to round {rs.round} SFT set: {_short(ad['proof'], 200)}{false}"))


def diff(
    run_dir: Path = typer.Argument(..., help="run directory"),
    r_from: int = typer.Option(..., "--from", help="earlier round"),
    r_to: int = typer.Option(..., "--to", help="later round"),
    as_json: bool = typer.Option(False, "--json", metavar="", help="JSON object instead of tables"),
) -> None:
    """Theorems gained and lost between two rounds, per family."""
    run = _open(run_dir)
    d = _or_fail(round_diff, run, r_from, r_to)
    if as_json:
        print(_json_line(d.to_dict()))
        return
    con = _console()
    for pool in ("heldout", "train"):
        rows = [r for r in d.rows if r.pool == pool]
        if not rows:
            con.print(f"round {r_from} -> {r_to}: {DIFF_BASIS[pool]}: no theorem was attempted in both rounds")
            continue
        gained, lost = d.totals(pool)
        con.print(Text(f"round {r_from} -> {r_to}: {DIFF_BASIS[pool]}: +{gained} gained, -{lost} lost",
                       style="bold"))
        table = Table(header_style="bold")
        for col in ("family", "compared", f"proved r{r_from}", f"proved r{r_to}", "gained", "lost"):
            table.add_column(col, justify="left" if col == "family" else "right")
        table.add_column("gained / lost theorems", overflow="fold")
        for r in rows:
            ids = [f"+{t}" for t in r.gained] + [f"-{t}" for t in r.lost]
            table.add_row(r.family, str(r.compared), str(r.proved_from), str(r.proved_to),
                          Text(f"+{len(r.gained)}", style="green"), Text(f"-{len(r.lost)}", style="red"),
                          " ".join(ids))
        con.print(table)


def export(
    run_dir: Path = typer.Argument(..., help="run directory"),
    fmt: ExportFormat = typer.Option(ExportFormat.jsonl, "--format", help="jsonl | csv"),
    verified_only: bool = typer.Option(False, "--verified-only", metavar="",
                                       help="only the admitted training material, with provenance"),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="file to write (default: stdout)"),
) -> None:
    """The store for other tools: every attempt, or exactly the admitted SFT material."""
    run = _open(run_dir)
    rows = export_rows(run, verified_only)
    fields = ADMITTED_FIELDS if verified_only else EXPORT_FIELDS
    out = open(output, "w", newline="", encoding="utf-8") if output else sys.stdout
    try:
        n = _write_rows(out, rows, fields, fmt)
    finally:
        if output:
            out.close()
    if output:
        typer.echo(f"wrote {n} rows to {output}", err=True)


def _write_rows(out, rows: Iterable[dict], fields: tuple[str, ...], fmt: ExportFormat) -> int:
    n = 0
    if fmt is ExportFormat.csv:
        writer = csv.DictWriter(out, fieldnames=list(fields))
        writer.writeheader()
        for row in rows:
            writer.writerow(row)
            n += 1
    else:
        for row in rows:
            out.write(_json_line(row) + "\n")
            n += 1
    return n


def report(
    run_dirs: list[Path] = typer.Argument(..., help="one or more run directories, overlaid in the plots"),
    output: Path = typer.Option(Path("report.html"), "--output", "-o", help="HTML file to write"),
) -> None:
    """One self-contained HTML report (no network, opens from disk) of one or more runs."""
    from loop.report import build_report  # matplotlib is imported only when a report is made

    runs = [_open(p) for p in run_dirs]
    t0 = time.perf_counter()
    stats = _or_fail(build_report, runs, output)
    typer.echo(f"wrote {output} ({stats.bytes / 1e6:.2f} MB, {len(runs)} run(s), {stats.attempts} attempts)"
               f" in {time.perf_counter() - t0:.1f} s", err=True)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the `ratchet` app."""
    app.command("logs")(logs)
    app.command("show")(show)
    app.command("diff")(diff)
    app.command("export")(export)
    app.command("report")(report)
