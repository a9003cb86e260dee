"""Selection: which proofs become the next round's fine-tuning set.

Only what the gate admitted, only the final proof text (the sample is the proof
body; there is no reasoning trace to strip), duplicates removed after whitespace
normalisation (the first sampled layout is kept), at most ``per_theorem_cap`` distinct proofs per theorem per round
(the most often sampled first, so the cap keeps what the policy believes in).

Modes (``select.mode``):
  accumulate  this round's admitted proofs plus every earlier round's SFT set (default)
  replace     this round's admitted proofs only
  mix         this round's admitted proofs plus fresh warm-start examples making up
              ``fresh_fraction`` of the result (the "keep fresh data" control)
  raw         every gate-admitted sample of this round as sampled: duplicates kept (the
              store counts them in ``admitted.copies``), no normalisation, no cap, empty
              bodies kept, nothing carried over (pure self-distillation; loop.selection_raw)
"""
from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass

from loop.config import SelectConfig
from loop.selection_raw import select_raw
from loop.store import Store


@dataclass(frozen=True)
class Admitted:
    theorem_id: str
    proof: str
    attempt_id: int | None  # None for warm-start data added by the `mix` mode


def normalize(proof: str) -> str:
    return " ".join(proof.split())


def admitted_this_round(store: Store, r: int, cap: int) -> list[Admitted]:
    rows = store.gate_admitted(r)
    counts: Counter = Counter()
    first: dict[tuple[str, str], tuple[int, str]] = {}
    for row in rows:
        if not row["proof"].strip():
            continue  # an empty body is never training material, whatever a gate said
        key = (row["theorem_id"], normalize(row["proof"]))
        counts[key] += 1
        first.setdefault(key, (row["id"], row["proof"]))
    by_theorem: dict[str, list[tuple[str, str]]] = {}
    for key in counts:
        by_theorem.setdefault(key[0], []).append(key)
    out = []
    for tid in sorted(by_theorem):
        keys = sorted(by_theorem[tid], key=lambda k: (-counts[k], first[k][0]))[:cap]
        # dedup on the normalised text, but keep the proof as sampled: Lean layout is significant
        out.extend(Admitted(tid, first[k][1], first[k][0]) for k in keys)
    return out


def select_admitted(store: Store, r: int, cfg: SelectConfig, warmstart: list[tuple[str, str]],
                    seed: int) -> list[Admitted]:
    if cfg.mode == "raw":
        return [Admitted(x.theorem_id, x.proof, x.attempt_id) for x in select_raw(store.train_attempts(r))]
    current = admitted_this_round(store, r, cfg.per_theorem_cap)
    if cfg.mode == "replace":
        return current
    if cfg.mode == "accumulate":
        seen = {(a.theorem_id, normalize(a.proof)) for a in current}
        previous = [Admitted(row["theorem_id"], row["proof"], row["attempt_id"])
                    for row in (store.admitted(r - 1) if r > 0 else [])]
        return current + [a for a in previous if (a.theorem_id, normalize(a.proof)) not in seen]
    # mix: fresh warm-start data is fresh_fraction of the final set
    f = cfg.fresh_fraction
    n_fresh = len(warmstart) if f >= 1 else round(f / (1 - f) * len(current))
    rng = random.Random(seed * 1_000_003 + r)  # seeded per round, independent of PYTHONHASHSEED
    fresh = rng.sample(warmstart, min(n_fresh, len(warmstart)))
    return current + [Admitted(tid, p, None) for tid, p in fresh]
