"""Sampling proofs, policy entropy and sequence log-probabilities on the tiny base prover."""
from __future__ import annotations

import prover  # noqa: F401  (first: it sets OMP_WAIT_POLICY before torch loads OpenMP)
import math

import pytest
import torch
from model_fixtures import TINY, bootstrap_cache, tiny_base, tiny_pairs  # noqa: F401

from prover.model import build_tiny_llama, encode_completion, encode_prompt, format_prompt, load_policy
from prover.sampling import Sample, _sampler, policy_entropy, sample_proofs, sequence_logprob


@pytest.fixture(scope="module")
def policy(tiny_base):
    return load_policy(tiny_base, None, "cpu", "auto")


@pytest.fixture(scope="module")
def prompts():
    return [format_prompt(s) for s, _ in tiny_pairs(6, seed=7)]


def sample(policy, prompts, **kw):
    model, tok = policy
    args = dict(n=4, temperature=1.0, max_new_tokens=24, batch_size=64, seed=3, progress=False) | kw
    n = args.pop("n")
    return sample_proofs(model, tok, prompts, n, **args)


def test_n_samples_per_prompt_in_order(policy, prompts):
    out = sample(policy, prompts, n=5)
    assert [len(r) for r in out] == [5] * len(prompts)
    assert all(isinstance(s, Sample) and s.text == s.text.strip() and "<" not in s.text for r in out for s in r)
    # The trained model ends its proofs with EOS well before the limit, and mostly opens each
    # proof the way its family's proofs open.
    assert all(1 <= s.tokens < 24 for r in out for s in r)
    opens = [s.text.startswith(proof.split()[0]) for (_, proof), row in zip(tiny_pairs(6, seed=7), out) for s in row]
    assert sum(opens) >= 0.7 * len(opens), out


def test_max_new_tokens_is_respected(policy, prompts):
    model, tok = policy
    untrained = build_tiny_llama(TINY, tok, seed=0).eval()  # rarely emits EOS
    out = sample_proofs(untrained, tok, prompts, 3, temperature=1.0, max_new_tokens=5, batch_size=8, seed=0,
                        progress=False)
    lengths = [s.tokens for r in out for s in r]
    assert max(lengths) == 5 and all(1 <= t <= 5 for t in lengths)


def test_same_seed_same_samples_any_batching(policy, prompts):
    a = sample(policy, prompts, seed=11, temperature=2.0)
    b = sample(policy, prompts, seed=11, temperature=2.0, batch_size=5)
    c = sample(policy, list(reversed(prompts)), seed=11, temperature=2.0, batch_size=1)
    assert a == b == list(reversed(c))
    d = sample(policy, prompts, seed=12, temperature=2.0)
    assert a != d


def test_greedy_is_deterministic_and_copied(policy, prompts):
    g1 = sample(policy, prompts, greedy=True, n=3, seed=1)
    g2 = sample(policy, prompts, greedy=True, n=3, seed=2, batch_size=2)
    assert g1 == g2
    assert all(r == [r[0]] * 3 for r in g1)
    # Sampling from the top-1 token only is greedy decoding.
    assert sample(policy, prompts, n=3, top_k=1) == g1


def test_sampler_matches_softmax_with_top_k_and_top_p():
    logits = torch.tensor([[2.0, 1.0, 0.5, 0.0, -1.0]])
    draws = 20000
    uniforms = torch.rand(draws, 1, generator=torch.Generator().manual_seed(0))
    rows = torch.arange(draws)

    def freqs(temperature, top_k, top_p):
        pick = _sampler(uniforms, temperature, top_k, top_p)
        tokens = pick(logits.expand(draws, -1), rows, 0)
        return torch.bincount(tokens, minlength=5).float() / draws

    def expect(temperature, keep):
        p = torch.softmax(logits[0] / temperature, -1) * torch.tensor([float(i in keep) for i in range(5)])
        return p / p.sum()

    for temperature, top_k, top_p, keep in [(1.0, 0, 1.0, range(5)), (0.5, 0, 1.0, range(5)),
                                            (1.0, 2, 1.0, (0, 1)), (1.0, 0, 0.8, (0, 1, 2)),
                                            (1.0, 0, 0.1, (0,))]:
        got, want = freqs(temperature, top_k, top_p), expect(temperature, keep)
        assert torch.allclose(got, want, atol=0.015), (temperature, top_k, top_p, got, want)


def test_entropy_of_uniform_policy_is_log_vocab(policy, prompts):
    _, tok = policy
    model = build_tiny_llama(TINY, tok, seed=0).eval()
    with torch.no_grad():
        model.lm_head.weight.zero_()  # every logit 0: the next-token distribution is uniform
    vocab = model.config.vocab_size
    assert policy_entropy(model, tok, prompts, max_new_tokens=6) == pytest.approx(math.log(vocab), abs=1e-5)


def test_entropy_is_deterministic_and_falls_with_training(policy, prompts):
    model, tok = policy
    e1 = policy_entropy(model, tok, prompts, max_new_tokens=24)
    e2 = policy_entropy(model, tok, prompts, max_new_tokens=24, batch_size=2)
    assert e1 == pytest.approx(e2, abs=1e-6)
    untrained = build_tiny_llama(TINY, tok, seed=0).eval()
    assert 0.0 < e1 < policy_entropy(untrained, tok, prompts, max_new_tokens=24) < math.log(len(tok))


def test_sequence_logprob_matches_hand_computation(policy, prompts):
    model, tok = policy
    completions = ["intros n. lia.", "exists 3. reflexivity.", "x", "intro n\n  omega", "ring.", "∀ ≤"]
    batched = sequence_logprob(model, tok, prompts, completions, batch_size=4)
    for prompt, completion, got in zip(prompts, completions, batched):
        p, c = encode_prompt(tok, prompt), encode_completion(tok, completion)
        ids = torch.tensor([p + c])
        with torch.no_grad():
            logp = torch.log_softmax(model(input_ids=ids).logits[0].double(), -1)
        want = sum(logp[len(p) + i - 1, token].item() for i, token in enumerate(c))
        assert got == pytest.approx(want, abs=1e-3)
    assert all(x < 0 for x in batched)
    # The greedy proof is the single most likely completion, so it beats a garbled one.
    greedy = sample(policy, prompts[:1], greedy=True, n=1)[0][0].text
    best, garbled = sequence_logprob(model, tok, [prompts[0]] * 2, [greedy, greedy[::-1]])
    assert best > garbled


@pytest.mark.slow
def test_throughput_at_default_sizes(tmp_path):
    """Speed at the default sizes on the default theorem pools; prints the figures.

    pytest tests/test_sampling.py -m slow -s
    """
    import time

    from loop.config import LoraConfig, RunConfig
    from prover.lora import train_lora
    from prover.model import bootstrap_base_model
    from prover.theorems import generate_theorems, split_pools

    cfg = RunConfig()
    theorems = {t.id: t for t in generate_theorems(cfg.theorems.families, cfg.theorems.per_family,
                                                   cfg.theorems.generator_seed)}
    pools = split_pools(list(theorems.values()), cfg.theorems.warmstart_fraction, cfg.theorems.heldout_fraction)
    ids = {name: [t.id if hasattr(t, "id") else t for t in pool] for name, pool in pools.items()}
    # The corpus and warm-start pairs as loop.run builds them (both languages).
    corpus = [theorems[t].statement(lang) for pool in ids.values() for t in pool for lang in ("coq", "lean")]
    warm = []
    for t in ids["warmstart"]:
        for lang in ("coq", "lean"):
            proofs = theorems[t].reference_proofs(lang)[:1]
            corpus.extend(proofs)
            warm.extend((theorems[t].statement(lang), p) for p in proofs)
    t0, c0 = time.time(), time.process_time()
    base = bootstrap_base_model(cfg.model.bootstrap, corpus, warm, tmp_path / "cache", seed=0, progress=False)
    boot_s, boot_c = time.time() - t0, time.process_time() - c0
    model, tok = load_policy(base, None, "cpu", "auto")
    prompts = [format_prompt(theorems[t].statement("coq")) for t in ids["train"]]
    s = cfg.sampling
    t0, c0 = time.time(), time.process_time()
    out = sample_proofs(model, tok, prompts, s.k, temperature=s.temperature, max_new_tokens=s.max_new_tokens,
                        batch_size=s.batch_size, seed=0, progress=False)
    sample_s, sample_c = time.time() - t0, time.process_time() - c0
    total = len(prompts) * s.k
    mean_tokens = sum(x.tokens for r in out for x in r) / total
    untrained = build_tiny_llama(cfg.model.bootstrap, tok, seed=0).eval()  # never stops: every row runs 64 steps
    t0 = time.time()
    sample_proofs(untrained, tok, prompts[:16], 8, temperature=1.0, max_new_tokens=64, batch_size=128, seed=0,
                  progress=False)
    worst_s = time.time() - t0
    c0 = time.process_time()
    examples = [(theorems[t].statement("coq"), p) for t in ids["train"] for p in theorems[t].reference_proofs("coq")]
    lora = train_lora(base, examples, LoraConfig(), tmp_path / "adapter", seed=0, device="cpu", progress=False)
    lora_c = time.process_time() - c0
    t0 = time.time()
    load_policy(base, tmp_path / "adapter", "cpu", "auto")
    load_s = time.time() - t0
    print(f"\nbootstrap: {cfg.model.bootstrap.steps} steps in {boot_s:.1f}s "
          f"({cfg.model.bootstrap.steps / boot_s:.2f} steps/s incl. tokenizer; {boot_c:.0f} CPU-s), {len(warm)} pairs")
    print(f"sampling: {total} proofs in {sample_s:.1f}s = {total / sample_s:.0f} seq/s "
          f"({sample_c:.1f} CPU-s; mean {mean_tokens:.1f} tokens incl. EOS, batch {s.batch_size}, "
          f"max_new_tokens {s.max_new_tokens})")
    print(f"sampling, a model that never stops (64 tokens each): {128 / worst_s:.0f} seq/s")
    print(f"LoRA: {lora['steps']} steps on {lora['examples']} examples in {lora['seconds']:.1f}s "
          f"= {lora['steps'] / lora['seconds']:.2f} steps/s ({lora_c:.0f} CPU-s); load+merge {load_s:.2f}s")
    assert total / sample_s > 20 and lora["loss_last"] < lora["loss_first"]
