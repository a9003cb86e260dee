"""LoRA fine-tuning of the policy on the admitted (statement, proof) pairs, with peft.

One adapter directory per round. It appears only when complete: training writes to a
temporary sibling directory and renames it into place, so a killed run never leaves a
half-written adapter behind.
"""
from __future__ import annotations

import json
import math
import os
import shutil
import time
from pathlib import Path
from typing import Callable

import torch

from prover.config import LoraConfig
from prover.model import (_untie_output_if_adapted, encode_example, epoch_batches, hf_quiet, loss_bar,
                          resolve_device, resolve_dtype, train_steps, untie_output_if_targeted)


def train_lora(base: str | Path, examples: list[tuple], cfg: LoraConfig, out_dir: str | Path,
               seed: int, device: str, init_adapter: str | Path | None = None, progress: bool = True,
               prompt_format=None, on_loss: Callable[[int, float], None] | None = None) -> dict:
    """Train a LoRA adapter on `examples` and save it to `out_dir`; returns (and writes) out_dir/train.json.

    `examples` are (statement, proof) pairs in the ratchet format, or, with a
    `prover.prompting.PromptFormat`, (PromptInput, proof) pairs rendered in that format
    (prompt + the target the format's completions take). The loss covers the target and EOS only. With `init_adapter` the adapter is loaded and trained
    further (its own r/alpha/targets apply; cfg's lr, epochs and batch size still do); otherwise a fresh
    adapter is built from cfg on top of `base`. With no examples nothing is trained (steps = 0) and
    the saved adapter is `init_adapter` unchanged, or a fresh one, which equals the base model
    because peft initialises LoRA's B matrix to zero: either way the next round's policy is usable.
    """
    from peft import LoraConfig as PeftLoraConfig
    from peft import PeftModel, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    t0 = time.time()
    out_dir = Path(out_dir)
    device = resolve_device(device)
    dtype = resolve_dtype("auto", device)
    with hf_quiet():
        tokenizer = AutoTokenizer.from_pretrained(base, local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(base, local_files_only=True, dtype=dtype)
    torch.manual_seed(seed)  # LoRA's A matrices and dropout draw from the global generator
    # A LoRA on a tied lm_head is meant to adapt the output projection only: the embedding lookup keeps
    # the base matrix (a LoRA layer on lm_head never touches embed_tokens). Untying here, with lm_head
    # given its own copy of the same frozen values, makes that explicit: the forward pass and what is
    # trained are unchanged, peft no longer sees a tied layer in the adapter, and the model trained on
    # is exactly the one load_policy merges the adapter into (it unties the same way).
    if init_adapter is not None:
        _untie_output_if_adapted(model, Path(init_adapter))
    else:
        untie_output_if_targeted(model, cfg.target_modules)
    with hf_quiet():
        if init_adapter is not None:
            model = PeftModel.from_pretrained(model, str(init_adapter), is_trainable=True)
        else:
            peft_cfg = PeftLoraConfig(r=cfg.r, lora_alpha=cfg.alpha, lora_dropout=cfg.dropout,
                                      target_modules=_peft_targets(cfg.target_modules), task_type="CAUSAL_LM",
                                      fan_in_fan_out=_stores_weights_transposed(model))
            try:
                model = get_peft_model(model, peft_cfg)
            except ValueError as e:
                raise ValueError(f"lora.target_modules {cfg.target_modules}: {e}") from e
    model.to(device)

    if prompt_format is not None:
        from prover.prompting import Prompter
        prompter = Prompter(prompt_format, tokenizer)
        encoded = [prompter.encode_example(inp, p) for inp, p in examples]
    else:
        encoded = [encode_example(tokenizer, s, p) for s, p in examples]
    steps = cfg.epochs * math.ceil(len(encoded) / cfg.batch_size)
    losses: list[float] = []
    if steps:
        pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        with loss_bar("LoRA fine-tune", steps, progress) as bar:
            def update(step: int, loss: float) -> None:
                bar(step, loss)
                if on_loss is not None:  # experiment tracking (loop.tracking)
                    on_loss(step, loss)
            losses = train_steps(model, epoch_batches(encoded, cfg.batch_size, seed), steps, cfg.lr,
                                 pad_id=pad_id, device=device, dtype=dtype, update=update)
    per_epoch = steps // cfg.epochs
    stats = {"steps": steps, "examples": len(encoded),
             "loss_first": losses[0] if losses else None, "loss_last": losses[-1] if losses else None,
             "loss_epochs": [sum(losses[e * per_epoch:(e + 1) * per_epoch]) / per_epoch
                             for e in range(cfg.epochs)] if steps else [],
             "init": "continue" if init_adapter is not None else "base",
             "trainable_parameters": sum(p.numel() for p in model.parameters() if p.requires_grad),
             "seed": seed, "device": device, "seconds": round(time.time() - t0, 3)}

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_dir.parent / f".{out_dir.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    # Only the LoRA matrices: the base weights are frozen and the vocabulary never resized, so the adapter
    # need not carry a copy of the (base) embedding and output matrices, which peft would otherwise add
    # whenever lm_head is a target.
    model.save_pretrained(tmp, save_embedding_layers=False)
    (tmp / "train.json").write_text(json.dumps(stats, indent=2) + "\n")
    if out_dir.exists():  # an adapter from an interrupted earlier attempt at this same stage
        shutil.rmtree(out_dir)
    os.rename(tmp, out_dir)
    return stats


def _peft_targets(targets: str | list[str]) -> str | list[str]:
    """peft's form: the shorthand ``all-linear`` stays a string (a list would name a module "all-linear")."""
    return targets if isinstance(targets, str) else list(targets)


def _stores_weights_transposed(model) -> bool:
    """GPT-2-style models keep their projections as transformers' Conv1D, weight (in, out): peft must be told."""
    from transformers.pytorch_utils import Conv1D

    return any(isinstance(m, Conv1D) for m in model.modules())
