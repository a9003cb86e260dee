"""heldout_report: curves and vs-base read from a run's store."""
from __future__ import annotations

import json

import pytest

from loop.heldout_report import main, read_counts, report
from loop.store import Attempt, Store


def _run(tmp_path):
    store = Store(tmp_path / "run.db")
    store.add_theorems([{"id": t, "family": "depth", "difficulty": d, "pool": "heldout", "name": t.replace("/", "_"),
                         "statement": "True", "statement_coq": "True", "statement_lean": "True"}
                        for t, d in (("a/1", 1), ("b/2", 3), ("c/3", 3))])
    verdicts = {  # round -> theorem -> 4 verdicts
        0: {"a/1": "VVRR", "b/2": "RRRR", "c/3": "RRRE"},
        1: {"a/1": "VVVV", "b/2": "VRRR", "c/3": "RRRR"},
    }
    names = {"V": "verified", "R": "rejected", "E": "error"}
    store.add_attempts([Attempt(r, "eval", t, j, f"p{j}", names[v], "", None, None, 0.0, 1, "x")
                        for r, per in verdicts.items() for t, vs in per.items() for j, v in enumerate(vs)])
    store.close()
    return tmp_path


def test_counts_and_vs_base_from_a_store(tmp_path):
    counts, difficulty = read_counts(_run(tmp_path))
    assert counts == {0: {"a/1": (4, 2), "b/2": (4, 0), "c/3": (3, 0)},
                      1: {"a/1": (4, 4), "b/2": (4, 1), "c/3": (4, 0)}}
    assert difficulty == {"a/1": 1, "b/2": 3, "c/3": 3}
    rep = report(counts, reps=200)
    assert list(rep[0]["pass@k_curve"]) == [1, 2, 3]  # up to the smallest n (c/3 lost a sample to an error)
    # compared at n = 3: b/2 (1 of 4 now) is solved in 3 samples with probability 3/4; the base never
    assert rep[1]["vs_base"]["n"] == 3
    assert rep[1]["vs_base"]["new"]["value"] == pytest.approx(0.75)
    assert rep[1]["vs_base"]["lost"]["value"] == pytest.approx(0)
    assert rep[1]["vs_base"]["sharpening"]["value"] == pytest.approx(((1 + 0.25 + 0) / 3) / (1 / 3))


def test_cli_writes_json_and_refuses_a_non_run(tmp_path, capsys):
    run = _run(tmp_path)
    assert main([str(run), "--by-difficulty", "--json", str(tmp_path / "out.json")]) == 0
    data = json.loads((tmp_path / "out.json").read_text())
    assert set(data) == {"all", "difficulty 1", "difficulty 3"}
    assert "new 0.750" in capsys.readouterr().out
    assert main([str(tmp_path / "nowhere")]) == 2
