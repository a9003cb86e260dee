"""Large-k held-out evaluation: chunks bounded in samples, and verification of distinct proofs only.

With ``eval.n`` in the hundreds, the run's unit of work (a chunk of theorems sampled,
judged and committed together) must be bounded by the number of *samples*, not of
theorems: 48 theorems x 512 samples would be 24,576 proofs held in memory and lost
together by a kill. And a small policy writes the same proof many times (the
verifier ablation's base writes about 4 distinct proofs per 8 held-out samples at
T = 0.7 and about 6 at T = 1.0, and repeats grow with n), so the prover
should see each distinct (theorem, proof) once; the run's verdict cache
(``loop.run._seed_verdict_cache``, keyed by (theorem id, whitespace-normalised
proof), seeded from the store on resume) then answers repeats across rounds too.

Both helpers are pure. Sampling seeds are derived from the chunk index in
``loop.run.sample_and_verify``, so the chunking of today's configs must not move:
``plan_chunks`` returns exactly today's split while ``chunk_theorems * n`` fits in
``max_samples``, and only splits finer above it (eval.n > 64 with the defaults).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Hashable, Mapping, Sequence

MAX_SAMPLES_PER_CHUNK = 48 * 64  # 3,072 proofs: eval.n <= 64 keeps today's 48-theorem chunks
MAX_EVAL_N = 512


def plan_chunks(theorem_ids: Sequence[str], n: int, *, chunk_theorems: int,
                max_samples: int = MAX_SAMPLES_PER_CHUNK) -> list[list[str]]:
    """Consecutive chunks of ``theorem_ids`` with at most ``max_samples`` samples each (n per theorem).

    ``chunk_theorems`` is the run's ``loop.run.CHUNK_THEOREMS``. A chunk holds
    ``min(chunk_theorems, max(1, max_samples // n))`` theorems; one theorem is the smallest
    chunk, whatever n. Order is kept, so a resumed run sees the same chunks.
    """
    if n < 1 or chunk_theorems < 1 or max_samples < 1:
        raise ValueError(f"plan_chunks: n ({n}), chunk_theorems ({chunk_theorems}) and max_samples "
                         f"({max_samples}) must be >= 1")
    size = min(chunk_theorems, max(1, max_samples // n))
    return [list(theorem_ids[i:i + size]) for i in range(0, len(theorem_ids), size)]


@dataclass(frozen=True)
class DedupPlan:
    """What to send to the prover for one chunk, and how to map verdicts back to every sample."""
    keys: list[Hashable]  # one key per sample, in sample order
    todo: dict[Hashable, str]  # distinct keys not yet known -> the proof text to verify (first seen)
    cached: int  # samples answered by the cache
    repeats: int  # samples that repeat an earlier sample of this chunk

    @property
    def distinct(self) -> int:
        return len(set(self.keys))


def plan_verification(items: Sequence[tuple[str, str]], known: Mapping[Hashable, object] | set,
                      key: Callable[[str, str], Hashable]) -> DedupPlan:
    """Deduplicate (theorem_id, proof) samples before verification.

    ``key(theorem_id, proof)`` is the cache key (the run uses (theorem_id, normalize(proof))).
    A sample whose key is ``known`` (in the verdict cache) is not verified again; of
    the rest, each distinct key is verified once, with the text of its first sample
    (the layout sampled first, as selection keeps).
    """
    keys = [key(tid, p) for tid, p in items]
    todo: dict[Hashable, str] = {}
    cached = repeats = 0
    for (_, proof), k in zip(items, keys):
        if k in known:
            cached += 1
        elif k in todo:
            repeats += 1
        else:
            todo[k] = proof
    return DedupPlan(keys=keys, todo=todo, cached=cached, repeats=repeats)


def expand(plan: DedupPlan, verdicts: Mapping[Hashable, object]) -> list[object]:
    """One verdict per sample, in sample order, from verdicts per key (cache + this chunk's)."""
    missing = [k for k in dict.fromkeys(plan.keys) if k not in verdicts]
    if missing:
        raise KeyError(f"no verdict for {len(missing)} distinct proofs, e.g. {missing[0]!r}")
    return [verdicts[k] for k in plan.keys]
