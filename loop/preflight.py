"""Everything a run can be refused for, checked before its directory is written.

A start that fails must leave nothing behind: no ``config.yaml`` or ``run.db``
that would make the corrected command say "already holds a run". So whatever
can be known before the first theorem is sampled is checked here, in order:
the backend is installed, the theorem families exist and fill the pools a run needs, the model directory is a
causal LM with a tokenizer (or the bootstrap sizes fit together), the device
exists, and the LoRA targets name layers the model has. Each failure is one
line that names the config key and says what would be right.

This module also decides what ``--resume`` may change (only ``rounds``, and
only upwards) and says, before anything runs, what a resume found and will do.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

from loop.config import ConfigError, RunConfig, flatten, load_config

from loop.store import Stage

STAGES = tuple(s.value for s in Stage)  # a round's stages, in the order run.py runs them
LEAN_SETUP = "set it up with `make lean-setup` (needs internet), or use --set backend=coq"
TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json", "spiece.model")
WEIGHT_FILES = ("*.safetensors", "pytorch_model*.bin", "*.safetensors.index.json", "pytorch_model.bin.index.json")


class PreflightError(ConfigError):
    """A run cannot start as configured; the one-line message names the key and what would be right."""


def preflight(cfg: RunConfig) -> None:
    """Raise PreflightError for anything that would stop ``cfg`` after its run directory exists."""
    check_backend(cfg.backend)
    if cfg.theorems.sources is None:  # with sources, their reader checks files and pools (loop.sources)
        check_families(cfg.theorems.families)
        check_pools(cfg)
    check_device(cfg.model.device)
    check_lora_targets(cfg.lora.target_modules, model_layers(cfg))


# -- the pieces ------------------------------------------------------------------

def check_backend(backend: str) -> None:
    from prover.backends import lean_install_message, lean_ready, resolve_backend

    if resolve_backend(backend) == "coq":
        from prover.coq.verifier import coq_available

        if not coq_available():
            what = "coq" if backend == "coq" else f"{backend} (Coq here, Lean not being set up)"
            raise PreflightError(f"backend: {what}, but coqtop is not on PATH; install Coq 8.16 "
                                 f"(`make setup` does it with apt-get; Debian: apt-get install coq)")
    if backend == "lean" and not lean_ready():
        # The message names what is missing; its own remedy speaks of `ratchet verify`'s --backend option.
        why = lean_install_message().split(" Install it with")[0].rstrip().rstrip(".")
        raise PreflightError(f"backend: lean is not usable here ({why}); {LEAN_SETUP}")


def check_families(families: list[str]) -> None:
    from prover.theorems import FAMILIES

    known = list(FAMILIES)
    unknown = [f for f in families if f not in FAMILIES]
    if unknown:
        hints = [f"{u!r} (did you mean {m[0]!r}?)" if (m := difflib.get_close_matches(u, known, n=1)) else repr(u)
                 for u in unknown]
        raise PreflightError(f"theorems.families: unknown family {', '.join(hints)}; known: {', '.join(known)}")
    twice = sorted({f for f in families if families.count(f) > 1})
    if twice:
        raise PreflightError(f"theorems.families: {', '.join(twice)} listed twice")
    if not families:
        raise PreflightError(f"theorems.families: empty; choose from {', '.join(known)}")


def check_pools(cfg: RunConfig) -> None:
    """The pools a run needs are not empty (the split is by hash, so small sizes can leave one empty)."""
    from prover.theorems import generate_theorems, split_pools

    t = cfg.theorems
    try:
        pools = split_pools(generate_theorems(t.families, t.per_family, t.generator_seed), t.warmstart_fraction,
                            t.heldout_fraction)
    except ValueError as e:
        raise PreflightError(f"theorems: {e}") from None
    sizes = ", ".join(f"{name} {len(p)}" for name, p in pools.items())
    if not pools["heldout"]:
        raise PreflightError(f"theorems.per_family: {t.per_family} leaves the held-out pool empty ({sizes}); "
                             f"raise it or theorems.heldout_fraction")
    if not cfg.model.name_or_path and not pools["warmstart"]:
        raise PreflightError(f"theorems.warmstart_fraction: {t.warmstart_fraction} leaves no warm-start theorem "
                             f"to bootstrap the base model on ({sizes}); raise it or theorems.per_family")


def check_device(device: str) -> None:
    if device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise PreflightError("model.device: cuda, but CUDA is not available here; use auto or cpu")


@dataclass(frozen=True)
class ModelLayers:
    """The module names of the model a run will load, built on the meta device (no weights are read)."""
    what: str  # e.g. "GPT2LMHeadModel in models/gpt2" or "the bootstrap Llama"
    adaptable: dict[str, str]  # full module name -> kind (linear, embedding, conv) for every layer LoRA can adapt
    output: str | None  # the output head's module name (peft's all-linear leaves it out)

    def linear_names(self) -> list[str]:
        """Distinct last components of the linear layers, in model order: what a target list names."""
        seen: dict[str, None] = {}
        for name, kind in self.adaptable.items():
            if kind == "linear":
                seen.setdefault(name.rsplit(".", 1)[-1], None)
        return list(seen)


def model_layers(cfg: RunConfig) -> ModelLayers:
    """Check that the configured model can be loaded and list the layers LoRA could adapt."""
    import torch
    from transformers import AutoModelForCausalLM

    if cfg.model.name_or_path:
        config, what = _local_model_config(Path(cfg.model.name_or_path))
    else:
        config, what = _bootstrap_config(cfg), "the bootstrap Llama"
    try:
        with torch.device("meta"):
            model = AutoModelForCausalLM.from_config(config)
    except (ValueError, TypeError, RuntimeError) as e:  # an architecture this transformers cannot build
        raise PreflightError(f"model.name_or_path: {what} cannot be built: {e}") from None
    head = model.get_output_embeddings()
    output = next((n for n, m in model.named_modules() if head is not None and m is head), None)
    return ModelLayers(what=what, adaptable={n: k for n, m in model.named_modules() if (k := _lora_kind(m))},
                       output=output)


def _lora_kind(module) -> str | None:
    import torch.nn as nn
    from transformers.pytorch_utils import Conv1D

    if isinstance(module, (nn.Linear, Conv1D)):  # GPT-2's projections are Conv1D; peft adapts them as linear
        return "linear"
    if isinstance(module, nn.Embedding):
        return "embedding"
    if isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
        return "conv"
    return None


def _local_model_config(path: Path):
    from transformers import AutoConfig, AutoTokenizer
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING

    key = "model.name_or_path"
    if not path.is_dir():
        raise PreflightError(f"{key}: {path} is not a directory; give a local Hugging Face model directory "
                             f"(written by save_pretrained), or null to bootstrap the tiny model")
    if not (path / "config.json").is_file():
        raise PreflightError(f"{key}: {path} has no config.json, so it is not a Hugging Face model directory "
                             f"(save_pretrained writes one)")
    try:
        config = AutoConfig.from_pretrained(path, local_files_only=True)
    except (OSError, ValueError, KeyError) as e:
        raise PreflightError(f"{key}: {path}/config.json does not load: {_one_line(e)}") from None
    if type(config) not in MODEL_FOR_CAUSAL_LM_MAPPING:
        raise PreflightError(f"{key}: {path} holds a {config.model_type!r} model, which is not a causal LM")
    if not any(next(path.glob(p), None) for p in WEIGHT_FILES):
        raise PreflightError(f"{key}: {path} has a config.json but no weights (*.safetensors or pytorch_model*.bin)")
    if not any((path / f).is_file() for f in TOKENIZER_FILES):
        # transformers would build an empty tokenizer from the config alone, and every prompt would be no tokens
        raise PreflightError(f"{key}: {path} has no tokenizer ({', '.join(TOKENIZER_FILES)}); save one beside the "
                             f"model with tokenizer.save_pretrained")
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise PreflightError(f"{key}: the tokenizer in {path} does not load: {_one_line(e)}") from None
    if tokenizer.eos_token_id is None:
        raise PreflightError(f"{key}: the tokenizer in {path} has no eos_token, so a proof could never end")
    return config, f"{type(config).__name__.removesuffix('Config')} model in {path}"


def _bootstrap_config(cfg: RunConfig):
    from transformers import LlamaConfig

    b = cfg.model.bootstrap
    if b.hidden_size % b.num_heads:
        raise PreflightError(f"model.bootstrap.hidden_size ({b.hidden_size}) must be a multiple of "
                             f"model.bootstrap.num_heads ({b.num_heads})")
    # The same architecture prover.model.build_tiny_llama builds; the sizes do not change module names.
    return LlamaConfig(vocab_size=b.vocab_size, hidden_size=b.hidden_size, intermediate_size=b.intermediate_size,
                       num_hidden_layers=b.num_layers, num_attention_heads=b.num_heads,
                       num_key_value_heads=b.num_heads, max_position_embeddings=b.max_position,
                       tie_word_embeddings=True)


def check_lora_targets(targets: str | list[str], layers: ModelLayers) -> None:
    """Every configured target must name a layer of the model (peft's rule: the full name or its last parts)."""
    if targets == "all-linear":
        if not [n for n, k in layers.adaptable.items() if k == "linear" and n != layers.output]:
            raise PreflightError(f"lora.target_modules: all-linear, but {layers.what} has no linear layer "
                                 f"besides its output head")
        return
    missing = [t for t in targets if not any(n == t or n.endswith("." + t) for n in layers.adaptable)]
    if missing:
        have = ", ".join(layers.linear_names()) or "none"
        raise PreflightError(f"lora.target_modules: {', '.join(missing)} not in {layers.what}; its linear layers "
                             f"are {have}; list some of those, or use --set lora.target_modules=all-linear")


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split()) or type(e).__name__


# -- what --resume may change, and what it will do --------------------------------------

def config_changes(stored: RunConfig, given: RunConfig) -> list[tuple[str, object, object]]:
    """(dotted key, stored value, given value) for every key whose value differs."""
    a, b = flatten(stored.model_dump(mode="json")), flatten(given.model_dump(mode="json"))
    return [(k, a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]



ENGINE_KEYS = ("execution.",)  # keys that say where a run computes, not what: free on resume


def resumable_config(stored: RunConfig, given: RunConfig, cfg_path: Path) -> RunConfig | None:
    """The config a resume continues with, or ConfigError when the change is not allowed.

    None means the configs are the same. The engine (``execution.*``) may change freely.
    Growing ``rounds`` is the one other change allowed: every
    round already run is exactly what a run with more rounds would have run, because sampling,
    training and selection seeds depend only on the seed and the round. The old last round then
    gains its training stages; nothing finished is redone.
    """
    changes = config_changes(stored, given)
    if not changes:
        return None
    # How the run is executed (locally or on a Ray cluster) does not change what it computes:
    # a run started on one engine may be resumed on the other.
    changes = [c for c in changes if not c[0].startswith(ENGINE_KEYS)]
    if not changes or ([k for k, _, _ in changes] == ["rounds"] and given.rounds > stored.rounds):
        return given
    shown = "; ".join(f"{k}: {old!r} there, {new!r} given" for k, old, new in changes[:4])
    more = f" (and {len(changes) - 4} more)" if len(changes) > 4 else ""
    hint = (" (rounds can only grow)" if [k for k, _, _ in changes] == ["rounds"] else
            "; only rounds may change on --resume (upwards, to extend a run), and the engine (execution.*)")
    raise ConfigError(f"{cfg_path} differs from the config given: {shown}{more}{hint}; resume it with "
                      f"`ratchet run {cfg_path} --out {cfg_path.parent} --resume`, or start another --out")


def describe_resume(out: Path, cfg: RunConfig) -> str | None:
    """One line on what ``--resume`` found in ``out`` and what it will do; None when it will refuse."""
    from loop.store import Store

    cfg_path = out / "config.yaml"
    if not cfg_path.exists():
        return f"resume: no run in {out} yet, so this starts one"
    try:
        stored = load_config(cfg_path)
        grown = resumable_config(stored, cfg, cfg_path)
    except ConfigError:
        return None  # prepare_run_dir says why, naming the keys
    if not (out / "run.db").exists():
        return f"resume: {out} has a config but no store yet; starting its round 0"
    store = Store(out / "run.db")
    try:
        done = [r for r in range(stored.rounds + 1) if store.stage_done(r, Stage.SUMMARY)]
        nxt = len(done)  # rounds run in order, so the finished ones are 0..nxt-1
        if nxt <= stored.rounds:
            stages = [s for s in STAGES if store.stage_done(nxt, s)]
    finally:
        store.close()
    found = f"rounds 0..{nxt - 1} of 0..{stored.rounds} finished" if done else "no round finished yet"
    if grown is not None:
        if nxt > stored.rounds:
            return (f"resume: {out}: finished with rounds={stored.rounds}; extending to rounds={grown.rounds}: "
                    f"round {stored.rounds} trains (sample, select, LoRA), then rounds "
                    f"{stored.rounds + 1}..{grown.rounds} run")
        found += f"; extending to rounds={grown.rounds}"
    elif nxt > stored.rounds:
        return (f"resume: {out}: all rounds 0..{stored.rounds} already finished; nothing to run "
                f"(--set rounds=N with N > {stored.rounds} extends it)")
    last = grown.rounds if grown is not None else stored.rounds
    where = (f"round {nxt} from its {_next_stage(stages, nxt, last)} stage" if stages else f"round {nxt}")
    return f"resume: {out}: {found}; continuing with {where}, through round {last}"


def _next_stage(stages: list[str], r: int, last: int) -> str:
    wanted = STAGES if r < last else ("eval", "entropy", "summary")
    return next((s for s in wanted if s not in stages), "summary")
