"""`ratchet report`: one self-contained HTML file, checked as text (the browser test drives it for real)."""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from loop.cli import app
from loop.runview import load_run
from loop.report import build_report
from loop.store import Attempt, Store
from loop.synthetic_run import make_synthetic_run
from test_inspect import make_tiny_run

runner = CliRunner()
PLOT_IDS = ("plot-pass1", "plot-passk", "plot-passk-curve", "plot-contamination", "plot-pool", "plot-forgetting",
            "plot-entropy", "plot-diversity", "plot-unique", "plot-family", "plot-vtime")


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("runs")
    return (make_synthetic_run(base / "gated", n_attempts=1200, rounds=3, seed=5, with_gate=True),
            make_synthetic_run(base / "judge", n_attempts=1200, rounds=2, seed=6, with_gate=False))


def embedded_data(html: str) -> dict:
    m = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', html, re.S)
    assert m, "no embedded data"
    return json.loads(m.group(1))


def assert_self_contained(html: str) -> None:
    """Nothing the browser would fetch: no src/href to a URL, no CSS url() or @import, no external script."""
    assert not re.search(r'\b(src|href)\s*=\s*["\']?(https?:|//)', html, re.I)
    assert not re.search(r'url\(\s*["\']?(https?:|//)', html, re.I)
    assert "@import" not in html
    assert not re.search(r"<script[^>]*\bsrc=", html, re.I)
    assert not re.search(r"<link[^>]*stylesheet", html, re.I)


def test_two_runs_side_by_side(two_runs, tmp_path):
    out = tmp_path / "sub" / "report.html"
    res = runner.invoke(app, ["report", str(two_runs[0]), str(two_runs[1]), "-o", str(out)])
    assert res.exit_code == 0, res.stderr
    assert "2 run(s)" in res.stderr
    html = out.read_text()
    assert_self_contained(html)
    for pid in PLOT_IDS:
        assert re.search(rf'<svg class="plot" id="{pid}"', html), pid
    data = embedded_data(html)
    runs = [load_run(p) for p in two_runs]
    n = [r.store.db.execute("SELECT COUNT(*) FROM attempts").fetchone()[0] for r in runs]
    assert len(data["cols"]["rd"]) == sum(n)
    assert [data["cols"]["r"].count(i) for i in (0, 1)] == n
    assert data["runs"] == ["synthetic-5", "synthetic-6"]
    assert all(len(col) == sum(n) for col in data["cols"].values())
    # Proofs and messages are interned: each text once, fewer texts than attempts, and every index resolves.
    assert len(set(data["strings"])) == len(data["strings"]) < sum(n)
    assert max(data["cols"]["p"]) < len(data["strings"]) and max(data["cols"]["th"]) < len(data["theorems"])
    # The side-by-side summary has one column per run, and each run's config is in the page.
    assert "synthetic-5" in html and "synthetic-6" in html
    assert html.count('<pre class="config">') == 2 and "kind: noisy" in html


def test_the_table_data_round_trips(two_runs, tmp_path):
    """Decoding the embedded columns gives back the store's attempts."""
    out = tmp_path / "one.html"
    run = load_run(two_runs[0])
    build_report([run], out)
    data = embedded_data(out.read_text())
    c, S, T = data["cols"], data["strings"], data["theorems"]
    decoded = sorted((c["rd"][i], data["phases"][c["ph"][i]], T[c["th"][i]][1], c["s"][i],
                      data["verdicts"][c["j"][i]], S[c["p"][i]]) for i in range(len(c["rd"])))
    stored = sorted(tuple(r) for r in run.store.db.execute(
        "SELECT round, phase, theorem_id, sample_idx, judge, proof FROM attempts"))
    assert decoded == stored
    assert {t[4] for t in T} <= {r[0] for r in run.store.db.execute("SELECT statement_coq FROM theorems")}


def test_same_named_runs_get_distinct_labels(two_runs, tmp_path):
    copy = tmp_path / "again"
    shutil.copytree(two_runs[0], copy)
    out = tmp_path / "r.html"
    build_report([load_run(two_runs[0]), load_run(copy)], out)
    labels = embedded_data(out.read_text())["runs"]
    assert len(set(labels)) == 2 and all(lab.startswith("synthetic-5") for lab in labels)


def test_text_that_looks_like_html_cannot_break_the_page(tmp_path):
    run_dir = make_tiny_run(tmp_path / "tiny")
    store = Store(run_dir / "run.db")
    evil = "</script><script>alert(1)</script><!-- \u2028"
    store.add_attempts([Attempt(2, "train", "t1", 7, evil, "rejected", "<b>bold</b> & " + evil, None, None,
                                0.5, 1, "round-2")])
    store.close()
    out = tmp_path / "r.html"
    build_report([load_run(run_dir)], out)
    html = out.read_text()
    assert html.count("<script") == 2 and html.count("</script>") == 2
    data = embedded_data(html)
    assert evil in data["strings"] and "<b>bold</b> & " + evil in data["strings"]


def test_partial_summaries_still_give_a_report(tmp_path):
    """A run whose metrics stage has not written everything: the plots say so instead of failing."""
    run_dir = make_tiny_run(tmp_path / "tiny")
    out = tmp_path / "r.html"
    run = load_run(run_dir)
    stats = build_report([run], out)
    html = out.read_text()
    assert stats.attempts == run.store.db.execute("SELECT COUNT(*) FROM attempts").fetchone()[0] == 31
    assert stats.bytes == out.stat().st_size
    assert "no contamination numbers in these runs" in html
    for pid in PLOT_IDS:
        assert f'id="{pid}"' in html


def test_the_numbers_table_shows_intervals_and_vs_base(two_runs, tmp_path):
    """Held-out pass@1 and pass@k with their 95% intervals, and new / lost / sharpening against the base."""
    out = tmp_path / "report.html"
    build_report([load_run(two_runs[0])], out)
    html = out.read_text()
    for header in ("pass@1 95% CI", "pass@8 95% CI", "new vs base", "lost vs base", "sharpening"):
        assert f"<th>{header}</th>" in html, header
    summary = json.loads((two_runs[0] / "summary.json").read_text())
    last = summary["rounds"][-1]["heldout"]
    lo, hi = last["ci95"]["pass@1"]
    assert f"<td>[{lo:.2f},{hi:.2f}]</td>" in html
    new = last["vs_base"]["new"]
    assert f"<td>{round(new['value'], 1):g} [" in html
    assert summary["rounds"][0]["heldout"]["vs_base"]["new"]["value"] == 0  # the base against itself
    assert "95% bootstrap" in html  # the plots say what is shaded
