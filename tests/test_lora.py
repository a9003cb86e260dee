"""LoRA fine-tuning on admitted proofs: it learns, saves atomically, continues, and loads merged."""
from __future__ import annotations

import prover  # noqa: F401  (first: it sets OMP_WAIT_POLICY before torch loads OpenMP)
import json

import pytest
import torch
from model_fixtures import bootstrap_cache, tiny_base  # noqa: F401

from loop.config import LoraConfig
from prover.lora import train_lora
from prover.model import format_prompt, hf_quiet, load_policy
from prover.sampling import sample_proofs, sequence_logprob

# A statement unlike the warm-start pool and a proof the base model does not write, made of tokens it
# knows (LoRA leaves the embeddings alone, so a proof of unseen bytes would take far longer to learn).
STATEMENT = "forall b : bool, negb (negb b) = b"
PROOF = "intros x. reflexivity. ring."
CFG = LoraConfig(r=8, alpha=16, lr=1e-2, epochs=3, batch_size=4)


def greedy(model, tok, statement: str) -> str:
    return sample_proofs(model, tok, [format_prompt(statement)], 1, temperature=1.0, max_new_tokens=24,
                         batch_size=1, seed=0, greedy=True, progress=False)[0][0].text


def lora_b(adapter_dir) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return {k: v for k, v in load_file(str(adapter_dir / "adapter_model.safetensors")).items() if "lora_B" in k}


@pytest.fixture(scope="module")
def memorised(tiny_base, tmp_path_factory):
    out = tmp_path_factory.mktemp("lora") / "round-0" / "adapter"
    stats = train_lora(tiny_base, [(STATEMENT, PROOF)] * 32, CFG, out, seed=0, device="cpu", progress=False)
    return out, stats


def test_lora_learns_a_single_proof(tiny_base, memorised):
    out, stats = memorised
    base, tok = load_policy(tiny_base, None, "cpu", "auto")
    assert greedy(base, tok, STATEMENT) != PROOF
    assert stats["steps"] == 3 * 8 and stats["examples"] == 32 and stats["init"] == "base"
    assert stats["loss_last"] < 0.2 * stats["loss_first"]
    assert json.loads((out / "train.json").read_text()) == stats
    # peft starts B at zero; training must have moved it.
    assert all(v.abs().max() > 0 for v in lora_b(out).values())
    tuned, tok = load_policy(tiny_base, out, "cpu", "auto")
    assert greedy(tuned, tok, STATEMENT) == PROOF
    assert not [p for p in out.parent.iterdir() if p.name != "adapter"]  # no temp dir left behind


def test_merged_policy_equals_unmerged_adapter(tiny_base, memorised):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    out, _ = memorised
    merged, tok = load_policy(tiny_base, out, "cpu", "auto")
    with hf_quiet():
        unmerged = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_base), str(out)).eval()
    ids = torch.tensor([tok(format_prompt(STATEMENT) + PROOF)["input_ids"]])
    with torch.no_grad():
        assert torch.allclose(merged(input_ids=ids).logits, unmerged(input_ids=ids).logits, atol=1e-4)


def test_continue_from_adapter_starts_where_it_left_off(tiny_base, memorised, tmp_path):
    first, trained = memorised
    examples = [(STATEMENT, PROOF)] * 8
    cont = train_lora(tiny_base, examples, CFG, tmp_path / "cont", seed=1, device="cpu", init_adapter=first,
                      progress=False)
    fresh = train_lora(tiny_base, examples, CFG, tmp_path / "fresh", seed=1, device="cpu", progress=False)
    assert cont["init"] == "continue" and cont["steps"] == 3 * 2
    assert cont["loss_first"] < 0.5 * fresh["loss_first"]
    assert cont["loss_first"] == pytest.approx(trained["loss_last"], rel=0.5, abs=0.05)
    changed = lora_b(tmp_path / "cont")
    assert any(not torch.equal(changed[k], v) for k, v in lora_b(first).items())


def test_empty_examples_give_a_usable_untrained_adapter(tiny_base, memorised, tmp_path):
    stats = train_lora(tiny_base, [], CFG, tmp_path / "empty", seed=0, device="cpu", progress=False)
    assert stats["steps"] == 0 and stats["loss_first"] is None and (tmp_path / "empty" / "train.json").is_file()
    (base, tok), (same, _) = load_policy(tiny_base), load_policy(tiny_base, tmp_path / "empty")
    prompt, proof = [format_prompt(STATEMENT)], ["intros n. lia."]
    assert sequence_logprob(same, tok, prompt, proof) == pytest.approx(sequence_logprob(base, tok, prompt, proof))
    # Continuing with nothing keeps the previous adapter unchanged.
    first, _ = memorised
    kept = train_lora(tiny_base, [], CFG, tmp_path / "kept", seed=0, device="cpu", init_adapter=first,
                      progress=False)
    assert kept["steps"] == 0
    assert all(torch.equal(lora_b(tmp_path / "kept")[k], v) for k, v in lora_b(first).items())


def test_rerun_replaces_an_existing_adapter(tiny_base, tmp_path):
    out = tmp_path / "adapter"
    out.mkdir()
    (out / "stale.txt").write_text("left by a killed run")
    train_lora(tiny_base, [(STATEMENT, PROOF)], CFG.model_copy(update={"epochs": 1}), out, seed=0, device="cpu",
               progress=False)
    assert not (out / "stale.txt").exists() and (out / "adapter_model.safetensors").is_file()


def test_bad_target_module_names_the_field(tiny_base, tmp_path):
    bad = CFG.model_copy(update={"target_modules": ["no_such_proj"]})
    with pytest.raises(ValueError, match="lora.target_modules"):
        train_lora(tiny_base, [(STATEMENT, PROOF)], bad, tmp_path / "x", seed=0, device="cpu", progress=False)
