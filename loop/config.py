"""The typed experiment config: the single source of truth for every knob.

``configs/*.yaml`` only override these defaults. Unknown keys and bad values
fail before any work starts, with the dotted key in the message.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from loop.execution import ExecutionConfig


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class TheoremsConfig(Strict):
    families: list[str] = Field(default_factory=lambda: ["lin", "ring", "compute", "prop", "exists", "induct"],
                                description="theorem families to generate (prover.theorems.FAMILIES)")
    per_family: int = Field(120, ge=1, description="theorems generated per family (before splitting)")
    warmstart_fraction: float = Field(0.08, ge=0, le=1, description="share of theorems used to bootstrap the base prover")
    heldout_fraction: float = Field(0.25, gt=0, lt=1, description="share frozen as held-out (never trained on)")
    generator_seed: int = Field(0, description="seed of the theorem generator; theorem ids do not depend on it")


class BootstrapConfig(Strict):
    """A tiny Llama-style model built from config and fully fine-tuned on the warm-start pool."""
    vocab_size: int = Field(512, ge=64)
    hidden_size: int = Field(128, ge=16)
    num_layers: int = Field(4, ge=1)
    num_heads: int = Field(4, ge=1)
    intermediate_size: int = Field(384, ge=16)
    max_position: int = Field(256, ge=32)
    steps: int = Field(600, ge=1, description="optimizer steps of the warm-start fine-tune")
    batch_size: int = Field(32, ge=1)
    lr: float = Field(2e-3, gt=0)
    samples_per_theorem: int = Field(1, ge=1, description="reference proofs per warm-start theorem")


class ModelConfig(Strict):
    name_or_path: str | None = Field(None, description="local HF causal-LM directory; null = bootstrap a tiny model")
    bootstrap: BootstrapConfig = Field(default_factory=BootstrapConfig)
    cache_dir: str = Field(".cache/ratchet", description="where bootstrapped base models are cached by config hash")
    dtype: Literal["auto", "float32", "bfloat16"] = Field("auto", description="auto = bf16 on CUDA, fp32 on CPU")
    device: Literal["auto", "cpu", "cuda"] = "auto"


class SamplingConfig(Strict):
    k: int = Field(8, ge=1, description="proofs sampled per training-pool theorem each round")
    temperature: float = Field(1.0, gt=0)
    top_p: float = Field(1.0, gt=0, le=1)
    top_k: int = Field(0, ge=0, description="0 = off")
    max_new_tokens: int = Field(64, ge=1)
    batch_size: int = Field(128, ge=1, description="sequences decoded together (KV cache)")


class EvalConfig(Strict):
    n: int = Field(8, ge=1, description="samples per held-out theorem for sampled pass@1 and pass@k")
    k: int = Field(8, ge=1, description="the k reported as pass@k (<= n)")
    greedy: bool = True
    probe_size: int = Field(64, ge=1, description="held-out prompts on which policy entropy is measured")

    @model_validator(mode="after")
    def _k_le_n(self) -> "EvalConfig":
        if self.k > self.n:
            raise ValueError(f"eval.k ({self.k}) must be <= eval.n ({self.n})")
        return self


class VerifierConfig(Strict):
    workers: int = Field(2, ge=1)
    timeout_s: float = Field(10.0, gt=0, description="wall-clock limit per proof")
    memory_mb: int | None = Field(None, ge=128, description="address-space limit per prover process (MB); "
                                  "null = the backend's default (loop.run.DEFAULT_MEMORY_MB)")
    recycle_after: int = Field(500, ge=1, description="replace a worker after this many proofs")


class GateConfig(Strict):
    """What decides admission into training. The judge (ground truth) never changes."""
    kind: Literal["judge", "none", "noisy", "weak"] = "judge"
    fp: float = Field(0.0, ge=0, le=1, description="noisy: P(admit | judge rejects)")
    fn: float = Field(0.0, ge=0, le=1, description="noisy: P(refuse | judge verifies)")


class CanaryConfig(Strict):
    n: int = Field(0, ge=0, description="known-false statements planted in the training pool")


class SelectConfig(Strict):
    per_theorem_cap: int = Field(4, ge=1, description="max distinct admitted proofs per theorem per round")
    policy: Literal["accumulate", "replace", "mix"] = "accumulate"
    fresh_fraction: float = Field(0.0, ge=0, le=1, description="mix: share of warm-start data added each round")


class LoraConfig(Strict):
    r: int = Field(16, ge=1)
    alpha: int = Field(32, ge=1)
    dropout: float = Field(0.0, ge=0, lt=1)
    lr: float = Field(2e-3, gt=0)
    epochs: int = Field(3, ge=1)
    batch_size: int = Field(32, ge=1)
    init: Literal["base", "continue"] = Field("base", description="train each round from the base model or the last adapter")
    target_modules: list[str] = Field(default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])


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
    execution: ExecutionConfig = Field(default_factory=ExecutionConfig)


class ConfigError(ValueError):
    """A config file or override is wrong; the message names the key."""


def _format_validation(err: ValidationError) -> str:
    lines = []
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"]) or "<root>"
        msg = "unknown key" if e["type"] == "extra_forbidden" else e["msg"]
        lines.append(f"{key}: {msg}")
    return "; ".join(lines)


def _parse_scalar(text: str) -> Any:
    return yaml.safe_load(text) if text != "" else ""


def apply_override(data: dict, assignment: str) -> None:
    """Apply one ``--set a.b.c=value`` (value parsed as YAML) to a nested dict."""
    if "=" not in assignment:
        raise ConfigError(f"--set {assignment!r}: expected key=value")
    key, value = assignment.split("=", 1)
    parts = key.strip().split(".")
    node = data
    for p in parts[:-1]:
        node = node.setdefault(p, {})
        if not isinstance(node, dict):
            raise ConfigError(f"--set {key}: {p} is not a section")
    node[parts[-1]] = _parse_scalar(value)


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


def validate_config(data: dict) -> RunConfig:
    try:
        return RunConfig.model_validate(data)
    except ValidationError as e:
        raise ConfigError(_format_validation(e)) from None


def dump_config(cfg: RunConfig) -> str:
    return yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False)
