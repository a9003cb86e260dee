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


def test_raw_mode_stores_duplicates_with_their_multiplicity_and_training_repeats_them(tmp_path, monkeypatch):
    """Through the run's own path: select_admitted -> Store.set_admitted -> sft.jsonl and the LoRA examples."""
    import json
    from types import SimpleNamespace

    from loop import run

    s = _store(tmp_path)
    s.add_attempts([Attempt(0, "train", tid, i, proof, "verified", "x", gate, "g", 0.1, 3, "base")
                    for i, (tid, proof, gate) in enumerate(SAMPLES)])
    rows = select_admitted(s, 0, SelectConfig(mode="raw"), warmstart=[], seed=0)
    s.set_admitted(0, [(x.theorem_id, x.proof, x.attempt_id) for x in rows])
    admitted = Counter((t, p) for t, p, g in SAMPLES if g == "verified")
    stored = {(r["theorem_id"], r["proof"]): r for r in s.admitted(0)}
    assert {key: r["copies"] for key, r in stored.items()} == admitted  # one row per text, its multiplicity
    assert stored["a/1", "lia."]["copies"] == 3 and stored["a/1", "  lia. "]["copies"] == 1
    first_lia = min(r["id"] for r in s.attempts(0, "train") if r["proof"] == "lia.")
    assert stored["a/1", "lia."]["attempt_id"] == first_lia
    assert s.admitted_count() == sum(admitted.values()) == 10
    # the SFT file and the fine-tune's examples repeat each text `copies` times
    ctx = SimpleNamespace(out=tmp_path / "out", store=s)
    run.write_sft(ctx, 0)
    lines = [json.loads(x) for x in (tmp_path / "out" / "rounds" / "round-0" / "sft.jsonl").read_text().splitlines()]
    assert Counter((d["theorem_id"], d["proof"]) for d in lines) == admitted
    monkeypatch.setattr(run, "prompt_input", lambda ctx, theorem_id: theorem_id)
    assert Counter(run.sft_examples(ctx, 0)) == admitted
    # `ratchet export --verified-only` writes one row per training example
    from loop.runview import export_rows
    view = SimpleNamespace(store=s, backend="coq", backend_version="8.16", checkpoint=lambda r: "base")
    assert Counter((d["theorem_id"], d["proof"]) for d in export_rows(view, verified_only=True)) == admitted
    # the deduplicating modes still store one copy of each distinct text
    s.set_admitted(0, [(x.theorem_id, x.proof, x.attempt_id)
                       for x in select_admitted(s, 0, SelectConfig(mode="replace"), warmstart=[], seed=0)])
    assert {r["copies"] for r in s.admitted(0)} == {1}


def test_contamination_weights_a_text_by_its_copies(tmp_path):
    from loop.metrics import contamination

    s = _store(tmp_path)
    s.add_attempts([Attempt(0, "train", "a/1", i, p, judge, "x", "verified", "g", 0.1, 3, "base")
                    for i, (p, judge) in enumerate([("bad.", "rejected")] * 3 + [("lia.", "verified")])])
    ids = [(r["theorem_id"], r["proof"], r["id"]) for r in s.attempts(0, "train")]
    s.set_admitted(0, ids)  # raw: 3 copies of a wrong proof, 1 of a right one
    assert contamination(s, 0) == 0.75  # 3 of 4 training examples are wrong (unweighted rows: 1 of 2)
