"""A checkpoint that is not the bootstrap model through a one-round run, with the chat and
deepseek-prover formats (issue 11, acceptance 4), against real Coq.

The checkpoint is a Qwen2 architecture with random weights and a tokenizer carrying a chat
template, written with save_pretrained. Its completions are noise, so a third run scripts the
sampler with realistic completions to check what the store keeps of refused, restated and
fenced answers.
"""
from __future__ import annotations

import shutil
import sqlite3

import pytest

from chat_fixtures import qwen2_chat_checkpoint
from loop.config import validate_config
from loop.run import run_experiment
from prover.prompting import PromptFormat, Prompter, family_input

pytestmark = pytest.mark.skipif(shutil.which("coqtop") is None, reason="Coq is not installed")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return qwen2_chat_checkpoint(tmp_path_factory.mktemp("qwen2") / "model")


def _config(checkpoint, prompt: str, **extra) -> dict:
    cfg = {"name": f"fmt-{prompt}", "seed": 0, "rounds": 1, "backend": "coq",
           "theorems": {"families": ["lin"], "per_family": 10, "warmstart_fraction": 0.1, "heldout_fraction": 0.3},
           "model": {"name_or_path": str(checkpoint), "prompt": prompt},
           "sampling": {"k": 2, "max_new_tokens": 16, "batch_size": 16},
           "eval": {"n": 2, "k": 2, "probe_size": 2},
           "verifier": {"workers": 1, "timeout_s": 10},
           "lora": {"r": 4, "alpha": 8, "epochs": 1, "batch_size": 8}}
    cfg.update(extra)
    return cfg


def _attempts(out) -> list[dict]:
    db = sqlite3.connect(out / "run.db")
    db.row_factory = sqlite3.Row
    rows = [dict(r) for r in db.execute("SELECT * FROM attempts ORDER BY id")]
    db.close()
    return rows


def _theorems(cfg):
    from loop.run import build_theorem_pools
    return build_theorem_pools(cfg)[0]


@pytest.mark.parametrize("prompt", ["chat", "deepseek-prover"])
def test_one_round_with_a_real_checkpoint(tmp_path, checkpoint, prompt):
    from transformers import AutoTokenizer

    # gate none: every unrefused body is admitted, so the LoRA step trains on examples rendered in the format.
    cfg = validate_config(_config(checkpoint, prompt, gate={"kind": "none"}))
    summary = run_experiment(cfg, tmp_path / "run", progress=False)
    assert [s["round"] for s in summary["rounds"]] == [0, 1]
    rows = _attempts(tmp_path / "run")
    assert rows and {r["phase"] for r in rows} == {"train", "eval", "greedy"}
    prompter = Prompter(PromptFormat.from_config(cfg.model), AutoTokenizer.from_pretrained(checkpoint))
    theorems = _theorems(cfg)
    for r in rows:
        completion = r["raw"] if r["raw"] is not None else r["proof"]
        ex = prompter.extract(family_input(theorems[r["theorem_id"]], "coq"), completion)
        if ex.refused:  # stored as a rejection with its reason, never sent to Coq
            assert r["proof"] == "" and r["judge"] == "rejected" and r["judge_reason"] == f"refused: {ex.refused}"
        else:
            assert r["proof"] == ex.body  # the store's body is the extraction of the stored completion
    assert any(r["raw"] is not None for r in rows)  # noise always differs from its extracted body somewhere
    trained = summary["rounds"][0]["train"]
    assert trained["examples"] == summary["rounds"][0]["admitted"] > 0 and trained["steps"] > 0


SCRIPTED = {
    # A Kimina-style answer that restates the theorem exactly, after a reasoning block: verified by Coq.
    0: "<think>Linear arithmetic over nat; lia decides it.</think>\nHere it is:\n```coq\n{decl}\nProof.\n"
       "  intros.\n  lia.\nQed.\n```\nlia is a decision procedure for Presburger arithmetic.",
    # A restated, different statement: refused before Coq runs.
    1: "```coq\nTheorem {name} : forall x : nat, x = x + 1.\nProof. lia. Qed.\n```",
}


def test_store_keeps_raw_completions_beside_bodies(tmp_path, checkpoint, monkeypatch):
    import prover.sampling as sampling
    from prover.sampling import Sample

    cfg = validate_config(_config(checkpoint, "chat", rounds=0))
    theorems = _theorems(cfg)
    by_prompt = {}

    def scripted(model, tok, prompts, n, **kw):
        out = []
        for p in prompts:
            th = next(t for t in theorems.values() if f"Theorem {t.name} :" in p)
            decl = f"Theorem {th.name} : {th.coq}."
            texts = [SCRIPTED[j % 2].format(decl=decl, name=th.name) for j in range(n)]
            by_prompt[th.id] = texts
            out.append([Sample(text=t.strip(), tokens=len(t), raw=t) for t in texts])
        return out

    monkeypatch.setattr(sampling, "sample_proofs", scripted)
    run_experiment(cfg, tmp_path / "run", progress=False)
    rows = [r for r in _attempts(tmp_path / "run") if r["phase"] == "eval"]
    assert rows
    for r in rows:
        assert r["raw"] == by_prompt[r["theorem_id"]][r["sample_idx"]]
        if r["sample_idx"] % 2 == 0:
            assert r["proof"] == "intros.\nlia." and r["judge"] == "verified"
        else:
            assert r["proof"] == "" and r["judge"] == "rejected" and r["seconds"] == 0
            assert r["judge_reason"].startswith("refused: restated theorem") and "got `… : forall x : nat , x = x +" in r["judge_reason"]
