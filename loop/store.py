"""The run store: one SQLite file per run holding every attempt and both verdicts.

This module is the one home of the store's vocabulary (the enums below, which
also write the schema's CHECK lists) and of its SQL: every other module asks a
named query of ``Store`` and never writes SQL of its own.

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
           ``proof`` is the extracted proof body (what is verified and trained
           on); ``raw`` the model's completion when it differs from the body
           (NULL: the completion was the body). A completion refused before
           any prover ran has proof '' and judge ``rejected`` with the reason.
admitted   the SFT set: (round, theorem_id, proof) chosen by selection, with ``copies``, how many
           times the text is in the set (1 except under ``select.mode: raw``, which keeps every
           sample as sampled: identical texts are one row with their multiplicity, because the key
           forbids duplicates; ``attempt_id`` is the first of them). Training and ``ratchet export``
           repeat a row ``copies`` times.
stages     finished markers: a stage listed here is a no-op on resume.
timings    per round, the seconds spent so far in each part of the round.
rounds     the per-round summary (JSON), as written to summary.json.
meta       key/value facts about the run (backend, backend_version, ...).

Writes are committed per batch, so a SIGKILL loses at most the batch in flight.
Stores written before the stage ``train`` became ``finetune`` and before timings
had their own table are brought up to date when opened for writing, and read
as they are when opened read-only.
"""
from __future__ import annotations

import enum
import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Sequence

from prover.verdict import Status


class Phase(str, enum.Enum):
    """What an attempt was sampled for."""
    TRAIN = "train"  # the training pool, gated; admitted proofs may become training data
    EVAL = "eval"  # held-out samples, for pass@1 and pass@k
    GREEDY = "greedy"  # one held-out greedy decode, for greedy pass@1

    def __str__(self) -> str:
        return self.value


HELDOUT_PHASES = (Phase.EVAL, Phase.GREEDY)


class Stage(str, enum.Enum):
    """The parts of a round, in order; a finished one is marked in ``stages``."""
    EVAL = "eval"  # held-out sampling and judging
    ENTROPY = "entropy"  # policy entropy on the probe set
    SAMPLE = "sample"  # training-pool sampling, judging and gating
    SELECT = "select"  # the SFT set
    FINETUNE = "finetune"  # LoRA fine-tune: the next round's policy
    SUMMARY = "summary"  # the round's summary is stored

    def __str__(self) -> str:
        return self.value


class Pool(str, enum.Enum):
    WARMSTART = "warmstart"
    TRAIN = "train"
    HELDOUT = "heldout"
    CANARY = "canary"

    def __str__(self) -> str:
        return self.value


STATUSES = tuple(s.value for s in Status)
PHASES = tuple(p.value for p in Phase)
STAGES = tuple(s.value for s in Stage)


def _in(values: Iterable[enum.Enum]) -> str:
    return ",".join(f"'{v.value}'" for v in values)


SCHEMA = f"""
CREATE TABLE IF NOT EXISTS theorems(
  id TEXT PRIMARY KEY,
  family TEXT NOT NULL,
  difficulty INTEGER NOT NULL,
  pool TEXT NOT NULL CHECK(pool IN ({_in(Pool)})),
  name TEXT NOT NULL,
  statement TEXT NOT NULL,
  statement_coq TEXT,
  statement_lean TEXT
);
CREATE TABLE IF NOT EXISTS attempts(
  id INTEGER PRIMARY KEY,
  round INTEGER NOT NULL,
  phase TEXT NOT NULL CHECK(phase IN ({_in(Phase)})),
  theorem_id TEXT NOT NULL REFERENCES theorems(id),
  sample_idx INTEGER NOT NULL,
  proof TEXT NOT NULL,
  judge TEXT NOT NULL CHECK(judge IN ({_in(Status)})),
  judge_reason TEXT NOT NULL DEFAULT '',
  gate TEXT CHECK(gate IS NULL OR gate IN ({_in(Status)})),
  gate_reason TEXT,
  seconds REAL NOT NULL DEFAULT 0,
  tokens INTEGER NOT NULL DEFAULT 0,
  checkpoint TEXT NOT NULL,
  created_at REAL NOT NULL,
  raw TEXT,
  UNIQUE(round, phase, theorem_id, sample_idx)
);
CREATE INDEX IF NOT EXISTS attempts_theorem ON attempts(theorem_id);
CREATE INDEX IF NOT EXISTS attempts_round_phase ON attempts(round, phase);
CREATE TABLE IF NOT EXISTS admitted(
  round INTEGER NOT NULL,
  theorem_id TEXT NOT NULL,
  proof TEXT NOT NULL,
  attempt_id INTEGER REFERENCES attempts(id),
  copies INTEGER NOT NULL DEFAULT 1,
  PRIMARY KEY(round, theorem_id, proof)
);
CREATE TABLE IF NOT EXISTS stages(
  round INTEGER NOT NULL,
  stage TEXT NOT NULL CHECK(stage IN ({_in(Stage)})),
  finished_at REAL NOT NULL,
  info TEXT NOT NULL DEFAULT '{{}}',
  PRIMARY KEY(round, stage)
);
CREATE TABLE IF NOT EXISTS timings(
  round INTEGER PRIMARY KEY,
  seconds TEXT NOT NULL
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

REQUIRED_TABLES = ("theorems", "attempts", "admitted", "meta")

# Stores written by earlier versions: the stage names they used for what is now named otherwise.
_OLD_STAGE_NAMES = {"train": Stage.FINETUNE}
_OLD_TIMINGS_STAGE = "timings"


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
    raw: str | None = None  # the completion, when it differs from the body in `proof`


class StoreError(RuntimeError):
    """The file is not a readable ratchet run store; str() is one line."""


def _marks(values: Sequence) -> str:
    return ",".join("?" * len(values))


def _migrate_admitted_copies(db: sqlite3.Connection) -> None:
    """admitted.copies (multiplicity of a text in the SFT set), added to stores written before
    ``select.mode: raw`` existed: every row there was one copy."""
    if "copies" not in {row[1] for row in db.execute("PRAGMA table_info(admitted)")}:
        db.execute("ALTER TABLE admitted ADD COLUMN copies INTEGER NOT NULL DEFAULT 1")


def _migrate_source_columns(db: sqlite3.Connection) -> None:
    """theorems.file / theorems.line (where a library lemma is stated; NULL otherwise), added to
    stores written before theorem sources existed."""
    have = {row[1] for row in db.execute("PRAGMA table_info(theorems)")}
    for column, kind in (("file", "TEXT"), ("line", "INTEGER")):
        if column not in have:
            db.execute(f"ALTER TABLE theorems ADD COLUMN {column} {kind}")


class Store:
    """A run's store. ``readonly=True`` opens an existing store for inspection: it never writes,
    never blocks a run that is still writing, and raises StoreError if the file is not a store."""

    def __init__(self, path: str | Path, readonly: bool = False):
        self.path = Path(path)
        self.readonly = readonly
        if readonly:
            try:
                self.db = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
                self.db.row_factory = sqlite3.Row
                self._tables = {r[0] for r in self.db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            except sqlite3.DatabaseError as e:
                raise StoreError(f"{self.path}: cannot read the run store ({e})") from None
            missing = set(REQUIRED_TABLES) - self._tables
            if missing:
                self.db.close()
                raise StoreError(f"{self.path}: not a ratchet run store "
                                 f"(missing tables: {', '.join(sorted(missing))})")
            return
        self.db = sqlite3.connect(self.path, timeout=60)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)
        if "raw" not in {r[1] for r in self.db.execute("PRAGMA table_info(attempts)")}:
            self.db.execute("ALTER TABLE attempts ADD COLUMN raw TEXT")  # a store written before raw existed
        _migrate_source_columns(self.db)
        _migrate_admitted_copies(self.db)
        self.db.commit()
        self._tables = {r[0] for r in self.db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        self._upgrade()

    def _upgrade(self) -> None:
        """Bring a store written by an earlier version to today's names (idempotent)."""
        with self.db:
            for old, new in _OLD_STAGE_NAMES.items():
                self.db.execute("UPDATE OR IGNORE stages SET stage=? WHERE stage=?", (new.value, old))
            for round_, info in self.db.execute("SELECT round, info FROM stages WHERE stage=?",
                                                (_OLD_TIMINGS_STAGE,)).fetchall():
                self.db.execute("INSERT OR IGNORE INTO timings VALUES(?,?)", (round_, info))
            self.db.execute("DELETE FROM stages WHERE stage=?", (_OLD_TIMINGS_STAGE,))

    def close(self) -> None:
        self.db.close()

    # -- meta ---------------------------------------------------------------
    def set_meta(self, key: str, value) -> None:
        with self.db:
            self.db.execute("INSERT OR REPLACE INTO meta VALUES(?,?)", (key, json.dumps(value)))

    def get_meta(self, key: str, default=None):
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return json.loads(row[0]) if row else default

    def meta(self) -> dict:
        return {r[0]: json.loads(r[1]) for r in self.db.execute("SELECT key, value FROM meta")}

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

    def theorems(self) -> list[sqlite3.Row]:
        return self.db.execute("SELECT * FROM theorems").fetchall()

    def theorem_ids_like(self, fragment: str, limit: int) -> list[str]:
        """Ids containing `fragment`, for "did you mean" hints."""
        return [r[0] for r in self.db.execute("SELECT id FROM theorems WHERE id LIKE ? ORDER BY id LIMIT ?",
                                              (f"%{fragment}%", limit))]

    def families(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT DISTINCT family FROM theorems ORDER BY family")]

    def family_of(self) -> dict[str, str]:
        return {r[0]: r[1] for r in self.db.execute("SELECT id, family FROM theorems")}

    def pool_sizes(self) -> dict[str, int]:
        return dict(self.db.execute("SELECT pool, COUNT(*) FROM theorems GROUP BY pool").fetchall())

    # -- attempts -------------------------------------------------------------
    def add_attempts(self, attempts: Iterable[Attempt]) -> int:
        """Insert a batch in one transaction; rows already present are left alone."""
        now = time.time()
        with self.db:
            cur = self.db.executemany(
                "INSERT OR IGNORE INTO attempts(round,phase,theorem_id,sample_idx,proof,judge,judge_reason,"
                "gate,gate_reason,seconds,tokens,checkpoint,created_at,raw) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                [(a.round, a.phase, a.theorem_id, a.sample_idx, a.proof, a.judge, a.judge_reason, a.gate,
                  a.gate_reason, a.seconds, a.tokens, a.checkpoint, now, a.raw) for a in attempts])
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

    def has_attempts(self, round_: int, phase: str) -> bool:
        return self.db.execute("SELECT 1 FROM attempts WHERE round=? AND phase=? LIMIT 1",
                               (round_, phase)).fetchone() is not None

    def attempt_count(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM attempts").fetchone()[0]

    def attempt_rounds(self) -> set[int]:
        return {r[0] for r in self.db.execute("SELECT DISTINCT round FROM attempts")}

    def round_checkpoint(self, round_: int) -> str | None:
        """The checkpoint recorded on the round's attempts (None if it has none)."""
        row = self.db.execute("SELECT checkpoint FROM attempts WHERE round=? LIMIT 1", (round_,)).fetchone()
        return row[0] if row else None

    def judged_verdicts(self) -> Iterator[sqlite3.Row]:
        """theorem_id, proof, judge, judge_reason, seconds of every attempt the judge did judge."""
        judged = (Status.VERIFIED, Status.REJECTED, Status.TIMEOUT)
        yield from self.db.execute("SELECT theorem_id, proof, judge, judge_reason, seconds FROM attempts "
                                   f"WHERE judge IN ({_marks(judged)})", [s.value for s in judged])

    def round_volume(self, round_: int) -> tuple[int, int]:
        """(tokens sampled, attempts stored) in a round."""
        tokens, count = self.db.execute("SELECT COALESCE(SUM(tokens),0), COUNT(*) FROM attempts WHERE round=?",
                                        (round_,)).fetchone()
        return tokens, count

    def gate_admitted(self, round_: int) -> list[sqlite3.Row]:
        """Training-pool attempts of a round that the gate admitted, in the order they were made."""
        return self.db.execute("SELECT * FROM attempts WHERE round=? AND phase=? AND gate=? ORDER BY id",
                               (round_, Phase.TRAIN.value, Status.VERIFIED.value)).fetchall()

    def train_attempts(self, round_: int) -> list[tuple[int, str, str, str | None]]:
        """(id, theorem_id, proof, gate) of a round's training-pool attempts, in the order made: what
        ``select.mode: raw`` reads (loop.selection_raw)."""
        return [tuple(r) for r in self.db.execute(
            "SELECT id, theorem_id, proof, gate FROM attempts WHERE round=? AND phase=? ORDER BY id",
            (round_, Phase.TRAIN.value))]

    def heldout_attempts(self, round_: int) -> list[sqlite3.Row]:
        """theorem_id, phase, proof, judge and family ('?' if unknown) of a round's held-out attempts."""
        return self.db.execute(
            "SELECT a.theorem_id, a.phase, a.proof, a.judge, COALESCE(t.family, '?') AS family "
            "FROM attempts a LEFT JOIN theorems t ON t.id = a.theorem_id "
            f"WHERE a.round = ? AND a.phase IN ({_marks(HELDOUT_PHASES)}) ORDER BY a.id",
            (round_, *[p.value for p in HELDOUT_PHASES])).fetchall()

    def eval_verdicts(self, round_: int) -> list[tuple[str, str]]:
        """(theorem_id, judge) of every held-out ``eval`` sample of a round, in the order made:
        the counts behind pass@k and vs_base (``loop.stats.counts_from_verdicts``)."""
        return [(r[0], r[1]) for r in self.db.execute(
            "SELECT theorem_id, judge FROM attempts WHERE round=? AND phase=? ORDER BY id",
            (round_, Phase.EVAL.value))]

    def eval_rounds(self) -> list[int]:
        """Rounds with at least one held-out ``eval`` sample, in order."""
        return [r[0] for r in self.db.execute("SELECT DISTINCT round FROM attempts WHERE phase=? ORDER BY round",
                                              (Phase.EVAL.value,))]

    def pool_counts(self, round_: int) -> dict[str, int]:
        """What a round's training-pool sampling produced; see ``loop.metrics.pool_stats``."""
        row = self.db.execute(
            "SELECT COUNT(*) AS attempts,"
            " COALESCE(SUM(a.judge = :ok), 0) AS verified,"
            " COUNT(DISTINCT CASE WHEN a.judge = :ok THEN a.theorem_id END) AS theorems_proved,"
            " COALESCE(SUM(a.gate = :ok), 0) AS gate_admitted,"
            " COALESCE(SUM(a.gate = :ok AND a.judge != :ok), 0) AS false_admits,"
            " COALESCE(SUM(a.judge = :error), 0) AS judge_errors,"
            " COALESCE(SUM(a.gate = :ok AND t.pool = :canary), 0) AS canary_gate_admitted "
            "FROM attempts a LEFT JOIN theorems t ON t.id = a.theorem_id "
            "WHERE a.round = :round AND a.phase = :phase",
            {"ok": Status.VERIFIED.value, "error": Status.ERROR.value, "canary": Pool.CANARY.value,
             "round": round_, "phase": Phase.TRAIN.value}).fetchone()
        return {key: int(row[key]) for key in row.keys()}

    def proved_theorems(self, round_: int, phases: Sequence[str]) -> tuple[set[str], set[str]]:
        """(attempted, proved) theorem ids in one round over some phases; proved = any attempt verified."""
        rows = self.db.execute(
            f"SELECT theorem_id, MAX(judge = ?) FROM attempts WHERE round = ? AND phase IN ({_marks(phases)})"
            " GROUP BY theorem_id", (Status.VERIFIED.value, round_, *[str(p) for p in phases])).fetchall()
        return {r[0] for r in rows}, {r[0] for r in rows if r[1]}

    _ATTEMPT_COLUMNS = ("a.id, a.round, a.phase, a.theorem_id, t.family, t.pool, a.sample_idx, a.proof, a.judge, "
                        "a.judge_reason, a.gate, a.gate_reason, a.seconds, a.tokens, a.checkpoint, a.created_at")

    def _raw(self, alias: str = "") -> str:
        """The ``raw`` column, or NULL in a read-only store written before it existed."""
        cols = {r[1] for r in self.db.execute("PRAGMA table_info(attempts)")}
        return f"{alias}raw" if "raw" in cols else "NULL AS raw"

    def find_attempts(self, round_: int | None = None, theorem: str | None = None, family: str | None = None,
                      verdict: str | None = None, phase: str | None = None, disagree: bool = False,
                      limit: int | None = None) -> Iterator[dict]:
        """Attempts joined with their theorem's family and pool, by round then in the order made.

        ``verdict`` matches the judge; ``disagree`` keeps attempts whose gate differs from the judge.
        """
        where, args = ["1=1"], []
        for column, value in (("a.round", round_), ("a.theorem_id", theorem), ("t.family", family),
                              ("a.judge", verdict), ("a.phase", phase)):
            if value is not None:
                where.append(f"{column}=?")
                args.append(value)
        if disagree:
            where.append("a.gate IS NOT NULL AND a.gate != a.judge")
        sql = (f"SELECT {self._ATTEMPT_COLUMNS}, {self._raw('a.')} FROM attempts a LEFT JOIN theorems t ON t.id = a.theorem_id"
               f" WHERE {' AND '.join(where)} ORDER BY a.round, a.id")
        if limit is not None:
            sql += " LIMIT ?"
            args.append(int(limit))
        for row in self.db.execute(sql, args):
            yield dict(row)

    def _statement_column(self, backend: str) -> str:
        return f"t.statement_{backend}" if backend in ("coq", "lean") else "NULL"

    def export_attempts(self, backend: str) -> Iterator[dict]:
        """Every attempt with its theorem's family, pool and statement in `backend`'s language."""
        sql = ("SELECT a.id AS attempt_id, a.round, a.phase, a.checkpoint, a.theorem_id, t.family, t.pool,"
               f" COALESCE({self._statement_column(backend)}, t.statement) AS statement, a.sample_idx, a.proof,"
               " a.judge, a.judge_reason, a.gate, a.gate_reason, a.seconds, a.tokens FROM attempts a"
               " LEFT JOIN theorems t ON t.id = a.theorem_id ORDER BY a.round, a.id")
        for row in self.db.execute(sql):
            yield dict(row)

    def report_attempts(self) -> Iterator[tuple]:
        """(round, phase, theorem_id, sample_idx, judge, gate, seconds, proof, judge_reason, gate_reason, raw),
        by round then in the order made: the columns the HTML report embeds (raw: the completion where it
        differs from the body)."""
        yield from self.db.execute("SELECT round, phase, theorem_id, sample_idx, judge, gate, seconds, proof,"
                                   f" judge_reason, gate_reason, {self._raw()} FROM attempts ORDER BY round, id")

    # -- admitted set ---------------------------------------------------------
    def _copies(self, alias: str = "") -> str:
        """The ``copies`` column, or 1 in a read-only store written before it existed."""
        cols = {r[1] for r in self.db.execute("PRAGMA table_info(admitted)")}
        return f"{alias}copies" if "copies" in cols else "1"

    def set_admitted(self, round_: int, rows: Iterable[tuple[str, str, int | None]]) -> None:
        """Replace a round's SFT set. Identical (theorem_id, proof) rows become one row whose ``copies``
        counts them (the first one's attempt_id is kept); selection modes that dedup give copies = 1."""
        merged: dict[tuple[str, str], list] = {}
        for t, p, a in rows:
            if (t, p) in merged:
                merged[t, p][1] += 1
            else:
                merged[t, p] = [a, 1]
        with self.db:
            self.db.execute("DELETE FROM admitted WHERE round=?", (round_,))
            self.db.executemany("INSERT INTO admitted(round, theorem_id, proof, attempt_id, copies) VALUES(?,?,?,?,?)",
                                [(round_, t, p, a, n) for (t, p), (a, n) in merged.items()])

    def admitted(self, round_: int) -> list[sqlite3.Row]:
        """round, theorem_id, proof, attempt_id, copies of a round's SFT set, one row per distinct text."""
        return self.db.execute(f"SELECT round, theorem_id, proof, attempt_id, {self._copies()} AS copies"
                               " FROM admitted WHERE round=? ORDER BY theorem_id, proof", (round_,)).fetchall()

    def sft_rows(self, round_: int) -> list[sqlite3.Row]:
        """The SFT set as it is trained on: ``admitted`` with each row repeated ``copies`` times, in order."""
        return [row for row in self.admitted(round_) for _ in range(row["copies"])]

    def admitted_count(self) -> int:
        """Admitted examples over all rounds, copies counted (rows as trained on)."""
        return self.db.execute(f"SELECT COALESCE(SUM({self._copies()}), 0) FROM admitted").fetchone()[0]

    def admitted_with_verdicts(self, first_round: int | None, last_round: int) -> list[sqlite3.Row]:
        """round, theorem_id, proof, attempt_id, copies and the judge of the attempt it came from (NULL for
        warm-start rows or a missing attempt), over rounds first_round..last_round (None: from the start)."""
        return self.db.execute(
            f"SELECT ad.round, ad.theorem_id, ad.proof, ad.attempt_id, {self._copies('ad.')} AS copies, a.judge "
            "FROM admitted ad LEFT JOIN attempts a ON a.id = ad.attempt_id "
            "WHERE ad.round >= ? AND ad.round <= ? ORDER BY ad.round, ad.theorem_id, ad.proof",
            (first_round if first_round is not None else -1, last_round)).fetchall()

    def admitted_of_theorem(self, theorem_id: str) -> list[dict]:
        """One theorem's admitted proofs, every round, with judge and gate of the attempt each came from."""
        return [dict(r) for r in self.db.execute(
            "SELECT ad.round, ad.proof, ad.attempt_id, a.judge, a.gate FROM admitted ad"
            " LEFT JOIN attempts a ON a.id = ad.attempt_id WHERE ad.theorem_id=? ORDER BY ad.round, ad.proof",
            (theorem_id,))]

    def export_admitted(self, backend: str) -> Iterator[dict]:
        """The admitted table joined with its attempts and theorems (statement in `backend`'s language)."""
        sql = (f"SELECT ad.round, a.checkpoint, ad.theorem_id, t.family,"
               f" COALESCE({self._statement_column(backend)}, t.statement) AS statement, ad.proof, ad.attempt_id,"
               f" {self._copies('ad.')} AS copies, a.judge, a.gate FROM admitted ad"
               " LEFT JOIN attempts a ON a.id = ad.attempt_id"
               " LEFT JOIN theorems t ON t.id = ad.theorem_id ORDER BY ad.round, ad.theorem_id, ad.proof")
        for row in self.db.execute(sql):
            yield dict(row)

    # -- stages, timings and summaries ------------------------------------------
    def stage_done(self, round_: int, stage: Stage) -> bool:
        return self.db.execute("SELECT 1 FROM stages WHERE round=? AND stage=?",
                               (round_, Stage(stage).value)).fetchone() is not None

    def mark_stage(self, round_: int, stage: Stage, info: dict | None = None, timings: dict | None = None) -> None:
        """Mark a stage finished; with `timings`, the round's timings so far are stored in the same transaction."""
        with self.db:
            self.db.execute("INSERT OR REPLACE INTO stages VALUES(?,?,?,?)",
                            (round_, Stage(stage).value, time.time(), json.dumps(info or {})))
            if timings is not None:
                self.db.execute("INSERT OR REPLACE INTO timings VALUES(?,?)", (round_, json.dumps(timings)))

    def stage_info(self, round_: int, stage: Stage) -> dict:
        row = self.db.execute("SELECT info FROM stages WHERE round=? AND stage=?",
                              (round_, Stage(stage).value)).fetchone()
        return json.loads(row[0]) if row else {}

    def timings(self, round_: int) -> dict:
        """Seconds spent so far in each part of a round (and the prover calls made), as last stored."""
        if "timings" in self._tables:
            row = self.db.execute("SELECT seconds FROM timings WHERE round=?", (round_,)).fetchone()
            if row:
                return json.loads(row[0])
        if self.readonly:  # a store from before the timings table, never upgraded
            row = self.db.execute("SELECT info FROM stages WHERE round=? AND stage=?",
                                  (round_, _OLD_TIMINGS_STAGE)).fetchone()
            return json.loads(row[0]) if row else {}
        return {}

    def set_round_summary(self, round_: int, summary: dict) -> None:
        with self.db:
            self.db.execute("INSERT OR REPLACE INTO rounds VALUES(?,?)", (round_, json.dumps(summary)))

    def round_summaries(self) -> list[dict]:
        if "rounds" not in self._tables:
            return []
        return [json.loads(r[0]) for r in self.db.execute("SELECT summary FROM rounds ORDER BY round")]
