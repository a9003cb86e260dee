"""The inspection queries and the `ratchet logs/show/diff/export` commands.

Most tests use a synthetic run (loop/synthetic_run.py); the gained/lost and
"ever lost" logic is checked on a tiny store built by hand, where the right
answers can be worked out on paper.
"""
from __future__ import annotations

import csv
import io
import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from loop.cli import app
from loop.runview import (RunError, export_rows, load_run, query_attempts, round_diff, theorem_story)
from loop.store import Attempt, Store
from loop.synthetic_run import make_synthetic_run

runner = CliRunner()


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    return make_synthetic_run(tmp_path_factory.mktemp("syn") / "run", n_attempts=1500, rounds=3, seed=3)


@pytest.fixture(scope="module")
def all_attempts(run_dir) -> list[dict]:
    db = sqlite3.connect(run_dir / "run.db")
    db.row_factory = sqlite3.Row
    rows = [dict(r) for r in db.execute("SELECT a.*, t.family FROM attempts a JOIN theorems t ON t.id=a.theorem_id")]
    db.close()
    return rows


# -- a store small enough to reason about --------------------------------------------------

def _attempt(r: int, phase: str, tid: str, s: int, judge: str, proof: str = "lia.", gate: str | None = None):
    return Attempt(r, phase, tid, s, proof, judge, "" if judge == "verified" else "Error: no.", gate, None,
                   0.1, 3, "base" if r == 0 else f"round-{r}")


def make_tiny_run(path: Path) -> Path:
    """h1 proved r0, lost r1, back r2; h2 gained r1; h3 proved r0-r1, not attempted r2;
    t1 false-admitted r0, proved r1, lost r2; t2 always proved."""
    path.mkdir(parents=True)
    store = Store(path / "run.db")
    store.set_meta("backend", "coq")
    store.set_meta("backend_version", "8.16.1")
    th = [("h1", "lin", "heldout"), ("h2", "lin", "heldout"), ("h3", "ring", "heldout"),
          ("t1", "ring", "train"), ("t2", "ring", "train")]
    store.add_theorems({"id": i, "family": f, "difficulty": 1, "pool": p, "name": i, "statement": f"S_{i}",
                        "statement_coq": f"coq_{i} : 1 = 1", "statement_lean": f"lean_{i} : 1 = 1"} for i, f, p in th)
    V, R = "verified", "rejected"
    heldout = {  # (round, theorem) -> (eval verdicts, greedy verdict)
        (0, "h1"): ((V, R), R), (1, "h1"): ((R, R), R), (2, "h1"): ((R, R), V),
        (0, "h2"): ((R, R), R), (1, "h2"): ((R, V), R), (2, "h2"): ((V, V), V),
        (0, "h3"): ((V, V), V), (1, "h3"): ((R, V), R),
    }
    train = {  # (round, theorem) -> [(judge, gate, proof)]
        (0, "t1"): [(R, V, "bad."), (R, R, "worse.")], (1, "t1"): [(V, V, "good.")], (2, "t1"): [(R, R, "bad.")],
        (0, "t2"): [(V, V, "ok.")], (1, "t2"): [(V, V, "ok.")], (2, "t2"): [(V, V, "ok2.")],
    }
    for (r, tid), (evals, greedy) in heldout.items():
        store.add_attempts([_attempt(r, "eval", tid, s, v) for s, v in enumerate(evals)]
                           + [_attempt(r, "greedy", tid, 0, greedy)])
    for (r, tid), rows in train.items():
        store.add_attempts([_attempt(r, "train", tid, s, j, p, g) for s, (j, g, p) in enumerate(rows)])
    for r in (0, 1, 2):
        ids = store.db.execute("SELECT id, theorem_id, proof FROM attempts WHERE round=? AND gate='verified'",
                               (r,)).fetchall()
        store.set_admitted(r, [(t, p, i) for i, t, p in ids])
    store.close()
    (path / "summary.json").write_text(json.dumps({"name": "tiny", "rounds": [
        {"round": 0, "checkpoint": "base"}, {"round": 1, "checkpoint": "round-1", "heldout": {"pass@1": 0.5}},
        {"round": 2, "checkpoint": "round-2", "heldout": {"pass@1": None}, "contamination": None}]}))
    return path


@pytest.fixture()
def tiny(tmp_path) -> Path:
    return make_tiny_run(tmp_path / "tiny")


def test_round_diff_gained_and_lost_per_pool_and_family(tiny):
    run = load_run(tiny)
    d01 = {(r.pool, r.family): r for r in round_diff(run, 0, 1).rows}
    assert (d01["heldout", "lin"].gained, d01["heldout", "lin"].lost) == (["h2"], ["h1"])
    assert (d01["heldout", "lin"].proved_from, d01["heldout", "lin"].proved_to) == (1, 1)
    assert (d01["heldout", "ring"].gained, d01["heldout", "ring"].lost, d01["heldout", "ring"].compared) == ([], [], 1)
    assert (d01["train", "ring"].gained, d01["train", "ring"].lost) == (["t1"], [])
    d12 = {(r.pool, r.family): r for r in round_diff(run, 1, 2).rows}
    assert (d12["heldout", "lin"].gained, d12["heldout", "lin"].lost) == (["h1"], [])
    # h3 was not attempted in round 2, so it is neither gained nor lost, and ring has nothing to compare.
    assert ("heldout", "ring") not in d12
    assert (d12["train", "ring"].gained, d12["train", "ring"].lost) == ([], ["t1"])
    assert round_diff(run, 1, 2).totals("train") == (0, 1)


def test_theorem_story_first_proved_and_lost(tiny):
    run = load_run(tiny)
    h1 = theorem_story(run, "h1")
    assert (h1.first_proved, h1.lost_in, h1.ever_lost) == (0, [1], True)
    assert h1.statement == "coq_h1 : 1 = 1"  # the backend's rendering, not the generic column
    assert [r.round for r in h1.rounds] == [0, 1, 2]
    assert [r.count() for r in h1.rounds] == [3, 3, 3]
    h3 = theorem_story(run, "h3")
    assert (h3.first_proved, h3.ever_lost) == (0, False)
    t1 = theorem_story(run, "t1")
    assert (t1.first_proved, t1.lost_in) == (1, [2])
    assert [(a["proof"], a["judge"]) for a in t1.rounds[0].admitted] == [("bad.", "rejected")]
    assert theorem_story(run, "h2").first_proved == 1


def test_export_verified_only_is_the_admitted_table(run_dir):
    run = load_run(run_dir)
    rows = list(export_rows(run, verified_only=True))
    db = sqlite3.connect(run_dir / "run.db")
    admitted = db.execute("SELECT ad.round, ad.theorem_id, ad.proof, a.checkpoint, t.statement_coq FROM admitted ad"
                          " JOIN attempts a ON a.id=ad.attempt_id JOIN theorems t ON t.id=ad.theorem_id").fetchall()
    assert len(rows) == len(admitted) > 0
    assert sorted((r["round"], r["theorem_id"], r["proof"], r["checkpoint"], r["statement"]) for r in rows) \
        == sorted(admitted)
    assert {(r["backend"], r["backend_version"]) for r in rows} == {("coq", "8.16.1")}
    # Under the synthetic noisy gate some admitted proofs are false; the export keeps them and says so.
    assert {r["judge"] for r in rows} >= {"verified", "rejected"}
    assert all(r["gate"] == "verified" for r in rows)


def test_export_all_attempts_jsonl_and_csv(run_dir, all_attempts):
    res = runner.invoke(app, ["export", str(run_dir), "--format", "jsonl"])
    assert res.exit_code == 0, res.stderr
    lines = [json.loads(x) for x in res.stdout.splitlines()]
    assert len(lines) == len(all_attempts)
    assert {x["attempt_id"] for x in lines} == {a["id"] for a in all_attempts}
    res = runner.invoke(app, ["export", str(run_dir), "--format", "csv", "--verified-only"])
    assert res.exit_code == 0, res.stderr
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    assert len(rows) == len(list(export_rows(load_run(run_dir), True)))
    assert set(rows[0]) >= {"round", "checkpoint", "backend", "backend_version", "theorem_id", "statement", "proof"}


def test_export_to_file(run_dir, tmp_path):
    out = tmp_path / "sft.jsonl"
    res = runner.invoke(app, ["export", str(run_dir), "--verified-only", "-o", str(out)])
    assert res.exit_code == 0, res.stderr
    n = len(out.read_text().splitlines())
    assert n == len(list(export_rows(load_run(run_dir), True))) and f"wrote {n} rows" in res.stderr


def test_query_filters_match_a_direct_count(run_dir, all_attempts):
    run = load_run(run_dir)
    assert len(query_attempts(run)) == len(all_attempts)
    assert len(query_attempts(run, round=2)) == sum(a["round"] == 2 for a in all_attempts)
    assert len(query_attempts(run, family="ring", verdict="rejected")) == \
        sum(a["family"] == "ring" and a["judge"] == "rejected" for a in all_attempts)
    dis = query_attempts(run, disagree=True)
    assert len(dis) == sum(a["gate"] is not None and a["gate"] != a["judge"] for a in all_attempts) > 0
    assert all(a["phase"] == "train" for a in dis)
    assert len(query_attempts(run, theorem="lin-0001", limit=3)) == 3
    assert [a["round"] for a in query_attempts(run)] == sorted(a["round"] for a in all_attempts)


@pytest.mark.parametrize("kwargs, message", [
    ({"round": 99}, "round 99 out of range"),
    ({"theorem": "nope-1"}, "unknown theorem id 'nope-1'"),
    ({"family": "geometry"}, "unknown family 'geometry'"),
    ({"verdict": "maybe"}, "unknown verdict 'maybe'"),
])
def test_query_rejects_bad_arguments(run_dir, kwargs, message):
    with pytest.raises(RunError, match=message):
        query_attempts(load_run(run_dir), **kwargs)


def test_load_run_errors(tmp_path):
    with pytest.raises(RunError, match="run directory not found"):
        load_run(tmp_path / "missing")
    (tmp_path / "file").write_text("x")
    with pytest.raises(RunError, match="not a directory"):
        load_run(tmp_path / "file")
    (tmp_path / "empty").mkdir()
    with pytest.raises(RunError, match="no run.db"):
        load_run(tmp_path / "empty")
    other = tmp_path / "other"
    other.mkdir()
    sqlite3.connect(other / "run.db").execute("CREATE TABLE x(a)").connection.commit()
    with pytest.raises(RunError, match="not a ratchet run store"):
        load_run(other)


def test_load_run_rejects_corrupt_summary(tiny):
    (tiny / "summary.json").write_text("{not json")
    with pytest.raises(RunError, match="summary.json: not valid JSON"):
        load_run(tiny)


def test_load_run_falls_back_to_store_summaries(run_dir, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    (copy / "summary.json").unlink()
    run = load_run(copy)
    assert [s.round for s in run.round_summaries()] == [0, 1, 2, 3]


# -- the commands ------------------------------------------------------------------------------

@pytest.mark.parametrize("args", [
    ["logs", "{missing}"],
    ["logs", "{run}", "--round", "42"],
    ["logs", "{run}", "--theorem", "zzz-9999"],
    ["logs", "{run}", "--verdict", "great"],
    ["show", "{run}", "zzz-9999"],
    ["show", "{missing}", "lin-0000"],
    ["diff", "{run}", "--from", "0", "--to", "9"],
    ["diff", "{run}", "--from", "-1", "--to", "1"],
    ["export", "{missing}"],
    ["report", "{run}", "{missing}", "-o", "{tmp}/r.html"],
])
def test_bad_arguments_exit_2_with_one_line(run_dir, tmp_path, args):
    fill = {"run": str(run_dir), "missing": str(tmp_path / "no-such-run"), "tmp": str(tmp_path)}
    res = runner.invoke(app, [a.format(**fill) for a in args])
    assert res.exit_code == 2
    assert res.stderr.startswith("error: ") and len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert res.stdout == ""
    assert not (tmp_path / "r.html").exists()


def test_logs_table_and_json(run_dir, all_attempts):
    res = runner.invoke(app, ["logs", str(run_dir), "--round", "1", "--family", "prop", "--limit", "5"])
    assert res.exit_code == 0, res.stderr
    for col in ("round", "phase", "theorem", "family", "sample", "verdict", "gate", "seconds", "proof", "reason"):
        assert col in res.stdout
    assert "prop-" in res.stdout and "lin-" not in res.stdout
    res = runner.invoke(app, ["logs", str(run_dir), "--verdict", "timeout", "--json"])
    rows = [json.loads(x) for x in res.stdout.splitlines()]
    assert len(rows) == sum(a["judge"] == "timeout" for a in all_attempts) > 0
    assert all(r["judge"] == "timeout" and r["judge_reason"] for r in rows)
    res = runner.invoke(app, ["logs", str(run_dir), "--disagree", "--json"])
    rows = [json.loads(x) for x in res.stdout.splitlines()]
    assert rows and all(r["gate"] != r["judge"] and r["gate"] is not None for r in rows)


def test_show_tells_the_story(tiny):
    res = runner.invoke(app, ["show", str(tiny), "h1"])
    assert res.exit_code == 0, res.stderr
    out = res.stdout
    assert "coq statement:  coq_h1 : 1 = 1" in out
    assert "first proved: round 0" in out and "lost: yes" in out and "round(s) 1" in out
    assert out.index("round 0  (checkpoint base)") < out.index("round 1  (checkpoint round-1)")
    res = runner.invoke(app, ["show", str(tiny), "t1"])
    assert "admitted to round 0 SFT set: bad.  FALSE (judge: rejected)" in res.stdout
    res = runner.invoke(app, ["show", str(tiny), "t1", "--json"])
    story = json.loads(res.stdout)
    assert story["first_proved"] == 1 and story["lost_in"] == [2] and len(story["rounds"]) == 3


def test_diff_command(tiny):
    res = runner.invoke(app, ["diff", str(tiny), "--from", "0", "--to", "1"])
    assert res.exit_code == 0, res.stderr
    assert "held-out theorems, proved = a judge-verified eval sample or greedy decode: +1 gained, -1 lost" in res.stdout
    assert "+h2" in res.stdout and "-h1" in res.stdout and "+t1" in res.stdout
    res = runner.invoke(app, ["diff", str(tiny), "--from", "0", "--to", "1", "--json"])
    fams = {(f["pool"], f["family"]): f for f in json.loads(res.stdout)["families"]}
    assert fams["heldout", "lin"]["gained"] == ["h2"] and fams["heldout", "lin"]["lost"] == ["h1"]


def test_commands_on_synthetic_run(run_dir):
    for args in (["show", str(run_dir), "canary-000"], ["diff", str(run_dir), "--from", "0", "--to", "3"],
                 ["logs", str(run_dir), "--theorem", "ring-0002"]):
        res = runner.invoke(app, args)
        assert res.exit_code == 0, (args, res.stderr)
        assert res.stdout.strip()
    res = runner.invoke(app, ["show", str(run_dir), "canary-000"])
    assert "first proved: never" in res.stdout  # canaries are false: the judge never verifies them


def test_logs_plain_layout_for_many_rows(run_dir, all_attempts, monkeypatch):
    """Above RICH_TABLE_ROWS the same columns are printed with plain padding (rich is too slow at 100k rows)."""
    import loop.commands_inspect as ci

    monkeypatch.setattr(ci, "RICH_TABLE_ROWS", 10)
    res = runner.invoke(app, ["logs", str(run_dir), "--round", "0"])
    assert res.exit_code == 0, res.stderr
    lines = res.stdout.splitlines()
    n = sum(a["round"] == 0 for a in all_attempts)
    assert lines[0].endswith(f"{n} attempts (plain layout above 10 rows)") and len(lines) == n + 3
    assert lines[1].split() == list(ci.LOG_COLUMNS)
    first = next(a for a in all_attempts if a["round"] == 0)
    assert lines[3].split()[:6] == ["0", first["phase"], first["theorem_id"], first["family"],
                                    str(first["sample_idx"]), first["judge"]]


def test_control_characters_in_model_output_are_escaped(tiny):
    """A sampled proof can contain terminal escape codes; `show` and `logs` print them escaped."""
    store = Store(tiny / "run.db")
    store.add_attempts([_attempt(2, "train", "t1", 5, "rejected", proof="lia.\x1b[2J\x07 done.")])
    store.close()
    for args in (["show", str(tiny), "t1"], ["logs", str(tiny), "--theorem", "t1"]):
        res = runner.invoke(app, args)
        assert res.exit_code == 0, res.stderr
        assert "\x1b" not in res.stdout and "\x07" not in res.stdout
        assert "lia.\\x1b[2J\\x07 done." in res.stdout


def test_show_prints_brackets_in_proofs_and_messages_verbatim(tmp_path):
    """Coq proofs (`induction n as [| k IH]`), list statements and syntax errors are full of [brackets]:
    they must reach the terminal as written, not be eaten as console markup."""
    from loop.store import Attempt, Store

    run = tmp_path / "run"
    run.mkdir()
    store = Store(run / "run.db")
    store.add_theorems([{"id": "induct/x", "family": "induct", "difficulty": 1, "pool": "heldout", "name": "t_x",
                         "statement": "rev [1; 2] = [2; 1]", "statement_coq": "rev [1; 2] = [2; 1]",
                         "statement_lean": None}])
    store.add_attempts([Attempt(0, "eval", "induct/x", 0, "induction n as [| k IH]; simpl; lia.", "rejected",
                                "rejected: Error: Syntax error: [ltac_use_default] expected after [tactic].",
                                None, None, 0.1, 9, "base")])
    store.set_meta("backend", "coq")
    store.set_meta("backend_version", "8.16.1")
    store.close()
    result = CliRunner().invoke(app, ["show", str(run), "induct/x"], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    for text in ("[1; 2] = [2; 1]", "as [| k IH]", "[ltac_use_default] expected after [tactic]"):
        assert text in result.output, text
