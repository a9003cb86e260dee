"""The proposer interface: the fixed-tactic proposer on its own, and a whole loop run with it against real Coq.

The fixed proposer never learns, so a multi-round experiment runs in seconds: this is the loop's
own fast end-to-end test (tests/test_e2e.py runs the model, LoRA and all, and takes minutes).
"""
from __future__ import annotations

import json
import math
import shutil
import sqlite3
from pathlib import Path

import pytest

from loop.config import ConfigError, load_config
from loop.summary import RoundSummary
from prover.proposer import DEFAULT_TACTICS, FixedProposer

ROOT = Path(__file__).resolve().parent.parent
TINY = ROOT / "configs" / "tiny.yaml"

SCRIPTS = ["lia.", "intros; lia.", "auto.", "reflexivity."]


def test_fixed_samples_depend_on_seed_prompt_and_index_only():
    p = FixedProposer(SCRIPTS)
    prompts = [f"Theorem: t{i}\nProof: " for i in range(6)]
    full = p.sample(prompts, 5, seed=7)
    assert [len(r) for r in full] == [5] * 6
    assert all(s.text in SCRIPTS and s.tokens == len(s.text.split()) for r in full for s in r)
    # the same prompt in another batch, in another position, gets the same samples
    assert p.sample([prompts[3], prompts[0]], 5, seed=7) == [full[3], full[0]]
    assert p.sample(prompts, 5, seed=8) != full  # another seed, other draws
    assert len({s.text for r in full for s in r}) > 1  # it really draws, not one script for all
    greedy = p.sample(prompts[:2], 3, seed=7, greedy=True)
    assert greedy == [[greedy[0][0]] * 3] * 2 and greedy[0][0].text == SCRIPTS[0]  # seed-free: the first script


def test_fixed_entropy_and_logprob_are_those_of_its_distribution():
    p = FixedProposer(["lia.", "lia.", "auto.", "ring."])
    assert p.entropy(["x"]) == pytest.approx(-(0.5 * math.log(0.5) + 2 * 0.25 * math.log(0.25)))
    assert p.logprob(["a", "b", "c"], ["lia.", " ring. ", "omega."]) == [math.log(0.5), math.log(0.25), -math.inf]
    with pytest.raises(ValueError, match="non-empty"):
        FixedProposer(["lia.", "  "])


def test_model_kind_and_tactics_validate():
    assert load_config(TINY, ["model.kind=fixed"]).model.kind == "fixed"
    with pytest.raises(ConfigError, match="model.kind"):
        load_config(TINY, ["model.kind=vllm"])
    with pytest.raises(ConfigError, match="model.tactics"):
        load_config(TINY, ["model.kind=fixed", "model.tactics=[]"])


@pytest.mark.skipif(shutil.which("coqtop") is None, reason="Coq is not installed (make test installs it)")
def test_a_fixed_proposer_runs_the_whole_loop_against_coq(tmp_path):
    from loop.run import run_experiment

    out = tmp_path / "run"
    cfg = load_config(TINY, ["model.kind=fixed", "rounds=3", "theorems.per_family=10", f"model.cache_dir={tmp_path}"])
    summary = run_experiment(cfg, out, progress=False)
    rounds = summary["rounds"]
    assert [r["round"] for r in rounds] == [0, 1, 2, 3]
    # the typed summary reads what the loop wrote and writes back the same keys, in the same order
    assert [json.dumps(RoundSummary.model_validate(r).to_json()) for r in rounds] == [json.dumps(r) for r in rounds]
    tactics = set(DEFAULT_TACTICS["coq"])
    for r in rounds[:-1]:
        assert r["train"]["steps"] == 0 and "never learns" in r["train"]["skipped"]
        assert r["pool"]["attempts"] > 0
    assert [r["heldout"]["entropy"] for r in rounds] == [pytest.approx(math.log(len(tactics)))] * 4
    assert not list(out.glob("rounds/*/adapter"))  # nothing was trained
    assert (out / "rounds" / "round-0" / "sft.jsonl").is_file()  # selection still ran
    assert json.loads((out / "manifest.json").read_text())["base_model"] is None  # no model was built

    db = sqlite3.connect(out / "run.db")
    proofs = {p for (p,) in db.execute("SELECT DISTINCT proof FROM attempts")}
    assert proofs <= tactics and len(proofs) > 1
    verdicts = dict(db.execute("SELECT judge, COUNT(*) FROM attempts GROUP BY judge").fetchall())
    assert verdicts.get("verified", 0) > 0 and verdicts.get("rejected", 0) > 0  # it proves some, fails others
    # every round draws afresh: the training pool's samples differ between rounds
    by_round = [set(db.execute("SELECT theorem_id, sample_idx, proof FROM attempts WHERE round=? AND phase='train'",
                               (r,)).fetchall()) for r in range(3)]
    assert by_round[0] != by_round[1]
    assert 0 < sum(r["heldout"]["pass@1"] for r in rounds) < len(rounds)

    before = db.execute("SELECT COUNT(*) FROM attempts").fetchone()[0]
    again = run_experiment(cfg, out, resume=True, progress=False)  # a finished run resumes as a no-op
    assert db.execute("SELECT COUNT(*) FROM attempts").fetchone()[0] == before
    assert again["rounds"] == rounds
