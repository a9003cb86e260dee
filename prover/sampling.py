"""Sampling proofs from a policy, and the two measurements taken on it (entropy, log-prob).

Decoding is a hand-written loop over the model's forward pass with the KV cache rather
than `model.generate`: it drops finished sequences from the batch (and from the cache) as
soon as they emit EOS, so short proofs stop costing compute, and its randomness is keyed
per sequence (see `_row_uniforms`), so a sample does not depend on the batch it ran in.
"""
from __future__ import annotations

import hashlib
from typing import Callable, Sequence

import torch

from prover.model import count_bar, encode_completion, encode_prompt
from prover.proposer import Sample  # noqa: F401  (the type sample_proofs returns; defined beside the interface)

# A picker turns the last logits of the live rows into their next tokens.
# Arguments: float32 logits (live rows, vocab), the live rows' indices in the batch, the step.
Picker = Callable[[torch.Tensor, torch.Tensor, int], torch.Tensor]


def _left_pad(rows: Sequence[list[int]], pad_id: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, width - len(r):] = torch.tensor(r)
        mask[i, width - len(r):] = 1
    return ids.to(device), mask.to(device)


@torch.inference_mode()
def _decode(model, prompt_ids: Sequence[list[int]], *, eos_id: int, pad_id: int, max_new_tokens: int,
            pick: Picker, rows: Sequence[int] | None = None, entropies: list[float] | None = None
            ) -> list[list[int]]:
    """Generate up to `max_new_tokens` ids (EOS included when produced) for each row, in one batch.

    Row r continues prompt `rows[r]` (default: one row per prompt). Each distinct prompt is run
    through the model once and its KV cache is copied to its rows: with k samples per theorem
    the prompt costs one forward pass, not k. If `entropies` is given, the T=1 entropy (nats) of
    every next-token distribution that produced a token is appended to it.
    """
    from transformers import DynamicCache

    device = model.device
    ids, mask = _left_pad(prompt_ids, pad_id, device)
    # Left padding shifts each row, so positions come from the mask, not the column index.
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    cache = DynamicCache(config=model.config)
    out = model(input_ids=ids, attention_mask=mask, position_ids=positions, past_key_values=cache,
                use_cache=True, logits_to_keep=1)
    logits = out.logits[:, -1, :].float()
    next_pos = mask.sum(-1)
    if rows is not None:
        src = torch.tensor(list(rows), dtype=torch.long, device=device)
        cache.batch_select_indices(src)
        logits, mask, next_pos = logits[src], mask[src], next_pos[src]
    live = torch.arange(len(logits), device=device)  # batch index of each row still decoding
    generated: list[list[int]] = [[] for _ in range(len(logits))]
    for step in range(max_new_tokens):
        if entropies is not None:
            entropies.extend(row_entropies(logits).tolist())
        tokens = pick(logits, live, step)
        for row, tok in zip(live.tolist(), tokens.tolist()):
            generated[row].append(tok)
        if step == max_new_tokens - 1:
            break
        going = tokens != eos_id
        if not bool(going.all()):
            if not bool(going.any()):
                break
            # Drop finished rows everywhere, so the next forward pass only computes live ones.
            keep = going.nonzero().squeeze(1)
            cache.batch_select_indices(keep)
            live, tokens, mask, next_pos = live[keep], tokens[keep], mask[keep], next_pos[keep]
        mask = torch.cat([mask, mask.new_ones((len(live), 1))], dim=1)
        out = model(input_ids=tokens[:, None], attention_mask=mask, position_ids=next_pos[:, None],
                    past_key_values=cache, use_cache=True)
        logits = out.logits[:, -1, :].float()
        next_pos = next_pos + 1
    return generated


def _greedy(logits: torch.Tensor, live: torch.Tensor, step: int) -> torch.Tensor:
    return logits.argmax(-1)


def _row_uniforms(seed: int, prompt: str, index: int, steps: int) -> torch.Tensor:
    """The uniforms that drive sample `index` of `prompt`: a function of (seed, prompt, index) only.

    So the same seed gives the same samples whatever the batch size, the order of the prompts
    or the other prompts in the call (a resumed run re-draws exactly what a killed one would
    have). The same prompt twice in one call gets the same samples twice.
    """
    digest = hashlib.sha256(f"{seed}\x00{index}\x00{prompt}".encode()).digest()
    gen = torch.Generator().manual_seed(int.from_bytes(digest[:8], "little") >> 1)
    return torch.rand(steps, generator=gen)


def _sampler(uniforms: torch.Tensor, temperature: float, top_k: int, top_p: float) -> Picker:
    """Sample from softmax(logits / T) restricted to top-k / top-p by inverting the CDF at each row's uniform."""
    def pick(logits: torch.Tensor, live: torch.Tensor, step: int) -> torch.Tensor:
        logits = logits / temperature
        if top_k > 0 and top_k < logits.shape[-1]:
            kth = logits.topk(top_k, dim=-1).values[:, -1:]
            logits = logits.masked_fill(logits < kth, float("-inf"))
        if top_p < 1.0:
            sorted_logits, order = logits.sort(dim=-1, descending=True)
            probs = sorted_logits.softmax(-1)
            # Drop a token when the tokens ranked above it already hold top_p of the mass;
            # the most likely token always survives.
            drop = probs.cumsum(-1) - probs >= top_p
            logits = logits.scatter(-1, order, sorted_logits.masked_fill(drop, float("-inf")))
        cdf = logits.softmax(-1).cumsum(-1)
        target = uniforms[live, step][:, None] * cdf[:, -1:]
        # The first token whose cumulative mass exceeds the target; zero-mass tokens never qualify.
        return torch.searchsorted(cdf, target, right=True).squeeze(1).clamp(max=cdf.shape[-1] - 1)
    return pick


def _check_tokenizer(tokenizer) -> tuple[int, int]:
    if tokenizer.eos_token_id is None:
        raise ValueError("tokenizer has no eos_token: proofs could never end")
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    return tokenizer.eos_token_id, pad


def _to_sample(tokenizer, ids: list[int], eos_id: int) -> Sample:
    body = ids[:ids.index(eos_id)] if eos_id in ids else ids
    raw = tokenizer.decode(body, skip_special_tokens=True)
    return Sample(text=raw.strip(), tokens=len(ids), raw=raw)


def sample_proofs(model, tokenizer, prompts: list[str], n: int, *, temperature: float, top_p: float = 1.0,
                  top_k: int = 0, max_new_tokens: int, batch_size: int, seed: int, greedy: bool = False,
                  progress: bool | Callable[[int], None] = True, prompter=None) -> list[list[Sample]]:
    """n proofs for each prompt (prompts come from `prover.model.format_prompt`), in input order.

    greedy=True decodes each prompt once and returns n copies. `progress` is a bool (a rich bar)
    or a callable given the number of samples just finished (len(prompts) * n in all).
    Pass a different seed for each round and chunk: the same (seed, prompt) gives the same samples.
    With a `prover.prompting.Prompter` the prompts are tokenized in its format (a chat prompt gets no BOS).
    """
    if n < 1 or batch_size < 1 or max_new_tokens < 1:
        raise ValueError(f"sample_proofs: n ({n}), batch_size ({batch_size}) and max_new_tokens "
                         f"({max_new_tokens}) must be >= 1")
    eos_id, pad_id = _check_tokenizer(tokenizer)
    encoded = [prompter.encode_prompt(p) if prompter else encode_prompt(tokenizer, p) for p in prompts]
    copies = 1 if greedy else n
    rows = [(i, j) for i in range(len(prompts)) for j in range(copies)]
    # Similar lengths together waste less compute on padding, and a prompt's samples together
    # share one prompt forward pass; the order does not change the samples.
    rows.sort(key=lambda row: (len(encoded[row[0]]), row))
    results: list[list[Sample | None]] = [[None] * copies for _ in prompts]
    with count_bar("sampling proofs", len(rows) * (n if greedy else 1), progress) as advance:
        for start in range(0, len(rows), batch_size):
            batch = rows[start:start + batch_size]
            distinct = list(dict.fromkeys(i for i, _ in batch))
            slot = {i: k for k, i in enumerate(distinct)}
            if greedy:
                pick = _greedy
            else:
                uniforms = torch.stack([_row_uniforms(seed, prompts[i], j, max_new_tokens) for i, j in batch])
                uniforms = uniforms.to(model.device)  # drawn on the CPU so that they match on any device
                pick = _sampler(uniforms, temperature, top_k, top_p)
            out = _decode(model, [encoded[i] for i in distinct], rows=[slot[i] for i, _ in batch], eos_id=eos_id,
                          pad_id=pad_id, max_new_tokens=max_new_tokens, pick=pick)
            for (i, j), ids in zip(batch, out):
                results[i][j] = _to_sample(tokenizer, ids, eos_id)
            advance(len(batch) * (n if greedy else 1))
    if greedy:
        return [[r[0]] * n for r in results]
    return results  # type: ignore[return-value]


def policy_entropy(model, tokenizer, prompts: list[str], max_new_tokens: int, *, batch_size: int = 64,
                   prompter=None) -> float:
    """Mean entropy (nats) of the T=1 next-token distribution along the greedy continuation of each prompt.

    Averaged over every generated position of every prompt (the step that emits EOS counts;
    nothing after it does). Deterministic: greedy decoding draws no randomness.
    """
    if not prompts:
        raise ValueError("policy_entropy: the probe set is empty")
    eos_id, pad_id = _check_tokenizer(tokenizer)
    values: list[float] = []
    for start in range(0, len(prompts), batch_size):
        batch = [prompter.encode_prompt(p) if prompter else encode_prompt(tokenizer, p)
                 for p in prompts[start:start + batch_size]]
        _decode(model, batch, eos_id=eos_id, pad_id=pad_id, max_new_tokens=max_new_tokens, pick=_greedy,
                entropies=values)
    return sum(values) / len(values)


# ---------------------------------------------------------------------------
# Log-probs and entropies at real vocabulary sizes
# ---------------------------------------------------------------------------
# A full-vocabulary fp32 log_softmax over (batch, length, vocab) is 20 GB at vocab 150k,
# batch 64, length 512. Only the target token's log-prob is needed: gather its logit and
# subtract a logsumexp computed over at most LOGIT_BUDGET logits at a time.

LOGIT_BUDGET = 1 << 24  # fp32 logits materialized at once (64 MiB), whatever the vocabulary


def row_entropies(logits: torch.Tensor, budget: int = LOGIT_BUDGET) -> torch.Tensor:
    """Entropy (nats) of softmax(logits) for each row of a (rows, vocab) tensor, rows in chunks.

    Each row is computed exactly as one full log_softmax would, so the values do not depend on
    the chunking (below the budget there is a single chunk).
    """
    rows = max(1, budget // max(1, logits.shape[-1]))
    out = []
    for start in range(0, logits.shape[0], rows):
        logp = torch.log_softmax(logits[start:start + rows].float(), dim=-1)
        out.append(-(logp.exp() * logp).sum(-1))
    return torch.cat(out) if out else logits.new_zeros((0,), dtype=torch.float32)


def gathered_logprobs(logits_of: Callable[[slice], torch.Tensor], targets: torch.Tensor, vocab: int,
                      budget: int = LOGIT_BUDGET) -> torch.Tensor:
    """log softmax(logits)[target] for N positions, never holding more than `budget` logits.

    `logits_of(slice)` returns the (n, vocab) logits of those positions in any dtype; they are
    cast to fp32 one chunk at a time: target logit minus logsumexp.
    """
    step = max(1, budget // max(1, vocab))
    out = torch.empty(len(targets), dtype=torch.float32, device=targets.device)
    for start in range(0, len(targets), step):
        part = slice(start, start + step)
        x = logits_of(part).float()
        out[part] = x.gather(-1, targets[part, None]).squeeze(-1) - torch.logsumexp(x, dim=-1)
    return out


def _head_path(model, ids: torch.Tensor, mask: torch.Tensor):
    """(final hidden states, output head) when logits are exactly head(hidden) for this model, else None.

    Decoder-only HF models compute logits as lm_head(final hidden state); a few scale or cap them.
    Checked on the last position of the first row against the model's own logits.
    """
    decoder, head = model.get_decoder(), model.get_output_embeddings()
    if decoder is None or decoder is model or head is None:
        return None
    hidden = decoder(input_ids=ids, attention_mask=mask).last_hidden_state
    try:  # the model's own logits for one position, without computing them for the whole row
        probe = model(input_ids=ids[:1], attention_mask=mask[:1], logits_to_keep=1).logits[0, -1].float()
    except TypeError:
        probe = model(input_ids=ids[:1], attention_mask=mask[:1]).logits[0, -1].float()
    if not torch.allclose(head(hidden[:1, -1]).float()[0], probe, rtol=1e-3, atol=1e-3):
        return None
    return hidden, head


@torch.inference_mode()
def sequence_logprob(model, tokenizer, prompts: list[str], completions: list[str], *,
                     batch_size: int = 64, prompter=None, budget: int = LOGIT_BUDGET) -> list[float]:
    """log P(completion + EOS | prompt) under the policy at T=1, one float per pair.

    Only completion positions are scored, in chunks of at most `budget` logits: through the
    output head on the final hidden states when the model's logits are exactly that (no
    (batch, length, vocab) tensor at all), else on the model's logits. With a
    `prover.prompting.Prompter`, prompts and completions are encoded in its format.
    """
    if len(prompts) != len(completions):
        raise ValueError(f"sequence_logprob: {len(prompts)} prompts but {len(completions)} completions")
    _, pad_id = _check_tokenizer(tokenizer)
    enc_p = prompter.encode_prompt if prompter else (lambda p: encode_prompt(tokenizer, p))
    enc_c = prompter.encode_target if prompter else (lambda c: encode_completion(tokenizer, c))
    pairs = [(enc_p(p), enc_c(c)) for p, c in zip(prompts, completions)]
    scores: list[float] = []
    for start in range(0, len(pairs), batch_size):
        batch = pairs[start:start + batch_size]
        width = max(len(p) + len(c) for p, c in batch)
        ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        scored = torch.zeros((len(batch), width), dtype=torch.bool)  # positions of completion tokens
        for row, (p, c) in enumerate(batch):
            ids[row, :len(p) + len(c)] = torch.tensor(p + c)
            mask[row, :len(p) + len(c)] = 1
            scored[row, len(p):len(p) + len(c)] = True
        ids, mask, scored = ids.to(model.device), mask.to(model.device), scored.to(model.device)
        # Token t is predicted at position t - 1.
        rows, cols = scored[:, 1:].nonzero(as_tuple=True)
        targets = ids[rows, cols + 1]
        found = _head_path(model, ids, mask)
        if found is not None:
            hidden, head = found
            vocab = head.weight.shape[0]
            logits_of = lambda part: head(hidden[rows[part], cols[part]])  # noqa: E731
        else:
            logits = model(input_ids=ids, attention_mask=mask).logits
            vocab = logits.shape[-1]
            logits_of = lambda part: logits[rows[part], cols[part]]  # noqa: E731
        token_logp = gathered_logprobs(logits_of, targets, vocab, budget)
        sums = torch.zeros(len(batch), dtype=torch.float32, device=ids.device).index_add_(0, rows, token_logp)
        scores.extend(sums.tolist())
    return scores
