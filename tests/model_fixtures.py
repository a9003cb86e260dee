"""A tiny corpus and a tiny bootstrapped base model, shared by the model/sampling/LoRA tests.

Imported by those test modules (pytest puts tests/ on sys.path). The base model is cached
by content hash under one session temp dir, so only the first module that asks trains it.
"""
from __future__ import annotations

import random
from pathlib import Path

import pytest

from loop.config import BootstrapConfig

TINY = BootstrapConfig(vocab_size=320, hidden_size=32, num_layers=2, num_heads=2, intermediate_size=64,
                       max_position=128, steps=120, batch_size=16, lr=1e-2)

LEAN_TEXT = "theorem t (a b : Nat) (h : a ≤ b) : ∀ c, a + c ≤ b + c ∧ ¬ (b < a) := by\n  intro c\n  omega"
COQ_TEXT = "forall (n m : nat), n <= m -> exists k, m = n + k.\nProof. intros n m H. exists (m - n). lia. Qed."


def tiny_pairs(n: int = 48, seed: int = 0) -> list[tuple[str, str]]:
    """Coq- and Lean-flavoured (statement, proof) pairs with a few proof shapes keyed by the statement."""
    rnd = random.Random(seed)
    pairs = []
    for _ in range(n):
        a, b = rnd.randint(0, 20), rnd.randint(0, 20)
        kind = rnd.randrange(4)
        if kind == 0:
            pairs.append((f"forall n : nat, n + {a} <= n + {a + b}", "intros n. lia."))
        elif kind == 1:
            pairs.append((f"forall x : Z, (x + {a}) * {b} = {b} * x + {a * b}", "intros x. ring."))
        elif kind == 2:
            pairs.append((f"∀ n : Nat, n + {a} ≤ n + {a + b}", "intro n\n  omega"))
        else:
            pairs.append((f"exists k : nat, k + {a} = {a + b}", f"exists {b}. reflexivity."))
    return pairs


def tiny_corpus(pairs: list[tuple[str, str]]) -> list[str]:
    return [s for s, _ in pairs] + [p for _, p in pairs] + [LEAN_TEXT, COQ_TEXT]


@pytest.fixture(scope="session")
def bootstrap_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.getbasetemp() / "bootstrap-cache"


@pytest.fixture(scope="session")
def tiny_base(bootstrap_cache) -> Path:
    from prover.model import bootstrap_base_model

    pairs = tiny_pairs()
    return bootstrap_base_model(TINY, tiny_corpus(pairs), pairs, bootstrap_cache, seed=0, progress=False)
