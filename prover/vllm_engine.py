"""Sampling proofs with vLLM (``sampling.engine: vllm``), serving each round's LoRA adapter
through vLLM's own LoRA support. An optional extra: ``pip install -e '.[vllm]'`` on a CUDA
machine; vllm is imported only when an engine is built, never by CI or the quickstart.

The base model is loaded once with ``enable_lora=True``; a round's adapter directory (as
written by prover.lora) is attached per request with a ``LoRARequest`` whose integer id is
new for every adapter path, so vLLM never serves a stale cached adapter under a reused id.

Prompts are passed as token ids encoded exactly as the ``hf`` engine encodes them (BOS +
prompt in the ratchet format, the chat template's own tokens for ``chat``), so greedy
decoding of the same model and adapter gives the same text on both engines up to kernel
numerics. Sampled outputs differ from the ``hf`` engine's (vLLM draws its own randomness);
each prompt's requests are seeded from (seed, prompt), so they do not depend on the batch.

Shape (duck-typed, for the proposer interface): ``sample(prompts, n, temperature, top_p,
max_new_tokens, seed) -> list[list[str]]``; ``generate`` returns (text, tokens) pairs.
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Sequence


def vllm_available() -> bool:
    try:
        import vllm  # noqa: F401
    except ImportError:
        return False
    return True


class VllmProposer:
    def __init__(self, base: str | Path, *, tokenizer=None, prompter=None, dtype: str = "auto",
                 max_lora_rank: int = 64, gpu_memory_utilization: float = 0.5, max_model_len: int | None = None,
                 top_k: int = 0, stop: Sequence[str] = (), enforce_eager: bool = False):
        try:
            from vllm import LLM
        except ImportError as e:
            raise RuntimeError("sampling.engine: vllm needs the vllm extra on a CUDA machine "
                               "(pip install -e '.[vllm]')") from e
        from transformers import AutoTokenizer

        self.base = str(base)
        self.tokenizer = tokenizer or AutoTokenizer.from_pretrained(self.base, local_files_only=True)
        self.prompter = prompter
        self.top_k = top_k
        self.stop = list(stop)
        kwargs = {"max_model_len": max_model_len} if max_model_len else {}
        self.llm = LLM(model=self.base, tokenizer=self.base, enable_lora=True, max_lora_rank=max_lora_rank,
                       max_loras=1, dtype={"float32": "float32", "bfloat16": "bfloat16"}.get(dtype, "auto"),
                       gpu_memory_utilization=gpu_memory_utilization, enforce_eager=enforce_eager, **kwargs)
        self._lora = None
        self._ids: dict[str, int] = {}

    def set_adapter(self, adapter: str | Path | None) -> None:
        """Serve this LoRA adapter directory from now on (None: the base model)."""
        if adapter is None:
            self._lora = None
            return
        from vllm.lora.request import LoRARequest

        path = str(Path(adapter).resolve())
        lora_id = self._ids.setdefault(path, len(self._ids) + 1)  # vLLM needs a positive id per adapter
        self._lora = LoRARequest(f"ratchet-{lora_id}", lora_id, path)

    def _encode(self, prompt: str) -> list[int]:
        if self.prompter is not None:
            return self.prompter.encode_prompt(prompt)
        from prover.model import encode_prompt
        return encode_prompt(self.tokenizer, prompt)

    def generate(self, prompts: list[str], n: int, *, temperature: float, top_p: float, max_new_tokens: int,
                 seed: int, greedy: bool = False) -> list[list[tuple[str, int]]]:
        """n (completion text, tokens generated) pairs per prompt, in input order; greedy decodes once."""
        from vllm import SamplingParams

        params = []
        for p in prompts:
            prompt_seed = int.from_bytes(hashlib.sha256(f"{seed}\x00{p}".encode()).digest()[:4], "little")
            params.append(SamplingParams(n=1 if greedy else n, temperature=0.0 if greedy else temperature,
                                         top_p=1.0 if greedy else top_p, top_k=self.top_k if self.top_k > 0 else -1,
                                         max_tokens=max_new_tokens, seed=prompt_seed, stop=self.stop or None,
                                         skip_special_tokens=True))
        requests = [{"prompt_token_ids": self._encode(p)} for p in prompts]
        outputs = self.llm.generate(requests, params, lora_request=self._lora, use_tqdm=False)
        result = []
        for out in outputs:
            texts = [(o.text, len(o.token_ids)) for o in out.outputs]
            result.append(texts * n if greedy else texts)
        return result

    def sample(self, prompts: list[str], n: int, temperature: float, top_p: float, max_new_tokens: int,
               seed: int) -> list[list[str]]:
        return [[text for text, _ in row] for row in self.generate(prompts, n, temperature=temperature, top_p=top_p,
                                                                   max_new_tokens=max_new_tokens, seed=seed)]
