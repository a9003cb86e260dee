"""The typed experiment config: the single source of truth for every knob.

``configs/*.yaml`` only override these defaults. Unknown keys and bad values
fail before any work starts, with the dotted key in the message.
"""
from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field, ValidationError, model_validator

from prover.prompting import DEFAULT_INSTRUCTION
from prover.theorems.sources.config import SourcesMixin

# The configs prover code takes are defined in prover/ (which never imports loop/); composed here.
from prover.config import BootstrapConfig, LoraConfig, SamplingConfig, Strict, VerifierConfig  # noqa: F401

from loop.execution import ExecutionConfig
from loop.largek import MAX_EVAL_N


class TheoremsConfig(Strict, SourcesMixin):  # SourcesMixin: the optional `sources` list
    families: list[str] = Field(default_factory=lambda: ["lin", "ring", "compute", "prop", "exists", "induct"],
                                description="theorem families to generate (prover.theorems.FAMILIES)")
    per_family: int = Field(120, ge=1, description="theorems generated per family (before splitting)")
    warmstart_fraction: float = Field(0.08, ge=0, le=1, description="share of theorems used to bootstrap the base prover")
    heldout_fraction: float = Field(0.25, gt=0, lt=1, description="share frozen as held-out (never trained on)")
    generator_seed: int = Field(0, description="seed of the theorem generator; theorem ids do not depend on it")


class ModelConfig(Strict):
    kind: Literal["hf", "fixed"] = Field("hf", description="hf = a causal LM that LoRA trains; fixed = draw each "
                                         "proof from model.tactics, never learn (the no-learning control)")
    tactics: list[str] | None = Field(None, min_length=1, description="fixed: the tactic scripts drawn from; "
                                      "null = the backend's default list (prover.proposer.DEFAULT_TACTICS)")
    name_or_path: str | None = Field(None, description="local HF causal-LM directory; null = bootstrap a tiny model")
    bootstrap: BootstrapConfig = Field(default_factory=BootstrapConfig)
    cache_dir: str = Field(".cache/ratchet", description="where bootstrapped base models are cached by config hash")
    dtype: Literal["auto", "float32", "bfloat16"] = Field("auto", description="auto = bf16 on CUDA, fp32 on CPU")
    device: Literal["auto", "cpu", "cuda"] = "auto"
    # Prompt format and completion parsing (prover.prompting, prover.extraction).
    prompt: Literal["ratchet", "deepseek-prover", "chat", "template"] = Field(
        "ratchet", description="ratchet = Theorem:/Proof: with a bare body; deepseek-prover = DeepSeek-Prover-V1.5 "
        "code completion; chat = the tokenizer's chat template around `instruction`; template = `template_file`")
    instruction: str = Field(DEFAULT_INSTRUCTION, description="chat: the user message before the code block "
                             "({language} and {fence} are filled in)")
    template_file: str | None = Field(None, description="template: a Jinja2 file rendered with backend, name, "
                                      "statement, header, informal_prefix, formal_statement")
    stop: list[str] = Field(default_factory=list, description="a completion is cut at the first of these")
    reasoning_start: str = Field("<think>", description="start marker of a reasoning block ('' = none)")
    reasoning_end: str = Field("</think>", description="end marker of a reasoning block ('' = no reasoning split)")

    @model_validator(mode="after")
    def _prompt_needs(self) -> "ModelConfig":
        if self.prompt == "template" and not self.template_file:
            raise ValueError("model.template_file is required when model.prompt is template")
        if self.prompt != "ratchet" and not self.name_or_path:
            raise ValueError(f"model.prompt {self.prompt!r} needs model.name_or_path: the bootstrap model is "
                             "trained in the ratchet format")
        return self


class EvalConfig(Strict):
    n: int = Field(8, ge=1, le=MAX_EVAL_N, description="samples per held-out theorem for sampled pass@1 and "
                   f"pass@k (at most {MAX_EVAL_N}; above 64 the run's chunks shrink: loop.largek)")
    k: int = Field(8, ge=1, description="the k reported as pass@k (<= n)")
    greedy: bool = True
    probe_size: int = Field(64, ge=1, description="held-out prompts on which policy entropy is measured")

    @model_validator(mode="after")
    def _k_le_n(self) -> "EvalConfig":
        if self.k > self.n:
            raise ValueError(f"eval.k ({self.k}) must be <= eval.n ({self.n})")
        return self


class GateConfig(Strict):
    """What decides admission into training. The judge (ground truth) never changes."""
    kind: Literal["judge", "none", "noisy", "weak"] = "judge"
    fp: float = Field(0.0, ge=0, le=1, description="noisy: P(admit | judge rejects)")
    fn: float = Field(0.0, ge=0, le=1, description="noisy: P(refuse | judge verifies)")


class CanaryConfig(Strict):
    n: int = Field(0, ge=0, description="known-false statements planted in the training pool")


class SelectConfig(Strict):
    per_theorem_cap: int = Field(4, ge=1, description="max distinct admitted proofs per theorem per round")
    mode: Literal["accumulate", "replace", "mix", "raw"] = Field(
        "accumulate", description="what joins this round's admitted proofs (loop.selection); raw: every "
        "gate-admitted sample as sampled, duplicates kept, no cap (loop.selection_raw)")
    fresh_fraction: float = Field(0.0, ge=0, le=1, description="mix: share of warm-start data added each round")


class RunConfig(Strict):
    name: str = "run"
    seed: int = 0
    rounds: int = Field(3, ge=0, description="training rounds after round 0 (the base model)")
    backend: Literal["auto", "coq", "lean"] = Field("auto", description="auto = Lean if lean_project is built, else Coq")
    theorems: TheoremsConfig = Field(default_factory=TheoremsConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    sampling: SamplingConfig = Field(default_factory=SamplingConfig)
    eval: EvalConfig = Field(default_factory=EvalConfig)
    verifier: VerifierConfig = Field(default_factory=VerifierConfig)
    gate: GateConfig = Field(default_factory=GateConfig)
    canaries: CanaryConfig = Field(default_factory=CanaryConfig)
    select: SelectConfig = Field(default_factory=SelectConfig)
    lora: LoraConfig = Field(default_factory=LoraConfig)
    report_to: Literal["none", "tensorboard", "wandb"] = Field(
        "none", description="mirror each round's summary and the training loss to TensorBoard (run_dir/tensorboard) "
        "or Weights & Biases (pip install '.[tracking]')")
    wandb_mode: Literal["offline", "online"] = Field("offline", description="wandb: offline writes run_dir/wandb")
    execution: ExecutionConfig = Field(default_factory=ExecutionConfig)


class ConfigError(ValueError):
    """A config file or override is wrong; the message names the key.

    ``problems`` holds (dotted key, message) pairs when the schema refused values, so that a caller
    can say which file or ``--set`` each one came from.
    """

    def __init__(self, message: str, problems: list[tuple[str, str]] | None = None):
        super().__init__(message)
        self.problems = problems or []


def _known_keys(loc: tuple) -> list[str]:
    """The keys valid beside the last part of ``loc`` in RunConfig (for "did you mean")."""
    model: type[BaseModel] = RunConfig
    for part in loc[:-1]:
        field = model.model_fields.get(str(part))
        ann = field.annotation if field else None
        if not (isinstance(ann, type) and issubclass(ann, BaseModel)):
            return []
        model = ann
    return list(model.model_fields)


def _problems(err: ValidationError) -> list[tuple[str, str]]:
    out = []
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"]) or "<root>"
        msg = e["msg"].removeprefix("Value error, ")  # pydantic's prefix for a validator's own message
        if e["type"] == "extra_forbidden":
            known = _known_keys(e["loc"])
            close = difflib.get_close_matches(str(e["loc"][-1]), known, n=1)
            prefix = ".".join(str(p) for p in e["loc"][:-1])
            if close:
                msg = f"unknown key; did you mean {prefix + '.' if prefix else ''}{close[0]}?"
            else:
                msg = f"unknown key; {prefix or 'the top level'} has {', '.join(known)}" if known else "unknown key"
        if e["type"] == "union_tag_invalid":  # e.g. theorems.sources.0.kind: an unknown source kind
            key += "." + str(e.get("ctx", {}).get("discriminator", "kind")).strip("'")
        out.append((key, msg))
    return out


def _format_validation(err: ValidationError) -> str:
    return "; ".join(f"{key}: {msg}" for key, msg in _problems(err))


def _parse_scalar(text: str) -> Any:
    return yaml.safe_load(text) if text != "" else ""


def flatten(data: dict, prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": 1}, "c.d": 2} -> {"a.b": 1, "c.d": 2}. No config value is itself a mapping."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, dotted + "."))
        else:
            out[dotted] = value
    return out


def set_dotted(data: dict, key: str, value: Any) -> None:
    """data["a"]["b"]["c"] = value for key "a.b.c", creating sections on the way."""
    node = data
    parts = key.strip().split(".")
    for i, part in enumerate(parts[:-1]):
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"{key}: {'.'.join(parts[:i + 1])} is not a section")
    node[parts[-1]] = value


def apply_override(data: dict, assignment: str) -> None:
    """Apply one ``--set a.b.c=value`` (value parsed as YAML) to a nested dict."""
    if "=" not in assignment:
        raise ConfigError(f"--set {assignment!r}: expected key=value")
    key, value = assignment.split("=", 1)
    try:
        set_dotted(data, key, _parse_scalar(value))
    except ConfigError as e:
        raise ConfigError(f"--set {e}") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"--set {assignment}: the value is not valid YAML ({getattr(e, 'problem', None) or e}); "
                          f"quote it for the shell, e.g. --set '{key}=[a, b]'") from None


def read_yaml_mapping(path: str | Path, what: str = "config file") -> dict:
    """A YAML file whose top level is a mapping; ConfigError naming the file otherwise."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{what} not found: {p}")
    try:
        data = yaml.safe_load(p.read_text()) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"{p}: not valid YAML: {e}") from e
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: top level must be a mapping")
    return data


def load_config(path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = ()) -> RunConfig:
    data: dict = read_yaml_mapping(path) if path is not None else {}
    for o in overrides:
        apply_override(data, o)
    return validate_config(data)


# Keys that were renamed: the old spelling is an error that names the new one.
RENAMED_KEYS = {("select", "policy"): "select.mode"}


def _check_renamed(data: dict) -> None:
    for (section, key), new in RENAMED_KEYS.items():
        node = data.get(section)
        if isinstance(node, dict) and key in node:
            raise ConfigError(f"{section}.{key}: renamed; use {new} (same values)")


def validate_config(data: dict) -> RunConfig:
    _check_renamed(data)
    try:
        return RunConfig.model_validate(data)
    except ValidationError as e:
        raise ConfigError(_format_validation(e), _problems(e)) from None


def dump_config(cfg: RunConfig) -> str:
    return yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False)
