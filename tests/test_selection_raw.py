"""select.mode raw: every gate-admitted sample, with its multiplicity, exactly as sampled."""
from __future__ import annotations

from collections import Counter

from loop.config import SelectConfig
from loop.selection import select_admitted
from loop.selection_raw import select_raw
from loop.store import Attempt, Store


def _store(tmp_path):
    s = Store(tmp_path / "run.db")
    s.add_theorems([{"id": t, "family": "lin", "difficulty": 1, "pool": "train", "name": t.replace("/", "_"),
                     "statement": "True", "statement_coq": "True", "statement_lean": "True"} for t in ("a/1", "b/2")])
    return s


SAMPLES = [  # (theorem, proof, gate): what a round sampled, in order
    ("a/1", "lia.", "verified"), ("a/1", "lia.", "verified"), ("a/1", "  lia. ", "verified"),
    ("a/1", "auto.", "verified"), ("a/1", "omega.", "verified"), ("a/1", "tauto.", "verified"),
    ("a/1", "lia.", "verified"), ("a/1", "ring.", "rejected"),
    ("b/2", "", "verified"), ("b/2", "simpl.", "verified"), ("b/2", "simpl.", "verified"),
]


def test_raw_admits_every_sample_with_its_multiplicity(tmp_path):
    s = _store(tmp_path)
    idx = Counter()
    rows = []
    for tid, proof, gate in SAMPLES:
        rows.append(Attempt(0, "train", tid, idx[tid], proof, "verified", "x", gate, "g", 0.1, 3, "base"))
        idx[tid] += 1
    s.add_attempts(rows)
    stored = list(s.attempts(0, "train"))
    got = select_raw((r["id"], r["theorem_id"], r["proof"], r["gate"]) for r in stored)
    admitted = [(t, p) for t, p, g in SAMPLES if g == "verified"]
    # every admitted sample, in sampling order, text untouched (the spaced layout too), empties included
    assert [(r.theorem_id, r.proof) for r in got] == admitted
    assert Counter(r.proof for r in got if r.theorem_id == "a/1") == {"lia.": 3, "  lia. ": 1, "auto.": 1,
                                                                      "omega.": 1, "tauto.": 1}
    assert [r.attempt_id for r in got] == [r["id"] for r in stored if r["gate"] == "verified"]
    # no cap: a/1 keeps 7 rows where the deduplicating modes keep at most per_theorem_cap distinct ones
    capped = select_admitted(s, 0, SelectConfig(per_theorem_cap=4, mode="replace"), warmstart=[], seed=0)
    assert sum(r.theorem_id == "a/1" for r in got) == 7
    assert sum(a.theorem_id == "a/1" for a in capped) == 4


def test_raw_drops_only_what_the_gate_refused():
    attempts = [(1, "a", "x.", "rejected"), (2, "a", "x.", None), (3, "a", "x.", "timeout"), (4, "a", "x.", "verified")]
    assert [r.attempt_id for r in select_raw(attempts)] == [4]
    assert select_raw([]) == []
