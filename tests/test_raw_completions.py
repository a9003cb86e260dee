"""The raw completion beside the proof body in the run store: column, migration of old stores,
and `ratchet show` / `ratchet logs` printing both when they differ."""
from __future__ import annotations

import json
import sqlite3

from typer.testing import CliRunner

from loop.cli import app
from loop.runview import load_run, query_attempts
from loop.store import SCHEMA, Attempt, Store

RAW = "<think>linear</think>\n```coq\nProof.\n  lia.\nQed.\n```\nDone."


def _old_store(path) -> None:
    """A store as written before the raw column existed."""
    old = SCHEMA.replace("  raw TEXT,\n", "")
    assert old != SCHEMA
    db = sqlite3.connect(path)
    db.executescript(old)
    db.execute("INSERT INTO theorems VALUES('lin/1','lin',1,'heldout','t1','S','S','S')")
    db.execute("INSERT INTO attempts(round,phase,theorem_id,sample_idx,proof,judge,checkpoint,created_at)"
               " VALUES(0,'eval','lin/1',0,'lia.','verified','base',0)")
    db.execute("INSERT INTO meta VALUES('backend', ?)", (json.dumps("coq"),))
    db.commit()
    db.close()


def test_old_store_reads_without_raw_and_migrates_on_open(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    _old_store(run / "run.db")
    old = load_run(run)  # read-only, as `ratchet logs` opens it
    assert [a["raw"] for a in query_attempts(old)] == [None]
    old.close()
    store = Store(run / "run.db")
    store.add_attempts([Attempt(0, "eval", "lin/1", 1, "lia.", "verified", "", None, None, 0.1, 9, "base", raw=RAW)])
    store.close()
    reopened = load_run(run)
    assert [a["raw"] for a in query_attempts(reopened)] == [None, RAW]
    reopened.close()

    runner = CliRunner()
    shown = runner.invoke(app, ["show", str(run), "lin/1"], env={"COLUMNS": "200"})
    assert shown.exit_code == 0, shown.output
    assert "-- completion:" in shown.stdout and "<think>linear</think>" in shown.stdout
    logs = runner.invoke(app, ["logs", str(run)], env={"COLUMNS": "200"})
    assert logs.stdout.count("| raw:") == 1  # only the attempt whose completion differs from its body
    as_json = [json.loads(line) for line in runner.invoke(app, ["logs", str(run), "--json"]).stdout.splitlines()]
    assert [a["raw"] for a in as_json] == [None, RAW] and {a["proof"] for a in as_json} == {"lia."}
