"""What the loop talks to: something that proposes proof bodies.

A proposer does three things on prompts (built by the loop, one function,
``loop.run.prompt_of``): sample n proof bodies per prompt, measure its entropy
on a probe set, and score the log-probability of given proof bodies. Two
implementations:

``HFProposer``     a Hugging Face causal LM (``prover.model.load_policy``), sampled
                   by ``prover.sampling``: the policy that LoRA trains.
``FixedProposer``  a fixed list of tactic scripts, one drawn per sample with seeded
                   randomness. It never learns: the no-learning control arm of an
                   ablation, and a loop test double that needs no model.

Samples are keyed by (seed, prompt, sample index) in both, so the same seed
gives the same samples whatever the batching (a resumed run redraws exactly
what a killed one would have). torch is imported only by ``HFProposer``.
"""
from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass, field
from typing import Protocol, Sequence

from prover.config import SamplingConfig


@dataclass(frozen=True)
class Sample:
    text: str  # the proof body, stripped (for a model: decoded, cut at EOS)
    tokens: int  # tokens generated, the EOS included when the proof ended with one
    raw: str = field(default="", compare=False)  # the decoded completion, unstripped (prover.extraction reads it)


class Proposer(Protocol):
    learns: bool  # False: the loop skips fine-tuning, and every round proposes from the same distribution

    def sample(self, prompts: list[str], n: int, *, seed: int, greedy: bool = False) -> list[list[Sample]]:
        """n proof bodies for each prompt, in input order; greedy gives n copies of the most likely one."""

    def entropy(self, prompts: list[str]) -> float:
        """Mean entropy (nats) of the proposer on a probe set of prompts."""

    def logprob(self, prompts: list[str], completions: list[str]) -> list[float]:
        """log P(completion | prompt), one float per pair."""


class HFProposer:
    """A local causal LM, sampled with ``prover.sampling`` under a SamplingConfig."""
    learns = True

    def __init__(self, model, tokenizer, sampling: SamplingConfig, prompter=None):
        # prompter: prover.prompting.Prompter, the run's prompt format (None: the ratchet format)
        self.model, self.tokenizer, self.cfg, self.prompter = model, tokenizer, sampling, prompter

    def sample(self, prompts: list[str], n: int, *, seed: int, greedy: bool = False) -> list[list[Sample]]:
        from prover.sampling import sample_proofs

        c = self.cfg
        return sample_proofs(self.model, self.tokenizer, prompts, n, temperature=c.temperature, top_p=c.top_p,
                             top_k=c.top_k, max_new_tokens=c.max_new_tokens, batch_size=c.batch_size, seed=seed,
                             greedy=greedy, progress=False, prompter=self.prompter)

    def entropy(self, prompts: list[str]) -> float:
        """Token entropy along the greedy continuation (``prover.sampling.policy_entropy``)."""
        from prover.sampling import policy_entropy

        return policy_entropy(self.model, self.tokenizer, prompts, self.cfg.max_new_tokens, prompter=self.prompter)

    def logprob(self, prompts: list[str], completions: list[str]) -> list[float]:
        from prover.sampling import sequence_logprob

        return sequence_logprob(self.model, self.tokenizer, prompts, completions, prompter=self.prompter)


# The scripts a fixed proposer draws from when the config names none: the commonest shapes of the
# generated families' reference proofs, so that it proves some theorems and fails on the rest.
DEFAULT_TACTICS = {
    "coq": ("intros; lia.", "lia.", "reflexivity.", "intros; tauto.", "intros; ring.", "compute. reflexivity.",
            "induction n; simpl; lia.", "auto."),
    "lean": ("omega", "decide", "grind", "rfl", "intro x\nomega", "simp"),
}


class FixedProposer:
    """Draws each sample uniformly from a fixed list of tactic scripts; never learns.

    Its "entropy" is that of its distribution over whole proofs (ln m for m distinct scripts),
    the same every round; a script's log-probability is ln(its share of the list), -inf for a
    proof not in the list. Greedy is the first script.
    """
    learns = False

    def __init__(self, tactics: Sequence[str]):
        scripts = [t.strip() for t in tactics]
        if not scripts or not all(scripts):
            raise ValueError("model.tactics: a fixed proposer needs a non-empty list of non-empty tactic scripts")
        self.tactics = scripts

    def _draw(self, seed: int, prompt: str, index: int) -> str:
        digest = hashlib.sha256(f"{seed}\x00{index}\x00{prompt}".encode()).digest()
        return random.Random(int.from_bytes(digest[:8], "little")).choice(self.tactics)

    def sample(self, prompts: list[str], n: int, *, seed: int, greedy: bool = False) -> list[list[Sample]]:
        if n < 1:
            raise ValueError(f"sample: n ({n}) must be >= 1")
        out = []
        for p in prompts:
            texts = [self.tactics[0]] * n if greedy else [self._draw(seed, p, j) for j in range(n)]
            out.append([Sample(text=t, tokens=len(t.split()), raw=t) for t in texts])
        return out

    def entropy(self, prompts: list[str]) -> float:
        if not prompts:
            raise ValueError("entropy: the probe set is empty")
        counts = [self.tactics.count(t) / len(self.tactics) for t in dict.fromkeys(self.tactics)]
        return -sum(p * math.log(p) for p in counts)

    def logprob(self, prompts: list[str], completions: list[str]) -> list[float]:
        if len(prompts) != len(completions):
            raise ValueError(f"logprob: {len(prompts)} prompts but {len(completions)} completions")
        share = [self.tactics.count(c.strip()) / len(self.tactics) for c in completions]
        return [math.log(s) if s > 0 else -math.inf for s in share]
