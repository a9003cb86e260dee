"""Theorems as values, the family table, deterministic generation and pool splits.

* ``Theorem.id`` = ``f"{family}/{sha1(canonical IR)[:10]}"``: the same statement
  in the same family has the same id whatever the seed, order or per_family.
* ``generate_theorems`` is a pure function of its arguments.
* ``split_pools`` decides held-out membership from a hash of the id alone, so
  the held-out set is frozen before round 0 and never depends on the
  warm-start fraction, on generation order or on which other theorems exist.
"""
from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

from prover.theorems.fam_arith import COMPUTE, LIN, RING
from prover.theorems.fam_depth import DEPTH
from prover.theorems.fam_reasoning import EXISTS, INDUCT, PROP
from prover.theorems.ir import (And, Eq, Exists, Forall, Imp, Le, Lt, Mul, Not, Or, Prop, PropVar, Var, app, canonical,
                                forall_nat, plus, render, scale)
from prover.theorems.templates import Built, Family, T, all_instances, iter_instances

BACKENDS = ("coq", "lean")

# The family table: a plain dict, in the order families are listed by default.
FAMILIES: dict[str, Family] = {
    "lin": LIN,
    "ring": RING,
    "compute": COMPUTE,
    "prop": PROP,
    "exists": EXISTS,
    "induct": INDUCT,
    "depth": DEPTH,  # not in the default config's families; graded by composition depth (fam_depth)
}

# Knob: share of each family's theorems at difficulty 1, 2, 3. Harder theorems
# are where a tiny model has room to grow; easier ones let it bootstrap.
DEFAULT_DIFFICULTY_MIX: dict[int, float] = {1: 0.4, 2: 0.35, 3: 0.25}


@dataclass(frozen=True)
class Theorem:
    id: str
    family: str
    difficulty: int  # 1..3 within the family; 0 for canaries
    name: str  # plain identifier, valid in Coq and Lean: t_<family>_<hash>
    ir: Prop
    coq: str  # statement text
    lean: str
    template: str  # which template built it (for per-template analysis)
    proofs_coq: tuple[str, ...] = ()
    proofs_lean: tuple[str, ...] = ()

    def statement(self, backend: str) -> str:
        return {"coq": self.coq, "lean": self.lean}[_check_backend(backend)]

    def row(self, pool: str, backend: str) -> dict:
        """The loop.store ``theorems`` row for this theorem in ``pool``."""
        return {"id": self.id, "family": self.family, "difficulty": self.difficulty, "pool": pool,
                "name": self.name, "statement": self.statement(backend), "statement_coq": self.coq,
                "statement_lean": self.lean}

    def reference_proofs(self, backend: str) -> list[str]:
        """Proof bodies known to work (Coq: checked by tests with coqc; Lean: written
        for Lean 4 core, unchecked here). The first is the canonical style."""
        return list({"coq": self.proofs_coq, "lean": self.proofs_lean}[_check_backend(backend)])


def _check_backend(backend: str) -> str:
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    return backend


def _digest(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def make_theorem(family: str, difficulty: int, template: str, built: Built) -> Theorem:
    h = _digest(canonical(built.ir))[:10]
    return Theorem(id=f"{family}/{h}", family=family, difficulty=difficulty, name=f"t_{family}_{h}",
                   ir=built.ir, coq=render(built.ir, "coq"), lean=render(built.ir, "lean"), template=template,
                   proofs_coq=built.coq, proofs_lean=built.lean)


def _quotas(per_family: int, mix: Mapping[int, float]) -> dict[int, int]:
    """Split per_family over difficulties by largest remainder (sums exactly to per_family)."""
    if set(mix) - {1, 2, 3} or any(v < 0 for v in mix.values()) or sum(mix.values()) <= 0:
        raise ValueError(f"difficulty_mix must map some of 1, 2, 3 to non-negative weights, got {dict(mix)}")
    total = sum(mix.values())
    raw = {d: per_family * mix.get(d, 0.0) / total for d in (1, 2, 3)}
    out = {d: int(v) for d, v in raw.items()}
    for d in sorted(raw, key=lambda d: (out[d] - raw[d], d))[: per_family - sum(out.values())]:
        out[d] += 1
    return out


def _family_rng(seed: int, family: str, difficulty: int) -> random.Random:
    # Seeded from a hash, not Python's salted hash(), so runs are reproducible.
    return random.Random(int(_digest(f"{seed}:{family}:{difficulty}")[:16], 16))


def generate_theorems(families: Sequence[str], per_family: int, seed: int,
                      difficulty_mix: Mapping[int, float] | None = None) -> list[Theorem]:
    """``per_family`` distinct theorems from each family, split over difficulties
    by ``difficulty_mix`` (default DEFAULT_DIFFICULTY_MIX). Deterministic in its
    arguments; a family's theorems do not depend on which other families are asked for.
    """
    unknown = [f for f in families if f not in FAMILIES]
    if unknown:
        raise ValueError(f"unknown theorem families {unknown}; known: {list(FAMILIES)}")
    if len(set(families)) != len(families):
        raise ValueError(f"families listed twice: {list(families)}")
    if per_family < 0:
        raise ValueError(f"per_family must be >= 0, got {per_family}")
    quotas = _quotas(per_family, difficulty_mix or DEFAULT_DIFFICULTY_MIX)
    out: list[Theorem] = []
    for family in families:
        seen: set[str] = set()  # across difficulties: two templates may build the same statement
        for difficulty, quota in quotas.items():
            taken = 0
            for template, built in iter_instances(FAMILIES[family][difficulty], _family_rng(seed, family, difficulty)):
                if taken == quota:
                    break
                thm = make_theorem(family, difficulty, template.name, built)
                if thm.id not in seen:
                    seen.add(thm.id)
                    out.append(thm)
                    taken += 1
            if taken < quota:
                raise ValueError(f"family {family!r} difficulty {difficulty}: asked for {quota} theorems, "
                                 f"only {taken} distinct exist (lower per_family or change difficulty_mix)")
    return out


def count_available(family: str) -> dict[int, int]:
    """Distinct statements each difficulty of ``family`` can produce (full enumeration;
    a statement two difficulties can both build is counted at the lower one)."""
    out, seen = {}, set()
    for difficulty in sorted(FAMILIES[family]):
        ids = {canonical(b.ir) for t in FAMILIES[family][difficulty] for b in all_instances(t)} - seen
        seen |= ids
        out[difficulty] = len(ids)
    return out


def _unit_hash(salt: str, theorem_id: str) -> float:
    return int(_digest(f"{salt}:{theorem_id}")[:15], 16) / 16 ** 15


def split_pools(theorems: Iterable[Theorem], warmstart_fraction: float,
                heldout_fraction: float) -> dict[str, list[Theorem]]:
    """{"warmstart", "train", "heldout"}: held-out iff hash("heldout", id) < heldout_fraction;
    of the rest, warm-start with probability warmstart_fraction / (1 - heldout_fraction),
    so warmstart_fraction is a share of all theorems. Input order is kept in each pool."""
    if not 0 <= heldout_fraction < 1 or not 0 <= warmstart_fraction <= 1:
        raise ValueError(f"fractions out of range: warmstart={warmstart_fraction}, heldout={heldout_fraction}")
    if warmstart_fraction + heldout_fraction > 1:
        raise ValueError(f"warmstart_fraction + heldout_fraction = {warmstart_fraction + heldout_fraction} > 1")
    pools: dict[str, list[Theorem]] = {"warmstart": [], "train": [], "heldout": []}
    warm_given_rest = warmstart_fraction / (1 - heldout_fraction)
    for thm in theorems:
        if _unit_hash("heldout", thm.id) < heldout_fraction:
            pools["heldout"].append(thm)
        elif _unit_hash("warmstart", thm.id) < warm_given_rest:
            pools["warmstart"].append(thm)
        else:
            pools["train"].append(thm)
    return pools


# ---------------------------------------------------------------- canaries
# Known-FALSE statements for verifier ablations: a gate that admits a "proof" of
# one of these has admitted an error. Each is refuted by bounded evaluation in
# the tests and rejected by coqc with the reference-style tactics.
x, y, n = Var("x"), Var("y"), Var("n")


def _false(ir: Prop) -> Built:
    return Built(ir, coq=(), lean=())


CANARY_TEMPLATES = [
    T("canary.succ_le", lambda k: _false(forall_nat("n", Le(n + k, n))), k=range(1, 31)),
    T("canary.mul_is_add", lambda k: _false(forall_nat("x y", Eq(plus(Mul(x, y), k), plus(x, y, k)))), k=range(0, 31)),
    T("canary.odd_even", lambda k: _false(Exists("n", Eq(plus(scale(2, n), 1), 2 * k))), k=range(1, 31)),
    T("canary.double", lambda k: _false(forall_nat("n", Eq(app("double", n), plus(n, k)))), k=range(1, 31)),
    T("canary.square", lambda k: _false(forall_nat("x", Eq((x + k) ** 2, plus(x ** 2, k * k)))), k=range(1, 13)),
    T("canary.fib", lambda k: _false(Eq(app("fib", k % 13 + 3), _fib_plus_one(k % 13 + 3))), k=range(0, 13)),
    T("canary.le_swap", lambda k: _false(forall_nat("x y", Imp(Le(x, y), Le(plus(y, k), plus(x, k))))), k=range(0, 31)),
    T("canary.sum_le", lambda k: _false(forall_nat("n", Le(app("sum_to", n), plus(n, k)))), k=range(0, 31)),
    T("canary.lt_self", lambda k: _false(forall_nat("x", Lt(plus(x, k), plus(x, k)))), k=range(0, 31)),
    T("canary.or_and", lambda k: _false(Forall((("P", "prop"), ("Q", "prop")),
                                               Imp(Or(PropVar("P"), PropVar("Q")), And(PropVar("P"), PropVar("Q"))))),
      k=(0,)),
    T("canary.self_neg", lambda k: _false(Forall((("P", "prop"),), Imp(PropVar("P"), Not(PropVar("P"))))), k=(0,)),
]


def _fib_plus_one(k: int) -> int:
    from prover.theorems.headers import FUNCTIONS
    return FUNCTIONS["fib"].py(k) + 1


def canary_theorems(n: int) -> list[Theorem]:
    """The first ``n`` canaries in a fixed order (so canary_theorems(n) is a prefix
    of canary_theorems(n + 1)). Family "canary", difficulty 0, no reference proofs."""
    pool = [make_theorem("canary", 0, t.name, b) for t, b in iter_instances(CANARY_TEMPLATES, random.Random(0))]
    unique = list({t.id: t for t in pool}.values())
    if n > len(unique):
        raise ValueError(f"asked for {n} canaries, only {len(unique)} exist")
    return unique[:n]
