"""The vLLM engine. CPU tests run it against a stand-in `vllm` module that records what it is
asked (the real API's names: LLM(enable_lora=True), SamplingParams, LoRARequest); the GPU tests
(marker gpu, skipped without CUDA and vllm) compare it with the hf engine for real.

GPU: `pytest -m gpu tests/test_vllm_engine.py -o addopts='' -s` on a CUDA machine with the extra
installed. They have not run in the session that wrote them (no GPU there).
"""
from __future__ import annotations

import shutil
import sqlite3
import sys
import time
import types
from dataclasses import dataclass, field

import pytest
import torch

from chat_fixtures import qwen2_chat_checkpoint
from prover.vllm_engine import VllmProposer, vllm_available


@dataclass
class _Out:
    text: str
    token_ids: list


@dataclass
class _Req:
    outputs: list


@dataclass
class FakeVllm:
    """Records the engine's calls; every completion is a fixed Coq body."""
    calls: list = field(default_factory=list)
    init: dict = field(default_factory=dict)

    def module(self) -> types.ModuleType:
        fake = self
        vllm = types.ModuleType("vllm")

        class LLM:
            def __init__(self, **kw):
                fake.init = kw

            def generate(self, requests, params, lora_request=None, use_tqdm=True):
                fake.calls.append((requests, params, lora_request))
                return [_Req([_Out(" intros. lia.\n", [5, 6, 7]) for _ in range(p.n)]) for p in params]

        class SamplingParams:
            def __init__(self, **kw):
                self.__dict__.update(kw)

        class LoRARequest:
            def __init__(self, name, lora_id, path):
                self.name, self.id, self.path = name, lora_id, path

        vllm.LLM, vllm.SamplingParams = LLM, SamplingParams
        lora = types.ModuleType("vllm.lora")
        request = types.ModuleType("vllm.lora.request")
        request.LoRARequest = LoRARequest
        return vllm, lora, request


@pytest.fixture
def fake_vllm(monkeypatch):
    fake = FakeVllm()
    vllm, lora, request = fake.module()
    monkeypatch.setitem(sys.modules, "vllm", vllm)
    monkeypatch.setitem(sys.modules, "vllm.lora", lora)
    monkeypatch.setitem(sys.modules, "vllm.lora.request", request)
    return fake


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return qwen2_chat_checkpoint(tmp_path_factory.mktemp("qwen2") / "model")


def test_proposer_uses_vllm_lora_api_and_hf_token_ids(fake_vllm, checkpoint, tmp_path):
    from transformers import AutoTokenizer

    from prover.model import encode_prompt

    tok = AutoTokenizer.from_pretrained(checkpoint)
    prop = VllmProposer(checkpoint, tokenizer=tok, max_lora_rank=16)
    assert fake_vllm.init["enable_lora"] is True and fake_vllm.init["max_lora_rank"] == 16
    out = prop.sample(["Theorem: a\nProof: ", "Theorem: b\nProof: "], 3, 1.0, 0.95, 32, seed=7)
    assert out == [[" intros. lia.\n"] * 3] * 2
    requests, params, lora = fake_vllm.calls[-1]
    assert lora is None  # round 0: the base model
    assert requests[0]["prompt_token_ids"] == encode_prompt(tok, "Theorem: a\nProof: ")
    assert [p.n for p in params] == [3, 3] and params[0].max_tokens == 32 and params[0].top_p == 0.95
    assert params[0].seed != params[1].seed  # seeded per prompt, not per batch
    prop.sample(["Theorem: a\nProof: "], 3, 1.0, 0.95, 32, seed=7)
    assert fake_vllm.calls[-1][1][0].seed == params[0].seed
    prop.set_adapter(tmp_path / "round-0" / "adapter")
    prop.set_adapter(tmp_path / "round-1" / "adapter")
    prop.generate(["x"], 2, temperature=1.0, top_p=1.0, max_new_tokens=4, seed=0, greedy=True)
    requests, params, lora = fake_vllm.calls[-1]
    assert lora.id == 2 and lora.path.endswith("round-1/adapter") and params[0].temperature == 0.0
    prop.set_adapter(tmp_path / "round-0" / "adapter")
    assert prop._lora.id == 1  # the same adapter keeps its id


@pytest.mark.skipif(shutil.which("coqtop") is None, reason="Coq is not installed")
def test_run_with_engine_vllm_serves_each_rounds_adapter(fake_vllm, checkpoint, tmp_path):
    from loop.config import validate_config
    from loop.run import run_experiment

    cfg = validate_config({"name": "vllm", "rounds": 1, "backend": "coq",
                           "theorems": {"families": ["lin"], "per_family": 10, "heldout_fraction": 0.3},
                           "model": {"name_or_path": str(checkpoint)},
                           "sampling": {"engine": "vllm", "k": 2, "max_new_tokens": 8},
                           "eval": {"n": 2, "k": 2, "probe_size": 2}, "verifier": {"workers": 1},
                           "lora": {"r": 4, "alpha": 8, "epochs": 1}})
    run_experiment(cfg, tmp_path / "run", progress=False)
    loras = [c[2] for c in fake_vllm.calls]
    assert loras[0] is None and loras[-1] is not None  # round 0 on the base, round 1 on round 0's adapter
    assert loras[-1].path == str((tmp_path / "run" / "rounds" / "round-0" / "adapter").resolve())
    db = sqlite3.connect(tmp_path / "run" / "run.db")
    rows = db.execute("SELECT proof, raw, judge, tokens FROM attempts").fetchall()
    assert rows and all(r[0] == "intros. lia." and r[1] == " intros. lia.\n" and r[3] == 3 for r in rows)
    assert {r[2] for r in rows} == {"verified"}


# -- on a GPU, for real -----------------------------------------------------------------------------------



@pytest.mark.parametrize("with_adapter", [False, True])
@pytest.mark.gpu
@pytest.mark.skipif(not (torch.cuda.is_available() and vllm_available()), reason="needs CUDA and the vllm extra")
def test_greedy_identical_to_hf_and_throughput(tmp_path, with_adapter):
    """Greedy text of the same model (+ adapter) from both engines; throughput printed side by side."""
    from loop.config import LoraConfig
    from prover.lora import train_lora
    from prover.model import load_policy
    from prover.sampling import sample_proofs

    base = qwen2_chat_checkpoint(tmp_path / "model")
    adapter = None
    if with_adapter:
        adapter = tmp_path / "adapter"
        train_lora(base, [("forall n : nat, n = n", "reflexivity.")] * 16, LoraConfig(r=8, alpha=16, epochs=2),
                   adapter, seed=0, device="cuda", progress=False)
    prompts = [f"Theorem: forall n : nat, n + {k} = {k} + n\nProof: " for k in range(64)]
    model, tok = load_policy(base, adapter, "cuda", "float32")
    t0 = time.perf_counter()
    hf = sample_proofs(model, tok, prompts, 1, temperature=1.0, max_new_tokens=48, batch_size=64, seed=0,
                       greedy=True, progress=False)
    hf_s = time.perf_counter() - t0
    del model
    torch.cuda.empty_cache()
    prop = VllmProposer(base, tokenizer=tok, dtype="float32", max_lora_rank=8, gpu_memory_utilization=0.3,
                        enforce_eager=True)
    prop.set_adapter(adapter)
    t0 = time.perf_counter()
    vl = prop.generate(prompts, 1, temperature=1.0, top_p=1.0, max_new_tokens=48, seed=0, greedy=True)
    vl_s = time.perf_counter() - t0
    same = sum(h[0].text == v[0][0].strip() for h, v in zip(hf, vl))
    tokens = sum(h[0].tokens for h in hf)
    print(f"\ngreedy identical: {same}/{len(prompts)}; hf {tokens / hf_s:.0f} tok/s, vllm "
          f"{sum(v[0][1] for v in vl) / vl_s:.0f} tok/s (adapter={with_adapter})")
    assert same == len(prompts)
