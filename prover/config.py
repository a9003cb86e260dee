"""The configs that one step of proving takes: the bootstrap model, sampling, LoRA, the verifier.

They live here, beside the code that reads them, so that ``prover`` never imports
``loop``; ``loop.config.RunConfig`` composes them under the same YAML keys
(``model.bootstrap``, ``sampling``, ``lora``, ``verifier``).
"""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

# Address-space limit per prover process when the config leaves it empty: coqtop with the Arith/Lia/ZArith
# header stays well under 1 GB; a core-Lean REPL needs several GB of address space.
DEFAULT_MEMORY_MB = {"coq": 2048, "lean": 8192}


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


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


class SamplingConfig(Strict):
    k: int = Field(8, ge=1, description="proofs sampled per training-pool theorem each round")
    temperature: float = Field(1.0, gt=0)
    top_p: float = Field(1.0, gt=0, le=1)
    top_k: int = Field(0, ge=0, description="0 = off")
    max_new_tokens: int = Field(64, ge=1)
    batch_size: int = Field(128, ge=1, description="sequences decoded together (KV cache)")
    engine: Literal["hf", "vllm"] = Field("hf", description="hf = Ratchet's own decoding loop; vllm = vLLM on a "
                                          "GPU, each round's adapter served as a LoRARequest (pip install '.[vllm]')")
    vllm_gpu_memory: float = Field(0.5, gt=0, le=1, description="vllm: share of GPU memory vLLM may take (the hf "
                                   "policy stays loaded for entropy and log-probs)")


class VerifierConfig(Strict):
    workers: int = Field(2, ge=1)
    timeout_s: float = Field(10.0, gt=0, description="wall-clock limit per proof")
    memory_mb: int | None = Field(None, ge=128, description="address-space limit per prover process (MB); "
                                  "null = the backend's default (prover.config.DEFAULT_MEMORY_MB)")
    recycle_after: int = Field(500, ge=1, description="replace a worker after this many proofs")

    def memory_for(self, backend: str) -> int:
        """The address-space limit a prover process of `backend` runs under."""
        return self.memory_mb or DEFAULT_MEMORY_MB[backend]


class LoraConfig(Strict):
    r: int = Field(16, ge=1)
    alpha: int = Field(32, ge=1)
    dropout: float = Field(0.0, ge=0, lt=1)
    lr: float = Field(2e-3, gt=0)
    epochs: int = Field(3, ge=1)
    batch_size: int = Field(32, ge=1)
    init: Literal["base", "continue"] = Field("base", description="train each round from the base model or the last adapter")
    target_modules: list[str] | Literal["all-linear"] = Field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
        description="module names to adapt (the default fits Llama-style models), or all-linear: every "
                    "linear layer but the output head; checked against the model before a run starts")

    @field_validator("target_modules", mode="before")
    @classmethod
    def _all_linear_alone(cls, v):
        if v == ["all-linear"]:  # [all-linear] in YAML means the shorthand too
            return "all-linear"
        if isinstance(v, str) and v != "all-linear":
            raise ValueError(f"expected a list of module names or the string all-linear, got {v!r}")
        return v
