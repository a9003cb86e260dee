"""The report in a real browser: headless Chromium opens it from disk and a user searches it.

Skipped where Debian's chromium is not installed (`make test` installs it when
it can). Set RATCHET_REPORT_SCREENSHOT=docs/report.png to refresh the README's
screenshot from this test.
"""
from __future__ import annotations

import json
import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from loop.bench_report import CHROMIUM, HeadlessChromium
from loop.runview import load_run
from loop.report import build_report
from loop.synthetic_run import make_synthetic_run

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} not installed")]

COUNT = "Number(document.getElementById('count').dataset.count)"
ROWS = "document.querySelectorAll('#table tbody tr.row').length"


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> tuple[Path, list[Path]]:
    base = tmp_path_factory.mktemp("browser")
    runs = [make_synthetic_run(base / "noisy-gate", n_attempts=2500, rounds=4, seed=11, with_gate=True),
            make_synthetic_run(base / "sound-gate", n_attempts=2500, rounds=4, seed=12, with_gate=False)]
    out = base / "report.html"
    build_report([load_run(p) for p in runs], out)
    return out, runs


@pytest.fixture(scope="module")
def browser():
    with HeadlessChromium(width=1400, height=1300) as b:
        yield b


def attempts_on(runs: list[Path], theorem_id: str) -> int:
    n = 0
    for run in runs:
        db = sqlite3.connect(run / "run.db")
        n += db.execute("SELECT COUNT(*) FROM attempts WHERE theorem_id=?", (theorem_id,)).fetchone()[0]
        db.close()
    return n


def test_report_opens_plots_visible_search_filters(report, browser, tmp_path):
    html, runs = report
    browser.open(html.resolve().as_uri())
    browser.wait_for("window.ratchetReport && window.ratchetReport.ready")
    total = browser.eval(COUNT)
    assert total == sum(sqlite3.connect(r / "run.db").execute("SELECT COUNT(*) FROM attempts").fetchone()[0]
                        for r in runs)
    assert browser.eval(ROWS) == 50  # one page, not every attempt

    shot = tmp_path / "report.png"
    browser.eval("window.scrollTo(0, 0)")
    browser.screenshot(shot)
    assert shot.stat().st_size > 20_000 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if os.environ.get("RATCHET_REPORT_SCREENSHOT"):
        shutil.copy(shot, os.environ["RATCHET_REPORT_SCREENSHOT"])

    boxes = browser.eval("Array.from(document.querySelectorAll('svg.plot')).map(e => {"
                         " const r = e.getBoundingClientRect(), s = getComputedStyle(e);"
                         " return [e.id, r.width, r.height, s.visibility, s.display,"
                         " e.querySelectorAll('path, text, use').length]; })")
    assert len(boxes) == 11
    for pid, w, h, visibility, display, marks in boxes:
        assert w > 200 and h > 100 and visibility == "visible" and display != "none", pid
        assert marks > 20, f"{pid} has almost nothing drawn"

    # Type a theorem id as a user would: the table drops to exactly that theorem's attempts in both runs.
    theorem_id = "ring-0002"
    expected = attempts_on(runs, theorem_id)
    assert 0 < expected < total
    browser.type_text("#search", theorem_id)
    browser.wait_for(f"{COUNT} !== {total}")
    assert browser.eval(COUNT) == expected
    cells = browser.eval("Array.from(document.querySelectorAll('#table tbody tr.row'))"
                         ".map(tr => tr.children[3].textContent)")  # run, round, phase, theorem, ...
    assert len(cells) == min(expected, 50) and set(cells) == {theorem_id}

    # The theorem view shows one row per (run, theorem); clicking one lists its attempts in that run.
    browser.eval("document.getElementById('mode-theorems').click()")
    assert browser.eval(COUNT) == 2 and browser.eval(ROWS) == 2
    browser.eval("document.querySelector('#table tbody tr.row').click()")
    assert browser.eval(COUNT) == attempts_on(runs[:1], theorem_id)

    # Select filters: clear the search, keep round 0 and rejected verdicts.
    browser.eval("const s = document.getElementById('search'); s.value = ''; s.dispatchEvent(new Event('input'));"
                 "document.getElementById('f-run').value = '';")
    browser.wait_for(f"{COUNT} === {total}")
    browser.eval("for (const [id, v] of [['f-round', '0'], ['f-verdict', '1']]) {"
                 " const e = document.getElementById(id); e.value = v; e.dispatchEvent(new Event('change')); }")
    want = sum(sqlite3.connect(r / "run.db").execute(
        "SELECT COUNT(*) FROM attempts WHERE round=0 AND judge='rejected'").fetchone()[0] for r in runs)
    assert browser.eval(COUNT) == want

    errors = browser.js_errors()
    assert errors == [], json.dumps(errors, indent=1)
    # Self-contained: the only thing the page ever loaded is the file itself.
    assert browser.requested_urls() == [html.resolve().as_uri()]


def test_benchmark_script_runs(tmp_path):
    """`python -m loop.bench_report` end to end on a small store (the 100k figure is in the README)."""
    from loop.bench_report import bench

    result = bench(attempts=1500, rounds=1, workdir=tmp_path)
    assert 1000 < result["attempts"] < 2000 and result["html_bytes"] > 50_000
    assert result["rows_rendered"] == 50 and result["js_errors"] == []
    assert 0 < result["search_matches"] < result["attempts"]
