"""The typed round summary: it reads what the loop writes, writes the same keys back, and tolerates gaps."""
from __future__ import annotations

import json

from loop.summary import RoundSummary, RunSummary, load_rounds
from loop.synthetic_run import make_synthetic_run


def test_summary_json_round_trips_key_for_key(tmp_path):
    """The synthetic run writes its summaries through the model, like the loop (tests/test_proposer.py checks
    the same round trip on a real run's summary.json)."""
    run = make_synthetic_run(tmp_path / "run", n_attempts=300, rounds=2, seed=4)
    data = json.loads((run / "summary.json").read_text())
    rounds = load_rounds(data["rounds"])
    assert [r.round for r in rounds] == [0, 1, 2]
    for raw, typed in zip(data["rounds"], rounds):
        assert json.dumps(typed.to_json()) == json.dumps(raw)  # same keys, same order, same values
        assert typed.heldout.pass_at_1 == raw["heldout"]["pass@1"]
    assert RunSummary.model_validate(data).to_json() == data


def test_the_last_round_has_no_training_keys_and_gaps_read_as_none():
    last = RoundSummary.model_validate({"round": 3, "heldout": {"pass@1": 0.5}, "seconds": 2.0})
    assert not last.trained and last.pool is None and last.heldout.pass_at_k is None
    assert not {"pool", "admitted", "contamination", "train"} & set(last.to_json())
    trained = RoundSummary.model_validate({"round": 0, "pool": {"attempts": 4}, "contamination": None})
    assert trained.trained and set(trained.to_json()) >= {"pool", "admitted", "contamination", "train"}
    assert load_rounds([{"round": 1}, "junk", None])[0].cost.seconds.verify is None


def test_intervals_and_vs_base_are_typed_and_written_back_as_read():
    heldout = {"pass@1": 0.25, "ci95": {"pass@1": [0.1, 0.4], "pass@k": None, "k": 4},
               "pass@k_curve_ci95": {"1": [0.1, 0.4], "2": None},
               "vs_base": {"n": 4, "theorems": 3.0, "new": {"value": 1.0, "ci95": [0.0, 2.0]},
                           "lost": {"value": 0.0, "ci95": [0.0, 0.0]},
                           "sharpening": {"value": 0.5, "ci95": None}}}
    typed = RoundSummary.model_validate({"round": 1, "heldout": heldout})
    assert typed.heldout.ci95.pass_at_1 == [0.1, 0.4] and typed.heldout.ci95.pass_at_k is None
    assert typed.heldout.vs_base.new.value == 1.0 and typed.heldout.vs_base.sharpening.ci95 is None
    back = typed.to_json()["heldout"]
    for key, value in heldout.items():
        assert back[key] == value
    old = RoundSummary.model_validate({"round": 0, "heldout": {"pass@1": 0.5}})  # written before intervals
    assert old.heldout.ci95 is None and old.heldout.vs_base is None
