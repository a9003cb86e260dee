"""Read a run directory back: every attempt, one theorem's story, what changed between rounds.

These are the queries behind ``ratchet logs/show/diff/export`` and the HTML
report. They only read: the store is opened read-only, so inspecting a run
that is still going never blocks or changes it. Everything that is wrong with
the arguments (no such run, theorem or round) is a ``RunError`` whose message
is one line a researcher can act on.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import yaml

from loop.store import HELDOUT_PHASES, PHASES, STATUSES, Phase, Store, StoreError
from loop.summary import RoundSummary, load_rounds


class RunError(Exception):
    """The run directory or a query argument is wrong; str() is one line."""


@dataclass
class Run:
    path: Path
    store: Store  # opened read-only
    config: dict  # config.yaml as written by the loop ({} if absent)
    manifest: dict  # manifest.json ({} if absent)
    summary: dict  # summary.json; "rounds" falls back to the store's rounds table
    meta: dict  # the store's meta table
    rounds: list[int]  # every round with attempts or a summary, ascending
    families: list[str]
    label: str = ""  # a name to show; unique among runs compared side by side
    _checkpoints: dict[int, str] = field(default_factory=dict, repr=False)

    @property
    def name(self) -> str:
        return str(self.summary.get("name") or self.config.get("name") or self.path.name)

    @property
    def backend(self) -> str:
        return str(self.meta.get("backend") or self.manifest.get("backend") or self.summary.get("backend")
                   or self.config.get("backend") or "unknown")

    @property
    def backend_version(self) -> str:
        return str(self.meta.get("backend_version") or self.manifest.get("backend_version")
                   or self.summary.get("backend_version") or "unknown")

    def checkpoint(self, round_: int) -> str:
        """The policy that sampled round R: recorded on its attempts, else the naming convention."""
        if round_ not in self._checkpoints:
            recorded = self.store.round_checkpoint(round_)
            self._checkpoints[round_] = recorded or ("base" if round_ == 0 else f"round-{round_}")
        return self._checkpoints[round_]

    def statement(self, theorem: dict) -> str:
        """A theorem's statement in this run's backend language."""
        return theorem.get(f"statement_{self.backend}") or theorem["statement"]

    def round_summaries(self) -> list[RoundSummary]:
        return load_rounds(self.summary.get("rounds") or [])

    def close(self) -> None:
        self.store.close()


def _read_json(path: Path) -> dict:
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise RunError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(data, dict):
        raise RunError(f"{path}: expected a JSON object at the top level")
    return data


def load_run(run_dir: str | Path) -> Run:
    """Open a run directory for reading. Raises RunError if it is not one."""
    path = Path(run_dir)
    if not path.exists():
        raise RunError(f"run directory not found: {path}")
    if not path.is_dir():
        raise RunError(f"not a directory: {path}")
    db_path = path / "run.db"
    if not db_path.is_file():
        raise RunError(f"{path}: no run.db here, so this is not a ratchet run directory")
    try:
        store = Store(db_path, readonly=True)
    except StoreError as e:
        raise RunError(str(e)) from None

    config: dict = {}
    if (path / "config.yaml").exists():
        try:
            config = yaml.safe_load((path / "config.yaml").read_text()) or {}
        except yaml.YAMLError as e:
            raise RunError(f"{path / 'config.yaml'}: not valid YAML ({str(e).splitlines()[0]})") from None
    summary = _read_json(path / "summary.json")
    if not summary.get("rounds"):
        # summary.json is rewritten after every round; a run killed mid-write still has the store's copy.
        summary["rounds"] = store.round_summaries()
    rounds = store.attempt_rounds()
    rounds |= {s["round"] for s in summary.get("rounds", []) if isinstance(s, dict) and "round" in s}
    return Run(path=path, store=store, config=config if isinstance(config, dict) else {},
               manifest=_read_json(path / "manifest.json"), summary=summary, meta=store.meta(),
               rounds=sorted(rounds), families=store.families(), label=path.name)


def label_runs(runs: list[Run]) -> None:
    """Give each run a short label, unique among them: its name, else its directory."""
    names = [r.name for r in runs]
    for r in runs:
        r.label = r.name if names.count(r.name) == 1 else f"{r.name} ({r.path.name})"
    labels = [r.label for r in runs]
    for i, r in enumerate(runs):
        if labels.count(r.label) > 1:
            r.label = f"{r.label} #{i + 1}"


# -- argument checks -----------------------------------------------------------

def check_round(run: Run, round_: int) -> None:
    if round_ not in run.rounds:
        have = f"rounds {run.rounds[0]}..{run.rounds[-1]}" if run.rounds else "no rounds yet"
        raise RunError(f"round {round_} out of range: {run.path} has {have}")


def get_theorem(run: Run, theorem_id: str) -> dict:
    row = run.store.theorem(theorem_id)
    if row is None:
        close = run.store.theorem_ids_like(theorem_id, limit=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise RunError(f"unknown theorem id {theorem_id!r} in {run.path}{hint}")
    return dict(row)


# -- attempts ------------------------------------------------------------------

def query_attempts(run: Run, round: int | None = None, theorem: str | None = None, family: str | None = None,
                   verdict: str | None = None, disagree: bool = False, limit: int | None = None,
                   phase: str | None = None) -> list[dict]:
    """Attempts in the order they were made, joined with their theorem's family and pool.

    ``verdict`` matches the judge (ground truth). ``disagree`` keeps attempts
    whose gate verdict differs from the judge's; eval/greedy attempts have no
    gate, so they never disagree.
    """
    return list(iter_attempts(run, round, theorem, family, verdict, disagree, limit, phase))


def iter_attempts(run: Run, round: int | None = None, theorem: str | None = None, family: str | None = None,
                  verdict: str | None = None, disagree: bool = False, limit: int | None = None,
                  phase: str | None = None) -> Iterator[dict]:
    """Like query_attempts, streamed (for exports of large stores)."""
    if round is not None:
        check_round(run, round)
    if theorem is not None:
        get_theorem(run, theorem)
    if family is not None and family not in run.families:
        raise RunError(f"unknown family {family!r}: {run.path} has {', '.join(run.families) or 'none'}")
    if verdict is not None and verdict not in STATUSES:
        raise RunError(f"unknown verdict {verdict!r}: expected one of {', '.join(STATUSES)}")
    if phase is not None and phase not in PHASES:
        raise RunError(f"unknown phase {phase!r}: expected one of {', '.join(PHASES)}")
    if limit is not None and limit < 0:
        raise RunError(f"--limit must be >= 0, got {limit}")
    yield from run.store.find_attempts(round, theorem, family, verdict, phase, disagree, limit)


# -- one theorem's story ---------------------------------------------------------

@dataclass
class RoundStory:
    round: int
    checkpoint: str
    attempts: list[dict]
    admitted: list[dict]  # proofs of this theorem admitted into round R's SFT set, with their judge verdict

    def verified(self, phases: tuple[str, ...] = PHASES) -> int:
        return sum(1 for a in self.attempts if a["phase"] in phases and a["judge"] == "verified")

    def count(self, phases: tuple[str, ...] = PHASES) -> int:
        return sum(1 for a in self.attempts if a["phase"] in phases)

    @property
    def proved(self) -> bool:
        return self.verified() > 0


@dataclass
class TheoremStory:
    theorem: dict
    statement: str  # in the run's backend language
    backend: str
    rounds: list[RoundStory]  # only rounds in which the theorem was attempted or admitted
    first_proved: int | None  # first round with a judge-verified attempt
    lost_in: list[int]  # rounds attempted without success after it had been proved

    @property
    def ever_lost(self) -> bool:
        return bool(self.lost_in)

    def to_dict(self) -> dict:
        return {"theorem": self.theorem, "statement": self.statement, "backend": self.backend,
                "first_proved": self.first_proved, "ever_lost": self.ever_lost, "lost_in": self.lost_in,
                "rounds": [{"round": r.round, "checkpoint": r.checkpoint, "proved": r.proved,
                            "attempts": r.attempts, "admitted": r.admitted} for r in self.rounds]}


def theorem_story(run: Run, theorem_id: str) -> TheoremStory:
    """Every attempt on one theorem, by round; when it was first proved; whether it was lost later.

    "Proved in round R" means at least one judge-verified attempt in round R
    (pool samples for training theorems, samples or greedy for held-out ones).
    It counts as lost in a later round that attempted it and verified nothing.
    """
    theorem = get_theorem(run, theorem_id)
    attempts = query_attempts(run, theorem=theorem_id)
    admitted = run.store.admitted_of_theorem(theorem_id)
    by_round: dict[int, RoundStory] = {}
    for a in attempts:
        by_round.setdefault(a["round"], RoundStory(a["round"], a["checkpoint"], [], [])).attempts.append(a)
    for ad in admitted:
        by_round.setdefault(ad["round"], RoundStory(ad["round"], run.checkpoint(ad["round"]), [], [])) \
            .admitted.append(ad)
    stories = [by_round[r] for r in sorted(by_round)]
    first = next((s.round for s in stories if s.proved), None)
    lost = [s.round for s in stories if first is not None and s.round > first and s.attempts and not s.proved]
    return TheoremStory(theorem=theorem, statement=run.statement(theorem), backend=run.backend, rounds=stories,
                        first_proved=first, lost_in=lost)


# -- gained and lost between two rounds ----------------------------------------------

DIFF_BASIS = {
    "heldout": "held-out theorems, proved = a judge-verified eval sample or greedy decode",
    "train": "training-pool theorems, proved = a judge-verified train sample",
}


@dataclass
class FamilyDiff:
    pool: str  # "heldout" | "train" (see DIFF_BASIS)
    family: str
    compared: int  # theorems attempted in both rounds
    proved_from: int
    proved_to: int
    gained: list[str]
    lost: list[str]


@dataclass
class RoundDiff:
    r_from: int
    r_to: int
    rows: list[FamilyDiff]

    def totals(self, pool: str) -> tuple[int, int]:
        rows = [r for r in self.rows if r.pool == pool]
        return sum(len(r.gained) for r in rows), sum(len(r.lost) for r in rows)

    def to_dict(self) -> dict:
        return {"from": self.r_from, "to": self.r_to, "basis": DIFF_BASIS,
                "families": [vars(r) for r in self.rows]}


def round_diff(run: Run, r1: int, r2: int) -> RoundDiff:
    """Theorems gained (proved in r2, not r1) and lost (proved in r1, not r2), per pool and family.

    Only theorems attempted in both rounds are compared, so a theorem that one
    round did not sample is neither gained nor lost.
    """
    check_round(run, r1)
    check_round(run, r2)
    family_of = run.store.family_of()
    rows: list[FamilyDiff] = []
    for pool, phases in (("heldout", HELDOUT_PHASES), ("train", (Phase.TRAIN.value,))):
        att1, prov1 = run.store.proved_theorems(r1, phases)
        att2, prov2 = run.store.proved_theorems(r2, phases)
        both = att1 & att2
        for fam in run.families:
            ids = {t for t in both if family_of.get(t) == fam}
            if not ids:
                continue
            rows.append(FamilyDiff(pool=pool, family=fam, compared=len(ids), proved_from=len(ids & prov1),
                                   proved_to=len(ids & prov2), gained=sorted((ids & prov2) - prov1),
                                   lost=sorted((ids & prov1) - prov2)))
    return RoundDiff(r1, r2, rows)


# -- export ------------------------------------------------------------------------

EXPORT_FIELDS = ("attempt_id", "round", "phase", "checkpoint", "theorem_id", "family", "pool", "statement",
                 "sample_idx", "proof", "judge", "judge_reason", "gate", "gate_reason", "seconds", "tokens",
                 "backend", "backend_version")
ADMITTED_FIELDS = ("round", "checkpoint", "backend", "backend_version", "theorem_id", "family", "statement",
                   "proof", "attempt_id", "judge", "gate")


def export_rows(run: Run, verified_only: bool) -> Iterator[dict[str, Any]]:
    """Rows for other tools, with provenance.

    ``verified_only``: exactly the admitted table (the SFT material, one row per
    admitted (round, theorem, proof), repeated ``copies`` times where ``select.mode:
    raw`` admitted the same text several times: one row per training example),
    joined to the attempt it came from. Its
    ``judge`` column shows whether the ground truth agrees; under an unsound
    gate some admitted proofs are false, and this export keeps them, because it
    is what the model was trained on. Otherwise: every attempt.
    """
    backend, version = run.backend, run.backend_version
    if verified_only:
        for d in run.store.export_admitted(backend):
            d["checkpoint"] = d["checkpoint"] or run.checkpoint(d["round"])
            d["backend"], d["backend_version"] = backend, version
            for _ in range(d["copies"]):
                yield {k: d[k] for k in ADMITTED_FIELDS}
        return
    for d in run.store.export_attempts(backend):
        d["backend"], d["backend_version"] = backend, version
        yield {k: d[k] for k in EXPORT_FIELDS}
