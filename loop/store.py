"""The run store: one SQLite file per run holding every attempt and both verdicts.

Tables
------
theorems   every theorem the run knows: id, family, difficulty, pool
           (warmstart | train | heldout | canary), name and statement in the
           run's backend language, plus both renderings.
attempts   one row per sampled proof. ``phase`` is ``train`` (training-pool
           sampling, gated), ``eval`` (held-out samples) or ``greedy`` (held-out
           greedy decode). ``judge`` is the ground-truth verdict; ``gate`` is what
           decided admission (NULL outside ``train``). UNIQUE(round, phase,
           theorem_id, sample_idx) makes a resumed run unable to duplicate.
admitted   the SFT set: (round, theorem_id, proof) chosen by selection.
stages     finished markers: a stage listed here is a no-op on resume.
rounds     the per-round summary (JSON), as written to summary.json.
meta       key/value facts about the run (backend, backend_version, ...).

Writes are committed per batch, so a SIGKILL loses at most the batch in flight.
"""
from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

SCHEMA = """
CREATE TABLE IF NOT EXISTS theorems(
  id TEXT PRIMARY KEY,
  family TEXT NOT NULL,
  difficulty INTEGER NOT NULL,
  pool TEXT NOT NULL,
  name TEXT NOT NULL,
  statement TEXT NOT NULL,
  statement_coq TEXT,
  statement_lean TEXT
);
CREATE TABLE IF NOT EXISTS attempts(
  id INTEGER PRIMARY KEY,
  round INTEGER NOT NULL,
  phase TEXT NOT NULL CHECK(phase IN ('train','eval','greedy')),
  theorem_id TEXT NOT NULL REFERENCES theorems(id),
  sample_idx INTEGER NOT NULL,
  proof TEXT NOT NULL,
  judge TEXT NOT NULL CHECK(judge IN ('verified','rejected','timeout','error')),
  judge_reason TEXT NOT NULL DEFAULT '',
  gate TEXT CHECK(gate IS NULL OR gate IN ('verified','rejected','timeout','error')),
  gate_reason TEXT,
  seconds REAL NOT NULL DEFAULT 0,
  tokens INTEGER NOT NULL DEFAULT 0,
  checkpoint TEXT NOT NULL,
  created_at REAL NOT NULL,
  UNIQUE(round, phase, theorem_id, sample_idx)
);
CREATE INDEX IF NOT EXISTS attempts_theorem ON attempts(theorem_id);
CREATE INDEX IF NOT EXISTS attempts_round_phase ON attempts(round, phase);
CREATE TABLE IF NOT EXISTS admitted(
  round INTEGER NOT NULL,
  theorem_id TEXT NOT NULL,
  proof TEXT NOT NULL,
  attempt_id INTEGER REFERENCES attempts(id),
  PRIMARY KEY(round, theorem_id, proof)
);
CREATE TABLE IF NOT EXISTS stages(
  round INTEGER NOT NULL,
  stage TEXT NOT NULL,
  finished_at REAL NOT NULL,
  info TEXT NOT NULL DEFAULT '{}',
  PRIMARY KEY(round, stage)
);
CREATE TABLE IF NOT EXISTS rounds(
  round INTEGER PRIMARY KEY,
  summary TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meta(
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class Attempt:
    round: int
    phase: str
    theorem_id: str
    sample_idx: int
    proof: str
    judge: str
    judge_reason: str
    gate: str | None
    gate_reason: str | None
    seconds: float
    tokens: int
    checkpoint: str


def _migrate_source_columns(db: sqlite3.Connection) -> None:
    """theorems.file / theorems.line (where a library lemma is stated; NULL otherwise), added to
    stores written before theorem sources existed."""
    have = {row[1] for row in db.execute("PRAGMA table_info(theorems)")}
    for column, kind in (("file", "TEXT"), ("line", "INTEGER")):
        if column not in have:
            db.execute(f"ALTER TABLE theorems ADD COLUMN {column} {kind}")


class Store:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.db = sqlite3.connect(self.path, timeout=60)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)
        _migrate_source_columns(self.db)
        self.db.commit()

    def close(self) -> None:
        self.db.close()

    # -- meta ---------------------------------------------------------------
    def set_meta(self, key: str, value) -> None:
        with self.db:
            self.db.execute("INSERT OR REPLACE INTO meta VALUES(?,?)", (key, json.dumps(value)))

    def get_meta(self, key: str, default=None):
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return json.loads(row[0]) if row else default

    # -- theorems -------------------------------------------------------------
    def add_theorems(self, rows: Iterable[dict]) -> None:
        rows = [{"file": None, "line": None, **r} for r in rows]  # file/line: library lemmas only
        with self.db:
            self.db.executemany(
                "INSERT OR IGNORE INTO theorems(id,family,difficulty,pool,name,statement,statement_coq,statement_lean,"
                "file,line) VALUES(:id,:family,:difficulty,:pool,:name,:statement,:statement_coq,:statement_lean,"
                ":file,:line)", rows)

    def theorem(self, theorem_id: str) -> sqlite3.Row | None:
        return self.db.execute("SELECT * FROM theorems WHERE id=?", (theorem_id,)).fetchone()

    # -- attempts -------------------------------------------------------------
    def add_attempts(self, attempts: Iterable[Attempt]) -> int:
        """Insert a batch in one transaction; rows already present are left alone."""
        now = time.time()
        with self.db:
            cur = self.db.executemany(
                "INSERT OR IGNORE INTO attempts(round,phase,theorem_id,sample_idx,proof,judge,judge_reason,"
                "gate,gate_reason,seconds,tokens,checkpoint,created_at) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?)",
                [(a.round, a.phase, a.theorem_id, a.sample_idx, a.proof, a.judge, a.judge_reason, a.gate,
                  a.gate_reason, a.seconds, a.tokens, a.checkpoint, now) for a in attempts])
        return cur.rowcount

    def done_theorems(self, round_: int, phase: str) -> set[str]:
        """Theorems whose attempts for (round, phase) are already stored (batches commit whole theorems)."""
        rows = self.db.execute("SELECT DISTINCT theorem_id FROM attempts WHERE round=? AND phase=?", (round_, phase))
        return {r[0] for r in rows}

    def attempts(self, round_: int | None = None, phase: str | None = None) -> Iterator[sqlite3.Row]:
        q, args = "SELECT * FROM attempts WHERE 1=1", []
        if round_ is not None:
            q += " AND round=?"
            args.append(round_)
        if phase is not None:
            q += " AND phase=?"
            args.append(phase)
        yield from self.db.execute(q + " ORDER BY id", args)

    # -- admitted set ---------------------------------------------------------
    def set_admitted(self, round_: int, rows: Iterable[tuple[str, str, int | None]]) -> None:
        with self.db:
            self.db.execute("DELETE FROM admitted WHERE round=?", (round_,))
            self.db.executemany("INSERT OR IGNORE INTO admitted VALUES(?,?,?,?)",
                                [(round_, t, p, a) for t, p, a in rows])

    def admitted(self, round_: int) -> list[sqlite3.Row]:
        return self.db.execute("SELECT * FROM admitted WHERE round=? ORDER BY theorem_id, proof", (round_,)).fetchall()

    # -- stages and summaries -------------------------------------------------
    def stage_done(self, round_: int, stage: str) -> bool:
        return self.db.execute("SELECT 1 FROM stages WHERE round=? AND stage=?", (round_, stage)).fetchone() is not None

    def mark_stage(self, round_: int, stage: str, info: dict | None = None) -> None:
        with self.db:
            self.db.execute("INSERT OR REPLACE INTO stages VALUES(?,?,?,?)",
                            (round_, stage, time.time(), json.dumps(info or {})))

    def stage_info(self, round_: int, stage: str) -> dict:
        row = self.db.execute("SELECT info FROM stages WHERE round=? AND stage=?", (round_, stage)).fetchone()
        return json.loads(row[0]) if row else {}

    def set_round_summary(self, round_: int, summary: dict) -> None:
        with self.db:
            self.db.execute("INSERT OR REPLACE INTO rounds VALUES(?,?)", (round_, json.dumps(summary)))

    def round_summaries(self) -> list[dict]:
        return [json.loads(r[0]) for r in self.db.execute("SELECT summary FROM rounds ORDER BY round")]
