"""Selection: gate-admitted only, final text, dedup after normalisation, per-theorem cap, policies."""
from loop.config import SelectConfig
from loop.selection import select_admitted
from loop.store import Attempt, Store


def _store(tmp_path):
    s = Store(tmp_path / "run.db")
    s.add_theorems([{"id": t, "family": "lin", "difficulty": 1, "pool": "train", "name": t.replace("/", "_"),
                     "statement": "True", "statement_coq": "True", "statement_lean": "True"} for t in ("a/1", "b/2")])
    return s


def _att(r, tid, i, proof, gate, judge="verified"):
    return Attempt(r, "train", tid, i, proof, judge, "x", gate, "g", 0.1, 3, "base")


def test_only_gate_admitted_deduplicated_and_capped(tmp_path):
    s = _store(tmp_path)
    s.add_attempts([
        _att(0, "a/1", 0, "lia.", "verified"),
        _att(0, "a/1", 1, "  lia. ", "verified"),          # same proof after whitespace normalisation
        _att(0, "a/1", 2, "intros. lia.", "verified"),
        _att(0, "a/1", 3, "intros.  lia.", "verified"),    # duplicate of the previous one
        _att(0, "a/1", 4, "auto.", "verified"),            # a third distinct proof: over the cap of 2
        _att(0, "b/2", 0, "ring.", "rejected", judge="verified"),  # gate said no: never admitted
        _att(0, "b/2", 1, "tauto.", "verified", judge="rejected"),  # gate said yes: admitted (the gate decides)
        _att(0, "b/2", 2, "   ", "verified"),              # empty body: never training material
    ])
    got = select_admitted(s, 0, SelectConfig(per_theorem_cap=2), warmstart=[], seed=0)
    assert sorted((a.theorem_id, a.proof) for a in got) == [("a/1", "intros. lia."), ("a/1", "lia."),
                                                           ("b/2", "tauto.")]
    assert all(a.attempt_id is not None for a in got)


def test_accumulate_keeps_earlier_rounds_replace_does_not(tmp_path):
    s = _store(tmp_path)
    s.add_attempts([_att(0, "a/1", 0, "lia.", "verified"), _att(1, "b/2", 0, "ring.", "verified"),
                    _att(1, "a/1", 0, "lia. ", "verified")])
    r0 = select_admitted(s, 0, SelectConfig(), [], 0)
    s.set_admitted(0, [(a.theorem_id, a.proof, a.attempt_id) for a in r0])
    acc = select_admitted(s, 1, SelectConfig(mode="accumulate"), [], 0)
    assert sorted((a.theorem_id, " ".join(a.proof.split())) for a in acc) == [("a/1", "lia."), ("b/2", "ring.")]
    rep = select_admitted(s, 1, SelectConfig(mode="replace"), [], 0)
    assert sorted(a.theorem_id for a in rep) == ["a/1", "b/2"] and len(rep) == 2


def test_mix_adds_the_requested_share_of_fresh_warmstart(tmp_path):
    s = _store(tmp_path)
    s.add_attempts([_att(0, "a/1", i, p, "verified") for i, p in enumerate(["lia.", "auto.", "omega.", "tauto."])])
    warm = [(f"w/{i}", f"proof {i}.") for i in range(50)]
    got = select_admitted(s, 0, SelectConfig(mode="mix", fresh_fraction=0.5), warm, seed=3)
    fresh = [a for a in got if a.attempt_id is None]
    assert len(fresh) == 4 and len(got) == 8
    assert fresh == [a for a in select_admitted(s, 0, SelectConfig(mode="mix", fresh_fraction=0.5), warm, 3)
                     if a.attempt_id is None]  # seeded
