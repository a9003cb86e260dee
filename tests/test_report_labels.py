"""The report's labels hold across overlaid runs: a different k per run, and counts drawn on whole ticks."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from loop.runview import load_run
from loop.report import render_report
from loop.synthetic_run import make_synthetic_run


@pytest.fixture(scope="module")
def runs_with_k_8_and_4(tmp_path_factory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("runs")
    a = make_synthetic_run(base / "k8", n_attempts=400, rounds=2, seed=1, with_gate=False)
    b = make_synthetic_run(base / "k4", n_attempts=400, rounds=2, seed=2, with_gate=False)
    summary = json.loads((b / "summary.json").read_text())
    for s in summary["rounds"]:
        s["heldout"]["k"] = 4  # as if eval.k had been 4 in that run
    (b / "summary.json").write_text(json.dumps(summary))
    return a, b


def overview_row(html: str, label: str) -> list[str]:
    m = re.search(rf"<tr><th>{re.escape(label)}</th>(.*?)</tr>", html, re.S)
    assert m, f"no overview row {label!r}"
    return re.findall(r"<td>(.*?)</td>", m.group(1), re.S)


def plot_svg(html: str, plot_id: str) -> str:
    m = re.search(rf'<svg class="plot" id="{plot_id}".*?</svg>', html, re.S)
    assert m, plot_id
    return m.group(0)


def test_overlaid_runs_with_different_k_each_show_their_own(runs_with_k_8_and_4):
    html, _ = render_report([load_run(p) for p in runs_with_k_8_and_4])
    cells = overview_row(html, "pass@k")
    assert len(cells) == 2 and cells[0].endswith("(k=8)") and cells[1].endswith("(k=4)")
    assert all(re.match(r"\d\.\d{3} → \d\.\d{3}", c) for c in cells), cells
    assert "<th>pass@8</th>" in html and "<th>pass@4</th>" in html  # each run's own per-round table


def test_runs_with_one_k_keep_the_plain_label(runs_with_k_8_and_4):
    html, _ = render_report([load_run(runs_with_k_8_and_4[0])])
    cells = overview_row(html, "pass@8")
    assert len(cells) == 1 and "(k=" not in cells[0] and cells[0] != "–"


@pytest.mark.parametrize("plot_id", ["plot-forgetting", "plot-vtime"])
def test_count_charts_have_whole_number_ticks(runs_with_k_8_and_4, plot_id):
    html, _ = render_report([load_run(p) for p in runs_with_k_8_and_4])
    svg = plot_svg(html, plot_id)
    ticks = re.findall(r'<g id="ytick_\d+">.*?<text[^>]*>([^<]*)</text>', svg, re.S)
    assert len(ticks) >= 2, "no y tick labels found"
    assert all(re.fullmatch(r"[−-]?\d+", t.strip()) for t in ticks), ticks
