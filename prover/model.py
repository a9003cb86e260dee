"""The prover model: prompt format, tokenizer, the tiny bootstrap model, loading a policy.

Read top to bottom: the prompt format (the one place it is defined), how text becomes
token ids, the tokenizer trained on the theorem corpus, the masked-loss training loop
shared with LoRA (prover.lora), the cached bootstrap of a tiny Llama on the warm-start
pool, and loading any local Hugging Face causal LM as a policy.

torch/transformers are imported here at module level: import this module inside
command functions, never from the CLI's top level.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import time
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, Sequence

import torch
from prover.config import BootstrapConfig
from prover.records import library_versions, write_json_atomic

# ---------------------------------------------------------------------------
# Prompt format. The model writes only the proof body; everything else is ours.
# ---------------------------------------------------------------------------

PAD, BOS, EOS = "<pad>", "<bos>", "<eos>"
# Bump when the prompt, the tokenization or the training recipe changes: it is part of
# the bootstrap cache key, so a stale cached base model is never reused.
RECIPE_VERSION = 2


def format_prompt(statement: str) -> str:
    return f"Theorem: {statement.strip()}\nProof: "


def format_example(statement: str, proof: str) -> str:
    """The training text, for display and logs. Token ids come from `encode_example`."""
    return format_prompt(statement) + proof.strip() + EOS


def encode_prompt(tokenizer, prompt: str) -> list[int]:
    """BOS (when the tokenizer has one) + the prompt text.

    Prompt and proof are tokenized separately so that the prompt/proof boundary is always
    a token boundary: training, sampling and log-prob scoring all see exactly these ids.
    """
    ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    return ([tokenizer.bos_token_id] if tokenizer.bos_token_id is not None else []) + list(ids)


def encode_completion(tokenizer, proof: str) -> list[int]:
    """The proof body + EOS: what the model is trained to write and what it is scored on."""
    if tokenizer.eos_token_id is None:
        raise ValueError("tokenizer has no eos_token: the policy could never stop a proof")
    return list(tokenizer(proof.strip(), add_special_tokens=False)["input_ids"]) + [tokenizer.eos_token_id]


def encode_example(tokenizer, statement: str, proof: str) -> tuple[list[int], int]:
    """(token ids of prompt + proof + EOS, number of prompt tokens that the loss ignores)."""
    prompt = encode_prompt(tokenizer, format_prompt(statement))
    return prompt + encode_completion(tokenizer, proof), len(prompt)


# ---------------------------------------------------------------------------
# Tokenizer
# ---------------------------------------------------------------------------

def train_tokenizer(texts: list[str], vocab_size: int):
    """A byte-level BPE tokenizer trained on the theorem/proof corpus.

    Byte-level means every string round-trips exactly (∀ → ≤ ∧ included): there is no
    unknown token and no normalizer. The vocabulary is at least the 256 byte symbols plus
    the three special tokens, so a `vocab_size` below 259 gives 259.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[PAD, BOS, EOS],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(texts, trainer)
    # clean_up_tokenization_spaces would rewrite " ." to "." on decode and break round-trips.
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=BOS, eos_token=EOS, pad_token=PAD,
                                   clean_up_tokenization_spaces=False)


# ---------------------------------------------------------------------------
# Devices and dtypes
# ---------------------------------------------------------------------------

def resolve_device(device_cfg: str) -> str:
    if device_cfg == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device_cfg.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"model.device: {device_cfg!r} requested but CUDA is not available")
    if device_cfg != "cpu" and not device_cfg.startswith("cuda"):
        raise ValueError(f"model.device: {device_cfg!r} is not one of auto, cpu, cuda")
    return device_cfg


def resolve_dtype(dtype_cfg: str, device: str) -> torch.dtype:
    """auto = bf16 on CUDA, fp32 on CPU (bf16 matmuls are slow on most CPUs)."""
    if dtype_cfg == "auto":
        return torch.bfloat16 if device.startswith("cuda") else torch.float32
    table = {"float32": torch.float32, "bfloat16": torch.bfloat16}
    if dtype_cfg not in table:
        raise ValueError(f"model.dtype: {dtype_cfg!r} is not one of auto, {', '.join(table)}")
    return table[dtype_cfg]


def autocast(device: str, dtype: torch.dtype):
    """Mixed precision for training on CUDA with fp32 master weights; a no-op on CPU/fp32."""
    enabled = device.startswith("cuda") and dtype != torch.float32
    return torch.autocast(device_type="cuda" if enabled else "cpu", dtype=dtype, enabled=enabled)


# ---------------------------------------------------------------------------
# Progress bars (rich), shared by bootstrap, LoRA and sampling
# ---------------------------------------------------------------------------

StepCallback = Callable[[int, float], None]  # (steps done so far, loss of the last step)


@contextmanager
def loss_bar(description: str, total: int, progress: bool | StepCallback) -> Iterator[StepCallback]:
    """Yield `update(step, loss)`: a rich bar with the loss, the caller's callback, or nothing."""
    if callable(progress):
        yield progress
        return
    if not progress:
        yield lambda step, loss: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, \
        TimeRemainingColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("loss {task.fields[loss]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                  transient=True) as bar:
        task = bar.add_task(description, total=total, loss="-")
        yield lambda step, loss: bar.update(task, completed=step, loss=f"{loss:.3f}")


@contextmanager
def count_bar(description: str, total: int, progress: bool | Callable[[int], None]) -> Iterator[Callable[[int], None]]:
    """Yield `advance(k)`: a rich bar counting items, the caller's callback, or nothing."""
    if callable(progress):
        yield progress
        return
    if not progress:
        yield lambda k: None
        return
    from rich.progress import Progress

    with Progress(transient=True) as bar:
        task = bar.add_task(description, total=total)
        yield lambda k: bar.advance(task, k)


@contextmanager
def hf_quiet() -> Iterator[None]:
    """Hide transformers' own tqdm bars (loading/saving shards), which would tear the run's rich
    display, and one known deprecation warning that peft 0.21 triggers in transformers 5."""
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
            yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


# ---------------------------------------------------------------------------
# The masked-loss training loop (full fine-tune here, LoRA in prover.lora)
# ---------------------------------------------------------------------------

Encoded = tuple[list[int], int]  # (ids, prompt length)


def collate(batch: Sequence[Encoded], pad_id: int, device: str) -> dict[str, torch.Tensor]:
    """Right-padded input ids, attention mask, and labels that are -100 outside proof + EOS."""
    width = max(len(ids) for ids, _ in batch)
    input_ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    attention = torch.zeros((len(batch), width), dtype=torch.long)
    labels = torch.full((len(batch), width), -100, dtype=torch.long)
    for row, (ids, n_prompt) in enumerate(batch):
        input_ids[row, :len(ids)] = torch.tensor(ids)
        attention[row, :len(ids)] = 1
        labels[row, n_prompt:len(ids)] = torch.tensor(ids[n_prompt:])
    return {"input_ids": input_ids.to(device), "attention_mask": attention.to(device), "labels": labels.to(device)}


def lr_schedule(step: int, total: int) -> float:
    """Multiplier on the peak lr: linear warm-up over 5% of the steps, cosine decay to 10%."""
    warmup = max(1, total // 20)
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * progress))


def train_steps(model, batches: Iterator[list[Encoded]], steps: int, lr: float, *, pad_id: int, device: str,
                dtype: torch.dtype, update: StepCallback) -> list[float]:
    """AdamW on the trainable parameters for `steps` steps; returns the loss of every step."""
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: lr_schedule(s, steps))
    model.train()
    losses = []
    for step in range(steps):
        batch = collate(next(batches), pad_id, device)
        with autocast(device, dtype):
            loss = model(**batch).loss  # HF shifts the labels and averages over unmasked tokens
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(loss.item())
        update(step + 1, losses[-1])
    model.eval()
    return losses


def epoch_batches(examples: list[Encoded], batch_size: int, seed: int, window: int = 8) -> Iterator[list[Encoded]]:
    """Endless batches, ceil(len(examples) / batch_size) per epoch, each epoch freshly shuffled.

    A seeded permutation is cut into windows of `window` batches; each window is sorted by
    length before it is cut into batches, and the epoch's batches are then shuffled. Batches
    hold similar lengths while which examples meet stays random: on the default warm-start
    pool padding fell from 69% of the tokens a step computes to 36%, halving the CPU time.
    """
    gen = torch.Generator().manual_seed(seed)
    span = batch_size * window
    while True:
        order = torch.randperm(len(examples), generator=gen).tolist()
        batches = []
        for w in range(0, len(order), span):
            chunk = sorted(order[w:w + span], key=lambda j: len(examples[j][0]))
            batches.extend(chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size))
        for b in torch.randperm(len(batches), generator=gen).tolist():
            yield [examples[j] for j in batches[b]]


# ---------------------------------------------------------------------------
# Bootstrap: a tiny Llama trained on the warm-start pool, cached by content hash
# ---------------------------------------------------------------------------

# The libraries whose versions key the bootstrap cache (the weights they train depend on them).
CACHE_LIBRARIES = ("torch", "transformers", "tokenizers")


def bootstrap_key(cfg: BootstrapConfig, corpus: list[str], warmstart: list[tuple[str, str]], seed: int,
                  device: str = "cpu") -> str:
    fields = {"recipe": RECIPE_VERSION, "cfg": cfg.model_dump(mode="json"), "corpus": corpus,
              "warmstart": [list(p) for p in warmstart], "seed": seed,
              "versions": library_versions(CACHE_LIBRARIES)}
    # A model trained on a GPU (bf16 autocast, other kernels) has other weights than one trained on
    # the CPU, so the two must not share a cache entry. CPU keys predate this field and are kept.
    if device.split(":")[0] != "cpu":
        fields["device"] = device.split(":")[0]
    blob = json.dumps(fields, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def is_complete(model_dir: Path) -> bool:
    return (model_dir / "done.json").is_file()


def build_tiny_llama(cfg: BootstrapConfig, tokenizer, seed: int):
    from transformers import LlamaConfig, LlamaForCausalLM

    if cfg.hidden_size % cfg.num_heads:
        raise ValueError(f"model.bootstrap.hidden_size ({cfg.hidden_size}) must be a multiple of "
                         f"model.bootstrap.num_heads ({cfg.num_heads})")
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=cfg.hidden_size,
                         intermediate_size=cfg.intermediate_size, num_hidden_layers=cfg.num_layers,
                         num_attention_heads=cfg.num_heads, num_key_value_heads=cfg.num_heads,
                         max_position_embeddings=cfg.max_position, tie_word_embeddings=True,
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(seed)
    return LlamaForCausalLM(config)


def bootstrap_base_model(cfg: BootstrapConfig, corpus: list[str], warmstart: list[tuple[str, str]],
                         cache_dir: str | Path, seed: int, device: str = "cpu", progress: bool = True) -> Path:
    """Train (or reuse) the tiny base prover; returns a directory loadable by `load_policy`.

    The directory is ``cache_dir/<hash>``, the hash covering the config, corpus, warm-start
    pairs, seed, recipe version, library versions and the kind of device it trains on. It is trained in a temporary directory
    and renamed into place with ``done.json`` already written, so a directory that exists is
    complete; a directory without the marker (written by something else) is rebuilt.
    """
    if not warmstart:
        raise ValueError("bootstrap: the warm-start pool is empty; there is nothing to train the base prover on")
    cache_dir = Path(cache_dir)
    final = cache_dir / bootstrap_key(cfg, corpus, warmstart, seed, device)
    if is_complete(final):
        return final
    t0 = time.time()
    tokenizer = train_tokenizer(list(corpus) + [s for pair in warmstart for s in pair], cfg.vocab_size)
    model = build_tiny_llama(cfg, tokenizer, seed).to(device)
    examples = [encode_example(tokenizer, s, p) for s, p in warmstart]
    too_long = max(len(ids) for ids, _ in examples)
    if too_long > cfg.max_position:
        raise ValueError(f"model.bootstrap.max_position ({cfg.max_position}) is shorter than the longest "
                         f"warm-start example ({too_long} tokens)")
    dtype = resolve_dtype("auto", device)
    with loss_bar("bootstrap base prover", cfg.steps, progress) as update:
        losses = train_steps(model, epoch_batches(examples, cfg.batch_size, seed), cfg.steps, cfg.lr,
                             pad_id=tokenizer.pad_token_id, device=device, dtype=dtype, update=update)

    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = cache_dir / f".tmp-{final.name}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    with hf_quiet():
        model.to("cpu").save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
    window = max(1, min(50, len(losses) // 10))
    write_json_atomic(tmp / "done.json", sort_keys=True, data={
        "key": final.name, "seed": seed, "config": cfg.model_dump(mode="json"),
        "versions": library_versions(CACHE_LIBRARIES),
        "recipe": RECIPE_VERSION, "steps": cfg.steps, "examples": len(examples), "vocab": len(tokenizer),
        "parameters": sum(p.numel() for p in model.parameters()),
        "loss_first": sum(losses[:window]) / window, "loss_last": sum(losses[-window:]) / window,
        "seconds": round(time.time() - t0, 2), "device": device})
    if final.exists() and not is_complete(final):  # leftovers written by something other than this function
        shutil.rmtree(final)
    try:
        os.rename(tmp, final)
    except OSError:
        if not is_complete(final):
            raise
        shutil.rmtree(tmp)  # a concurrent bootstrap of the same inputs finished first; its result is identical
    return final


# ---------------------------------------------------------------------------
# Loading a policy
# ---------------------------------------------------------------------------

def _untie_output_if_adapted(model, adapter: Path) -> None:
    """Give lm_head its own copy of the tied embedding matrix when the adapter targets lm_head.

    During training a LoRA on a tied lm_head changes only the output projection (the embedding
    lookup still reads the base matrix). Merging it into the shared tensor would change the input
    embeddings too and wreck the policy, so untie first: the merged model then computes exactly
    what the adapter was trained to compute.
    """
    cfg = json.loads((adapter / "adapter_config.json").read_text())
    untie_output_if_targeted(model, cfg.get("target_modules") or [])


def untie_output_if_targeted(model, targets: str | list[str]) -> None:
    """The untying above, given the LoRA target list; prover.lora does the same before training, so the
    model an adapter is trained on and the model it is merged into are one and the same."""
    targets = [targets] if isinstance(targets, str) else targets
    if "lm_head" not in targets or not getattr(model.config, "tie_word_embeddings", False):
        return
    head = model.get_output_embeddings()
    head.weight = torch.nn.Parameter(model.get_input_embeddings().weight.detach().clone())
    model.config.tie_word_embeddings = False
    if hasattr(model.config, "get_text_config"):
        model.config.get_text_config().tie_word_embeddings = False


def load_policy(base: str | Path, adapter: str | Path | None = None, device: str = "auto", dtype: str = "auto"):
    """(model, tokenizer) in eval mode from a local HF causal-LM directory, optionally with a LoRA adapter.

    The adapter is merged into the weights: sampling runs thousands of forward passes and an
    unmerged LoRA adds two small matmuls per targeted linear layer to each of them, while the
    policy never trains after loading. Nothing is downloaded (local_files_only).
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    device = resolve_device(device)
    torch_dtype = resolve_dtype(dtype, device)
    with hf_quiet():
        tokenizer = AutoTokenizer.from_pretrained(base, local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(base, local_files_only=True, dtype=torch_dtype)
    if tokenizer.pad_token_id is None:  # many released LMs ship without one; padding is always masked
        tokenizer.pad_token = tokenizer.eos_token
    if adapter is not None:
        from peft import PeftModel

        _untie_output_if_adapted(model, Path(adapter))
        with hf_quiet():
            model = PeftModel.from_pretrained(model, str(adapter)).merge_and_unload()
    return model.to(device).eval(), tokenizer
