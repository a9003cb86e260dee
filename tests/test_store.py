"""The store's vocabulary, its schema, old stores, and the rule that SQL lives only in loop/store.py."""
from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest

from loop.store import SCHEMA, Attempt, Phase, Stage, Store, StoreError
from prover.verdict import Status

LOOP = Path(__file__).resolve().parent.parent / "loop"


def test_the_enums_write_the_check_lists(tmp_path):
    for enum, column in ((Phase, "phase"), (Status, "judge"), (Stage, "stage")):
        listed = re.search(rf"{column} TEXT NOT NULL CHECK\({column} IN \(([^)]*)\)\)", SCHEMA).group(1)
        assert listed == ",".join(f"'{m.value}'" for m in enum)
    store = Store(tmp_path / "run.db")
    store.add_theorems([{"id": "t", "family": "lin", "difficulty": 1, "pool": "train", "name": "t",
                         "statement": "s", "statement_coq": "s", "statement_lean": None}])
    good = Attempt(0, Phase.TRAIN.value, "t", 0, "lia.", "verified", "", "verified", "", 0.1, 3, "base")
    assert store.add_attempts([good]) == 1
    # The CHECK refuses an unknown phase (INSERT OR IGNORE turns the refusal into "not stored").
    assert store.add_attempts([Attempt(0, "pool", "t", 1, "lia.", "verified", "", None, None, 0.1, 3, "base")]) == 0
    assert [a["phase"] for a in store.attempts()] == ["train"]
    with pytest.raises(ValueError):
        store.mark_stage(0, "timings")  # not a stage
    store.close()


def test_the_attempt_phase_of_the_pool_is_not_a_stage_name():
    # "train" names the attempts of the training pool; the LoRA stage is "finetune". (The stage "eval"
    # makes the "eval" attempts: one thing, one name.)
    assert Phase.TRAIN.value not in {s.value for s in Stage}


def _old_store(path: Path) -> None:
    """A store as written before the finetune stage and the timings table (the schema of then)."""
    db = sqlite3.connect(path)
    db.executescript("""
    CREATE TABLE theorems(id TEXT PRIMARY KEY, family TEXT NOT NULL, difficulty INTEGER NOT NULL, pool TEXT NOT NULL,
      name TEXT NOT NULL, statement TEXT NOT NULL, statement_coq TEXT, statement_lean TEXT);
    CREATE TABLE attempts(id INTEGER PRIMARY KEY, round INTEGER NOT NULL,
      phase TEXT NOT NULL CHECK(phase IN ('train','eval','greedy')), theorem_id TEXT NOT NULL, sample_idx INTEGER NOT NULL,
      proof TEXT NOT NULL, judge TEXT NOT NULL, judge_reason TEXT NOT NULL DEFAULT '', gate TEXT, gate_reason TEXT,
      seconds REAL NOT NULL DEFAULT 0, tokens INTEGER NOT NULL DEFAULT 0, checkpoint TEXT NOT NULL,
      created_at REAL NOT NULL, UNIQUE(round, phase, theorem_id, sample_idx));
    CREATE TABLE admitted(round INTEGER NOT NULL, theorem_id TEXT NOT NULL, proof TEXT NOT NULL, attempt_id INTEGER,
      PRIMARY KEY(round, theorem_id, proof));
    CREATE TABLE stages(round INTEGER NOT NULL, stage TEXT NOT NULL, finished_at REAL NOT NULL,
      info TEXT NOT NULL DEFAULT '{}', PRIMARY KEY(round, stage));
    CREATE TABLE rounds(round INTEGER PRIMARY KEY, summary TEXT NOT NULL);
    CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
    """)
    db.execute("INSERT INTO stages VALUES(0,'train',1.0,?)", (json.dumps({"steps": 7}),))
    db.execute("INSERT INTO stages VALUES(0,'timings',1.0,?)", (json.dumps({"sample": 2.5, "verify": 1.0}),))
    db.execute("INSERT INTO stages VALUES(0,'select',1.0,'{\"admitted\": 3}')")
    db.commit()
    db.close()


def test_an_old_store_reads_as_it_is_and_upgrades_when_written(tmp_path):
    path = tmp_path / "run.db"
    _old_store(path)
    ro = Store(path, readonly=True)
    assert ro.timings(0) == {"sample": 2.5, "verify": 1.0}
    ro.close()
    store = Store(path)  # opened for writing: the old names become today's
    assert store.stage_done(0, Stage.FINETUNE) and store.stage_info(0, Stage.FINETUNE) == {"steps": 7}
    assert store.timings(0) == {"sample": 2.5, "verify": 1.0}
    assert store.stage_info(0, Stage.SELECT) == {"admitted": 3}
    store.close()
    stages = {r[0] for r in sqlite3.connect(path).execute("SELECT stage FROM stages")}
    assert stages == {"finetune", "select"}
    Store(path).close()  # idempotent


def test_an_old_admitted_table_reads_as_one_copy_per_row_and_gains_the_column(tmp_path):
    path = tmp_path / "run.db"
    _old_store(path)
    db = sqlite3.connect(path)
    db.execute("INSERT INTO admitted VALUES(0, 't', 'lia.', NULL)")
    db.commit()
    db.close()
    ro = Store(path, readonly=True)  # never written: copies reads as 1
    assert [tuple(r) for r in ro.admitted(0)] == [(0, "t", "lia.", None, 1)]
    assert ro.admitted_count() == 1 and len(ro.sft_rows(0)) == 1
    ro.close()
    store = Store(path)
    store.set_admitted(1, [("t", "lia.", 5), ("t", "lia.", 6), ("t", "auto.", 7)])
    assert [(r["proof"], r["attempt_id"], r["copies"]) for r in store.admitted(1)] == [("auto.", 7, 1),
                                                                                        ("lia.", 5, 2)]
    assert store.admitted_count() == 4
    store.close()


def test_timings_are_stored_with_the_stage_they_end(tmp_path):
    store = Store(tmp_path / "run.db")
    store.mark_stage(1, Stage.SAMPLE, timings={"sample": 1.5})
    assert store.stage_done(1, Stage.SAMPLE) and store.timings(1) == {"sample": 1.5}
    assert store.timings(2) == {}
    store.close()


def test_readonly_refuses_what_is_not_a_store(tmp_path):
    (tmp_path / "x.db").write_bytes(b"not sqlite at all, just some bytes" * 10)
    with pytest.raises(StoreError, match="cannot read"):
        Store(tmp_path / "x.db", readonly=True)
    sqlite3.connect(tmp_path / "y.db").execute("CREATE TABLE other(x)").connection.commit()
    with pytest.raises(StoreError, match="missing tables"):
        Store(tmp_path / "y.db", readonly=True)


_SQL = re.compile(r"\.execute(many|script)?\(|\bSELECT\b.*\bFROM\b|\bINSERT\s+INTO\b|\bsqlite3\.connect\(")


def test_no_sql_outside_the_store():
    offenders = [f"{p.name}:{i}: {line.strip()}" for p in sorted(LOOP.glob("*.py")) if p.name != "store.py"
                 for i, line in enumerate(p.read_text().splitlines(), 1) if _SQL.search(line)]
    assert not offenders, "\n".join(offenders)
