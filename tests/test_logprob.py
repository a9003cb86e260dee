"""Log-probs and entropies without a full-vocabulary log_softmax (prover.sampling), against the old computation."""
from __future__ import annotations

import torch

from prover.sampling import LOGIT_BUDGET, gathered_logprobs, row_entropies, sequence_logprob


def old_sequence_logprob(model, ids, mask, scored) -> torch.Tensor:
    """The computation sequence_logprob used before: a full fp32 log_softmax, gathered."""
    logp = torch.log_softmax(model(input_ids=ids, attention_mask=mask).logits.float(), dim=-1)
    token_logp = logp[:, :-1].gather(-1, ids[:, 1:, None]).squeeze(-1)
    return (token_logp * scored[:, 1:]).sum(-1)


def test_gathered_logprobs_equal_log_softmax_for_any_chunking():
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(37, 1000, generator=gen) * 8
    targets = torch.randint(0, 1000, (37,), generator=gen)
    want = torch.log_softmax(logits, -1).gather(-1, targets[:, None]).squeeze(-1)
    for budget in (1, 1000, 5000, 10 ** 6):
        got = gathered_logprobs(lambda part: logits[part], targets, 1000, budget)
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
    half = gathered_logprobs(lambda part: logits[part].bfloat16(), targets, 1000, 3000)  # bf16 in, fp32 math
    torch.testing.assert_close(half, torch.log_softmax(logits.bfloat16().float(), -1).gather(
        -1, targets[:, None]).squeeze(-1), rtol=1e-5, atol=1e-5)


def test_row_entropies_do_not_depend_on_chunking():
    logits = torch.randn(50, 700, generator=torch.Generator().manual_seed(1)) * 3
    logp = torch.log_softmax(logits, -1)
    old = -(logp.exp() * logp).sum(-1)
    assert torch.equal(row_entropies(logits), old)  # one chunk below the budget: bit for bit
    torch.testing.assert_close(row_entropies(logits, budget=700 * 7), old, rtol=0, atol=1e-6)
    assert LOGIT_BUDGET // 151_936 >= 64  # a decoding step's rows fit one chunk at Qwen's vocabulary


def _tiny(arch: str, vocab: int):
    from transformers import GPT2Config, GPT2LMHeadModel, Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(0)
    if arch == "gpt2":
        return GPT2LMHeadModel(GPT2Config(n_layer=2, n_embd=32, n_head=2, vocab_size=vocab,
                                          bos_token_id=1, eos_token_id=2)).eval()
    return Qwen2ForCausalLM(Qwen2Config(vocab_size=vocab, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                        num_attention_heads=2, num_key_value_heads=1,
                                        tie_word_embeddings=False)).eval()


class _Tok:
    """The three methods sequence_logprob needs, over fixed integer "texts"."""
    eos_token_id, pad_token_id, bos_token_id = 2, 0, 1

    def __call__(self, text, add_special_tokens=False):
        return {"input_ids": [int(t) for t in text.split()]}


def test_sequence_logprob_matches_the_full_log_softmax():
    tok = _Tok()
    prompts = ["5 6 7", "9", "11 12 13 14 15 16"]
    completions = ["8 9 10", "3 4", "20"]
    for arch in ("qwen2", "gpt2"):
        model = _tiny(arch, vocab=3000)
        got = sequence_logprob(model, tok, prompts, completions, budget=3000 * 2)  # 2 positions per chunk
        # The same right-padded batch the function builds, scored the old way.
        rows = [([1] + [int(t) for t in p.split()], [int(t) for t in c.split()] + [2])
                for p, c in zip(prompts, completions)]
        width = max(len(p) + len(c) for p, c in rows)
        ids = torch.zeros((3, width), dtype=torch.long)
        mask = torch.zeros_like(ids)
        scored = torch.zeros((3, width), dtype=torch.bool)
        for i, (p, c) in enumerate(rows):
            ids[i, :len(p + c)] = torch.tensor(p + c)
            mask[i, :len(p + c)] = 1
            scored[i, len(p):len(p + c)] = True
        with torch.inference_mode():
            want = old_sequence_logprob(model, ids, mask, scored)
        torch.testing.assert_close(torch.tensor(got), want, rtol=1e-5, atol=1e-4)


def test_sequence_logprob_falls_back_to_logits_when_head_is_not_the_whole_story():
    tok = _Tok()
    model = _tiny("qwen2", vocab=500)
    scaled = _tiny("qwen2", vocab=500)

    class Scaled(torch.nn.Module):  # logits = 2 * head(hidden): the head path must notice and not be used
        def __init__(self, inner):
            super().__init__()
            self.inner, self.device, self.config = inner, inner.device, inner.config

        def get_decoder(self):
            return self.inner.get_decoder()

        def get_output_embeddings(self):
            return self.inner.get_output_embeddings()

        def forward(self, **kw):
            out = self.inner(**kw)
            out.logits = out.logits * 2
            return out

    wrapped = Scaled(scaled)
    got = sequence_logprob(wrapped, tok, ["5 6"], ["7 8"])
    ids = torch.tensor([[1, 5, 6, 7, 8, 2]])
    with torch.inference_mode():
        want = old_sequence_logprob(wrapped, ids, torch.ones_like(ids), torch.tensor([[0, 0, 0, 1, 1, 1]]).bool())
    torch.testing.assert_close(torch.tensor(got), want, rtol=1e-5, atol=1e-4)
    assert got != sequence_logprob(model, tok, ["5 6"], ["7 8"])
