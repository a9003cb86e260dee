"""A family graded by composition depth: ``depth``.

A statement at depth d is a conjunction of d facts about one variable,

    forall x : nat, A1 /\\ A2 /\\ ... /\\ Ad

each fact of one of four kinds, and each kind closed by its own step:

    L  linear          2 * x + 1 <= 2 * x + 3          lia.
    W  witness         exists y : nat, y + 2 = x + 5   exists (x + 3); lia.
    I  induction       double x + 4 = 2 * x + 4        induction x; simpl; lia.
    Q  list compute    rev (seq 4 2) = [5; 4]          reflexivity.

The proof at depth d is the proof of its facts in order, glued by ``split``:

    intros x.
    split.
    lia.
    split.
    exists (x + 3); lia.
    reflexivity.

so a proof at depth d + 1 is a depth-d proof with one more ``split.`` and one
more step, each of which already occurs at depth d. A policy that has learned
depth d (the four steps and the glue) can write depth d + 1 by composing what it
knows, while a base model that has seen few deep proofs may never do so: the
world where the loop can grow past the base, if it grows at all.

No single step closes a deep statement: lia fails on W, I and Q facts; reflexivity
only closes Q; W needs the witness read off the statement. A conjunction of L
facts only (``lia`` closes it whole) is left out at depth >= 2, so every deep
statement needs the composition. Depth is the family's difficulty (1..3, the
range the generator knows); facts draw their numbers from small domains so the
family can be enumerated (``count_available``).

Lean proofs (unchecked here: no Lean on these machines) split with an anonymous
constructor and close each fact in a bullet.
"""
from __future__ import annotations

import itertools

from prover.theorems.ir import And, Eq, Exists, Le, ListLit, Var, app, forall_nat, plus, render, scale
from prover.theorems.templates import Built, Family, T

x, y = Var("x"), Var("y")
KINDS = "LWIQ"
BULLETS = "-+*"


def _fact(kind: str, p: int):
    """(statement of one fact, Coq step, Lean step) for kind and parameter p (injective in p)."""
    if kind == "L":
        a, b = p % 4 + 1, p // 4
        return Le(plus(scale(a, x), b), plus(scale(a, x), b + 1 + p % 3)), "lia.", "omega"
    if kind == "W":
        k, b = p % 8 + 1, p // 8
        wit = plus(x, k)
        return (Exists("y", Eq(plus(y, b), plus(x, k + b))), f"exists ({render(wit, 'coq')}); lia.",
                f"exact ⟨{render(wit, 'lean')}, by omega⟩")
    if kind == "I":
        return (Eq(plus(app("double", x), p), plus(scale(2, x), p)), "induction x; simpl; lia.",
                "simp only [hd] <;> omega")
    if kind == "Q":
        start, length = p, 2 + p % 3
        values = tuple(range(start + length - 1, start - 1, -1))
        return Eq(app("rev", app("seq", start, length)), ListLit(values)), "reflexivity.", "rfl"
    raise ValueError(f"unknown fact kind {kind!r}")


_LEAN_HD = ("have hd : ∀ k, double k = 2 * k := by\n  intro k\n  induction k with\n  | zero => rfl\n"
            "  | succ k ih => simp only [double] <;> omega\n")


def _coq_flat(steps: list[str]) -> str:
    lines = ["intros x."]
    for step in steps[:-1]:
        lines += ["split.", step]
    return "\n".join(lines + [steps[-1]])


def _coq_bullets(steps: list[str]) -> str:
    if len(steps) == 1:
        return f"intros x; {steps[0]}"
    lines = ["intros x.", "split."]
    for depth, step in enumerate(steps[:-1]):
        pad, bullet = "  " * depth, BULLETS[depth]
        lines.append(f"{pad}{bullet} {step}")
        if depth < len(steps) - 2:
            lines += [f"{pad}{bullet} split."]
        else:
            lines.append(f"{pad}{bullet} {steps[-1]}")
    return "\n".join(lines)


def _lean(kinds: str, steps: list[str]) -> str:
    head = _LEAN_HD if "I" in kinds else ""
    if len(steps) == 1:
        return f"{head}intro x\n{steps[0]}"
    holes = ", ".join("?_" for _ in steps)
    return f"{head}intro x\nrefine ⟨{holes}⟩\n" + "\n".join(f"· {s}" for s in steps)


def build(kinds: str, params: tuple[int, ...]) -> Built:
    facts = [_fact(k, p) for k, p in zip(kinds, params)]
    body = facts[-1][0]
    for fact, _, _ in reversed(facts[:-1]):
        body = And(fact, body)
    coq = [f[1] for f in facts]
    ir = forall_nat("x", body)
    return Built(ir, coq=(_coq_flat(coq), _coq_bullets(coq)), lean=(_lean(kinds, [f[2] for f in facts]),))


def _template(kinds: str, size: int):
    names = [f"p{i + 1}" for i in range(len(kinds))]

    def make(**ps):
        return build(kinds, tuple(ps[n] for n in names))
    return T(f"depth.{kinds}", make, **{n: range(size) for n in names})


# Parameters per fact shrink with depth so every depth has a few hundred statements or more
# per template and enumerating the family stays quick.
_SIZES = {1: 40, 2: 15, 3: 8}


def _sequences(depth: int) -> list[str]:
    return ["".join(s) for s in itertools.product(KINDS, repeat=depth) if depth == 1 or set(s) != {"L"}]


DEPTH: Family = {d: [_template(kinds, _SIZES[d]) for kinds in _sequences(d)] for d in (1, 2, 3)}
