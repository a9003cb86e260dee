"""A LoRA on the tied lm_head trains, saves and merges without peft's two warnings, and saves only LoRA.

peft warned on every round that (1) a tied layer was part of the adapter without ensure_weight_tying,
and (2) it was saving the embedding layers because lm_head was a target. The causes are resolved in
prover.lora (lm_head gets its own copy of the frozen matrix before training, as load_policy does
before merging, and the frozen base matrices are not saved); these tests hold that in place.
"""
from __future__ import annotations

import prover  # noqa: F401  (first: it sets OMP_WAIT_POLICY before torch loads OpenMP)
import warnings

import torch
from model_fixtures import bootstrap_cache, tiny_base  # noqa: F401

from loop.config import LoraConfig
from prover.lora import train_lora
from prover.model import load_policy

STATEMENT = "forall b : bool, negb (negb b) = b"
PROOF = "intros x. reflexivity. ring."
WITH_HEAD = LoraConfig(r=8, alpha=16, lr=1e-2, epochs=2, batch_size=4,
                       target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj",
                                       "lm_head"])


def user_warnings(fn):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = fn()
    return result, [str(w.message) for w in caught if issubclass(w.category, UserWarning)]


def test_training_continuing_and_merging_a_tied_head_adapter_warn_nothing(tiny_base, tmp_path):
    examples = [(STATEMENT, PROOF)] * 8
    stats, caught = user_warnings(lambda: train_lora(tiny_base, examples, WITH_HEAD, tmp_path / "a", seed=0,
                                                     device="cpu", progress=False))
    assert stats["steps"] > 0 and caught == []
    _, caught = user_warnings(lambda: train_lora(tiny_base, examples, WITH_HEAD, tmp_path / "b", seed=1,
                                                 device="cpu", init_adapter=tmp_path / "a", progress=False))
    assert caught == []
    _, caught = user_warnings(lambda: load_policy(tiny_base, tmp_path / "b", "cpu", "float32"))
    assert caught == []


def test_the_adapter_holds_only_lora_matrices_and_the_base_stays_tied(tiny_base, tmp_path):
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM

    train_lora(tiny_base, [(STATEMENT, PROOF)] * 8, WITH_HEAD, tmp_path / "a", seed=0, device="cpu", progress=False)
    keys = load_file(str(tmp_path / "a" / "adapter_model.safetensors")).keys()
    assert keys and all(".lora_A." in k or ".lora_B." in k for k in keys), sorted(keys)
    assert any("lm_head" in k for k in keys)
    # Untying happened on the training copy only: the base checkpoint on disk is still tied.
    base = AutoModelForCausalLM.from_pretrained(tiny_base)
    assert base.config.tie_word_embeddings
    assert base.get_output_embeddings().weight.data_ptr() == base.get_input_embeddings().weight.data_ptr()


def test_untying_before_training_trains_exactly_what_the_tied_model_trained(tiny_base, tmp_path):
    """The same adapter weights as training on the tied model directly (the code before the fix)."""
    from peft import LoraConfig as PeftLoraConfig
    from peft import get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from prover.model import encode_example, epoch_batches, train_steps

    train_lora(tiny_base, [(STATEMENT, PROOF)] * 8, WITH_HEAD, tmp_path / "fixed", seed=0, device="cpu",
               progress=False)
    tok = AutoTokenizer.from_pretrained(tiny_base)
    model = AutoModelForCausalLM.from_pretrained(tiny_base, dtype=torch.float32)
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tied-layer warning is what the old path gave
        model = get_peft_model(model, PeftLoraConfig(r=8, lora_alpha=16, lora_dropout=0.0, task_type="CAUSAL_LM",
                                                     target_modules=list(WITH_HEAD.target_modules)))
    encoded = [encode_example(tok, STATEMENT, PROOF)] * 8
    train_steps(model, epoch_batches(encoded, 4, 0), 4, WITH_HEAD.lr, pad_id=tok.pad_token_id, device="cpu",
                dtype=torch.float32, update=lambda s, l: None)
    from safetensors.torch import load_file

    fixed = load_file(str(tmp_path / "fixed" / "adapter_model.safetensors"))
    old = {k.replace(".default", ""): v for k, v in model.state_dict().items() if "lora_" in k}
    assert set(fixed) == set(old)
    assert all(torch.equal(fixed[k], old[k]) for k in fixed)
