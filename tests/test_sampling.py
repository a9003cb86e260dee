"""Sampling proofs, policy entropy and sequence log-probabilities on the tiny base prover."""
from __future__ import annotations

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
    # The trained model ends its proofs with EOS well before the limit, and each family keeps its tactic.
    assert all(1 <= s.tokens < 24 for r in out for s in r)
    for (statement, proof), row in zip(tiny_pairs(6, seed=7), out):
        assert sum(s.text.split()[0] == proof.split()[0] for s in row) >= 3, (statement, row)


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
    # Greedy is the zero-temperature limit of sampling.
    cold = sample(policy, prompts, n=3, temperature=1e-4)
    assert cold == g1


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
