/-
Ratchet/Defs.lean: the definitions every Lean theorem statement may use.

GENERATED from prover.theorems.headers.LEAN_HEADER; do not edit by hand.
Regenerate with `python -m prover.lean --write-defs` (a test checks they agree).
The REPL loads LEAN_HEADER itself as its first command (the header environment
every proof runs in); this file lets the same text be built and browsed with
`lake build` and compiled under the same default options as the REPL.
-/

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
