"""Prompt format, tokenizer, the cached bootstrap of the tiny base prover, devices and dtypes."""
from __future__ import annotations

import prover  # noqa: F401  (first: it sets OMP_WAIT_POLICY before torch loads OpenMP)
import json
import math

import pytest
import torch
from model_fixtures import COQ_TEXT, LEAN_TEXT, TINY, bootstrap_cache, tiny_base, tiny_corpus, tiny_pairs  # noqa: F401

from prover.model import (EOS, bootstrap_base_model, build_tiny_llama, encode_completion, encode_example,
                          encode_prompt, format_example, format_prompt, load_policy, resolve_device,
                          resolve_dtype, train_tokenizer)
from prover.sampling import sequence_logprob


def test_tokenizer_round_trips_coq_and_lean_exactly(tmp_path):
    from transformers import AutoTokenizer

    tok = train_tokenizer(tiny_corpus(tiny_pairs()), 320)
    assert len(tok) == 320
    unseen = ["Theorem x : ∀ ε > 0, ∃ δ, |f x - f y| < ε ⊢ ⟨a, b⟩ ↔ ⊤", "  two  spaces\tand\ttabs \n\n end ",
              "intros n; induction n as [|n IH]; simpl; [reflexivity | rewrite IH; auto]."]
    saved = tmp_path / "tok"
    tok.save_pretrained(saved)
    reloaded = AutoTokenizer.from_pretrained(saved, local_files_only=True)
    for text in [LEAN_TEXT, COQ_TEXT, *unseen]:
        for t in (tok, reloaded):
            ids = t(text, add_special_tokens=False)["input_ids"]
            assert t.decode(ids) == text
    # Merges were learned: frequent corpus words take fewer tokens than bytes.
    assert len(tok("intros n. lia.", add_special_tokens=False)["input_ids"]) < len("intros n. lia.") // 2
    assert {tok.pad_token_id, tok.bos_token_id, tok.eos_token_id} == {0, 1, 2}


def test_prompt_format_and_encoding_agree():
    tok = train_tokenizer(tiny_corpus(tiny_pairs()), 320)
    statement, proof = "forall n : nat, n + 0 = n", " intros n. lia. "
    assert format_example(statement, proof) == format_prompt(statement) + "intros n. lia." + EOS
    ids, n_prompt = encode_example(tok, statement, proof)
    assert ids[:n_prompt] == encode_prompt(tok, format_prompt(statement))
    assert ids[0] == tok.bos_token_id and ids[-1] == tok.eos_token_id
    assert ids[n_prompt:] == encode_completion(tok, proof)
    assert tok.decode(ids[n_prompt:-1]) == proof.strip()


def test_bootstrap_learns_and_is_cached(tiny_base, bootstrap_cache):
    marker = json.loads((tiny_base / "done.json").read_text())
    assert marker["loss_last"] < 0.5 * marker["loss_first"]
    model, tok = load_policy(tiny_base, None, "cpu", "auto")
    assert not model.training and model.config.vocab_size == len(tok) and model.config.hidden_size == TINY.hidden_size
    # The untrained model with the same seed is exactly where training started.
    before = build_tiny_llama(TINY, tok, seed=0).eval()
    pairs = tiny_pairs()[:8]
    prompts, proofs = [format_prompt(s) for s, _ in pairs], [p for _, p in pairs]
    lp_before = sequence_logprob(before, tok, prompts, proofs)
    lp_after = sequence_logprob(model, tok, prompts, proofs)
    assert all(a > b + 5.0 for a, b in zip(lp_after, lp_before)), (lp_before, lp_after)

    # Same inputs: the cached directory comes back untouched (the marker is not rewritten).
    stamp = (tiny_base / "done.json").stat().st_mtime_ns
    again = bootstrap_base_model(TINY, tiny_corpus(tiny_pairs()), tiny_pairs(), bootstrap_cache, seed=0,
                                 progress=False)
    assert again == tiny_base and (again / "done.json").stat().st_mtime_ns == stamp
    assert not [p for p in bootstrap_cache.iterdir() if p.name.startswith(".tmp")]


def test_bootstrap_is_deterministic_and_keyed_by_inputs(tmp_path, tiny_base):
    cfg = TINY.model_copy(update={"steps": 10})
    pairs = tiny_pairs()
    a = bootstrap_base_model(cfg, tiny_corpus(pairs), pairs, tmp_path / "a", seed=0, progress=False)
    b = bootstrap_base_model(cfg, tiny_corpus(pairs), pairs, tmp_path / "b", seed=0, progress=False)
    assert a.name == b.name and a.name != tiny_base.name  # the key covers the config
    wa, wb = (load_policy(p, None, "cpu", "auto")[0].state_dict() for p in (a, b))
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    c = bootstrap_base_model(cfg, tiny_corpus(pairs), pairs, tmp_path / "a", seed=1, progress=False)
    assert c != a and (c / "done.json").is_file()


def test_bootstrap_refuses_empty_warmstart(tmp_path):
    with pytest.raises(ValueError, match="warm-start"):
        bootstrap_base_model(TINY, ["x"], [], tmp_path, seed=0, progress=False)


def test_resolve_device_and_dtype():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto") == expected
    assert resolve_device("cpu") == "cpu"
    assert resolve_dtype("auto", "cpu") == torch.float32
    assert resolve_dtype("auto", "cuda") == torch.bfloat16
    assert resolve_dtype("bfloat16", "cpu") == torch.bfloat16
    with pytest.raises(ValueError, match="model.dtype"):
        resolve_dtype("float16", "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="model.device"):
            resolve_device("cuda")


def test_load_policy_casts_to_requested_dtype(tiny_base):
    model, _ = load_policy(tiny_base, None, "cpu", "bfloat16")
    assert next(model.parameters()).dtype == torch.bfloat16
    assert math.isfinite(model(input_ids=torch.tensor([[1, 5, 6]])).logits.float().sum().item())


def test_bootstrap_cache_key_separates_devices_but_keeps_cpu_keys():
    from prover.model import bootstrap_key

    pairs = tiny_pairs()[:4]
    corpus = tiny_corpus(pairs)
    cpu = bootstrap_key(TINY, corpus, pairs, 0)
    assert bootstrap_key(TINY, corpus, pairs, 0, "cpu") == cpu  # existing CPU caches stay valid
    assert bootstrap_key(TINY, corpus, pairs, 0, "cuda") != cpu
    assert bootstrap_key(TINY, corpus, pairs, 0, "cuda:1") == bootstrap_key(TINY, corpus, pairs, 0, "cuda")
    assert bootstrap_key(TINY, corpus, pairs, 1) != cpu
