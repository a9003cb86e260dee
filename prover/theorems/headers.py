"""The fixed headers the framework puts before every theorem, in both languages.

The model never writes these: it sees a statement and writes a proof body.
Every function a family uses in a statement is either defined here, once per
language with the same recursion shape, or comes from the standard library
(``rev``/``seq`` on lists); each has a Python twin the generators use to
compute values and witnesses.

Coq: ``COQ_HEADER + "Theorem NAME : STATEMENT.\\nProof.\\n" + BODY + "\\nQed."``
Lean: ``LEAN_HEADER + "theorem NAME : STATEMENT := by\\n" + BODY`` (indent every
body line by two spaces). Lean 4 core only: no imports, no Mathlib.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Callable


@lru_cache(maxsize=None)
def _fib(n: int) -> int:
    return n if n < 2 else _fib(n - 1) + _fib(n - 2)


@lru_cache(maxsize=None)
def _fact(n: int) -> int:
    return 1 if n == 0 else n * _fact(n - 1)


def _sum_acc(n: int, acc: int) -> int:
    for k in range(n, 0, -1):  # sum_acc (S k) acc = sum_acc k (S k + acc)
        acc += k
    return acc


@dataclass(frozen=True)
class Function:
    coq: str
    lean: str
    arity: int
    py: Callable[..., int | list[int]]
    in_header: bool = True  # False: from the standard library of both languages


FUNCTIONS: dict[str, Function] = {
    "double": Function("double", "double", 1, lambda n: 2 * n),
    "sum_to": Function("sum_to", "sum_to", 1, lambda n: n * (n + 1) // 2),
    "fact": Function("fact", "fact", 1, _fact),
    "fib": Function("fib", "fib", 1, _fib),
    "sum_acc": Function("sum_acc", "sum_acc", 2, _sum_acc),
    "rev": Function("rev", "List.reverse", 1, lambda xs: xs[::-1], in_header=False),
    "seq": Function("seq", "List.range'", 2, lambda start, k: list(range(start, start + k)), in_header=False),
}

# `fact` shadows nothing that `Require Import Arith` brings into scope unqualified
# (Coq's factorial lives in Factorial, which Arith does not export); checked by
# tests/test_theorems.py compiling this header with coqc.
COQ_HEADER = """\
Require Import Arith Lia ZArith Bool List.
Import ListNotations.

Fixpoint double (n : nat) : nat :=
  match n with
  | O => O
  | S k => S (S (double k))
  end.

Fixpoint sum_to (n : nat) : nat :=
  match n with
  | O => O
  | S k => S k + sum_to k
  end.

Fixpoint fact (n : nat) : nat :=
  match n with
  | O => 1
  | S k => S k * fact k
  end.

Fixpoint fib (n : nat) : nat :=
  match n with
  | O => O
  | S k => match k with
           | O => 1
           | S j => fib k + fib j
           end
  end.

Fixpoint sum_acc (n acc : nat) : nat :=
  match n with
  | O => acc
  | S k => sum_acc k (S k + acc)
  end.

"""

# Structural recursion throughout, so `decide` and `rfl` can evaluate closed
# instances in the kernel.
LEAN_HEADER = """\
def double : Nat → Nat
  | 0 => 0
  | n + 1 => double n + 2

def sum_to : Nat → Nat
  | 0 => 0
  | n + 1 => (n + 1) + sum_to n

def fact : Nat → Nat
  | 0 => 1
  | n + 1 => (n + 1) * fact n

def fib : Nat → Nat
  | 0 => 0
  | 1 => 1
  | n + 2 => fib (n + 1) + fib n

def sum_acc : Nat → Nat → Nat
  | 0, acc => acc
  | n + 1, acc => sum_acc n (n + 1 + acc)

"""
