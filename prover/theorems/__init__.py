"""Theorem families for Ratchet: a statement IR, fixed headers, graded families.

Public API (import from here):

    generate_theorems(families, per_family, seed, difficulty_mix=None) -> list[Theorem]
    split_pools(theorems, warmstart_fraction, heldout_fraction) -> {"warmstart", "train", "heldout"}
    canary_theorems(n) -> list[Theorem]            # known-false, family "canary"
    Theorem.statement(backend), Theorem.reference_proofs(backend)
    COQ_HEADER, LEAN_HEADER, FAMILIES, DEFAULT_DIFFICULTY_MIX, count_available(family)
    render(ir, backend), canonical(ir), evaluate(ir)

Modules: ir (IR, renderers, bounded semantics), headers (COQ_HEADER/LEAN_HEADER),
templates (how a family is built), fam_arith (lin, ring, compute), fam_depth (depth),
fam_reasoning (prop, exists, induct), core (Theorem, generation, pools, canaries),
measure (coqc checks: reference proofs, tactic coverage table).
"""
from prover.theorems.core import (BACKENDS, DEFAULT_DIFFICULTY_MIX, FAMILIES, Theorem, canary_theorems,
                                  count_available, generate_theorems, make_theorem, split_pools)
from prover.theorems.headers import COQ_HEADER, FUNCTIONS, LEAN_HEADER
from prover.theorems.ir import canonical, evaluate, render

__all__ = ["BACKENDS", "COQ_HEADER", "DEFAULT_DIFFICULTY_MIX", "FAMILIES", "FUNCTIONS", "LEAN_HEADER", "Theorem",
           "canary_theorems", "canonical", "count_available", "evaluate", "generate_theorems", "make_theorem",
           "render", "split_pools"]
