"""A LoRA on a tied lm_head (the quickstart's setting) loads merged without touching the input embeddings."""
from __future__ import annotations

import prover  # noqa: F401  (first: it sets OMP_WAIT_POLICY before torch loads OpenMP)

import torch
from model_fixtures import bootstrap_cache, tiny_base  # noqa: F401

from loop.config import LoraConfig
from prover.lora import train_lora
from prover.model import format_prompt, hf_quiet, load_policy

STATEMENT = "forall b : bool, negb (negb b) = b"
PROOF = "intros x. reflexivity. ring."


def test_merged_policy_with_adapted_tied_head_equals_unmerged(tiny_base, tmp_path):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    cfg = LoraConfig(r=8, alpha=16, lr=1e-2, epochs=3, batch_size=4,
                     target_modules=["q_proj", "v_proj", "lm_head"])
    out = tmp_path / "adapter"
    train_lora(tiny_base, [(STATEMENT, PROOF)] * 16, cfg, out, seed=0, device="cpu", progress=False)
    merged, tok = load_policy(tiny_base, out, "cpu", "float32")
    with hf_quiet():
        base = AutoModelForCausalLM.from_pretrained(tiny_base)
        assert base.config.tie_word_embeddings  # the case this test is about
        embed_before = base.get_input_embeddings().weight.detach().clone()
        unmerged = PeftModel.from_pretrained(base, str(out)).eval()
    assert torch.equal(merged.get_input_embeddings().weight, embed_before)
    ids = torch.tensor([tok(format_prompt(STATEMENT) + PROOF)["input_ids"]])
    with torch.no_grad():
        assert torch.allclose(merged(input_ids=ids).logits, unmerged(input_ids=ids).logits, atol=1e-4)
