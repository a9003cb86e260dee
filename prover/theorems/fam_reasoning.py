"""Families that need more than one decision procedure: prop, exists, induct.

prop     d1/d2: intuitionistic tautologies over Prop variables: ``tauto``
         (``auto`` gets the purely implicational d1 ones). d3: arithmetic atoms
         (``lia``, tauto fails) or a Prop goal that needs a case split on an
         arithmetic test (``destruct (le_lt_dec x k); auto``: neither tauto nor
         lia alone).
exists   the witness must be computed from the statement: ``exists 7; lia``
         for ``3 * n + 2 = 23``, ``exists (x + 7)`` when the witness depends on
         a universally quantified variable; no generic tactic finds them.
induct   facts about the header's recursive functions. d1: ``induction n;
         simpl; lia``. d2: two variables, so the induction hypothesis is
         quantified and must be rewritten (``induction n; intros; simpl; try
         rewrite IHn; lia``). d3: the statement is not inductive as it stands
         and needs a generalised helper (``assert ... by (induction ...)``).

Lean proofs for prop are term proofs that work for any formula in each slot,
so atoms can be replaced by negations without touching the proof.
"""
from __future__ import annotations

import itertools

from prover.theorems.ir import (And, Eq, Exists, Forall, Iff, Imp, Le, Lt, Mul, Not, Or, PropVar, Var, app, eval_expr,
                                forall_nat, imps, plus, render, scale)
from prover.theorems.templates import Built, Family, T, coq_intros, lean_intro, witness_text

x, y, z, n, m = Var("x"), Var("y"), Var("z"), Var("n"), Var("m")

# ---------------------------------------------------------------- prop
# Not S or T: S is nat's successor in Coq, and shadowing it makes statements confusing.
ATOMS = ("A", "B", "P", "Q", "R")

# (name, slots, statement builder over slot formulas, Lean proof term)
TAUTOLOGIES = {
    1: [("or_intro", 2, lambda a, b: Imp(a, Or(a, b)), "fun h => Or.inl h"),
        ("and_comm", 2, lambda a, b: Imp(And(a, b), And(b, a)), "fun h => ⟨h.2, h.1⟩"),
        ("const", 2, lambda a, b: Imp(a, Imp(b, a)), "fun ha _ => ha"),
        ("mp", 2, lambda a, b: Imp(Imp(a, b), Imp(a, b)), "fun f ha => f ha"),
        ("and_left", 2, lambda a, b: Imp(And(a, b), a), "fun h => h.1"),
        ("or_comm", 2, lambda a, b: Imp(Or(a, b), Or(b, a)), "fun h => h.elim Or.inr Or.inl"),
        ("dni", 1, lambda a: Imp(a, Not(Not(a))), "fun ha hna => hna ha"),
        ("syllogism", 3, lambda a, b, c: imps(Imp(a, b), Imp(b, c), a, c), "fun f g ha => g (f ha)")],
    2: [("contrapose", 2, lambda a, b: imps(Imp(a, b), Not(b), Not(a)), "fun f hnb ha => hnb (f ha)"),
        ("and_or_distrib", 3, lambda a, b, c: Imp(And(a, Or(b, c)), Or(And(a, b), And(a, c))),
         "fun h => h.2.elim (fun hb => Or.inl ⟨h.1, hb⟩) (fun hc => Or.inr ⟨h.1, hc⟩)"),
        ("curry", 3, lambda a, b, c: imps(Imp(And(a, b), c), a, b, c), "fun f ha hb => f ⟨ha, hb⟩"),
        ("uncurry", 3, lambda a, b, c: imps(imps(a, b, c), And(a, b), c), "fun f h => f h.1 h.2"),
        ("and_comm_iff", 2, lambda a, b: Iff(And(a, b), And(b, a)), "⟨fun h => ⟨h.2, h.1⟩, fun h => ⟨h.2, h.1⟩⟩"),
        ("de_morgan", 2, lambda a, b: Imp(Not(Or(a, b)), And(Not(a), Not(b))),
         "fun h => ⟨fun ha => h (Or.inl ha), fun hb => h (Or.inr hb)⟩"),
        ("disj_syllogism", 2, lambda a, b: Imp(And(Or(a, b), Not(a)), b),
         "fun h => h.1.elim (fun ha => absurd ha h.2) id"),
        ("or_elim", 3, lambda a, b, c: imps(Imp(a, c), Imp(b, c), Or(a, b), c), "fun f g h => h.elim f g"),
        ("tne", 1, lambda a: Imp(Not(Not(Not(a))), Not(a)), "fun h ha => h (fun hna => hna ha)"),
        ("or_and_distrib", 3, lambda a, b, c: Imp(Or(a, And(b, c)), And(Or(a, b), Or(a, c))),
         "fun h => h.elim (fun ha => ⟨Or.inl ha, Or.inl ha⟩) (fun h' => ⟨Or.inr h'.1, Or.inr h'.2⟩)")],
}


def _tautology(slots: int, make, term: str, atoms: int, negs: int) -> Built | None:
    choices = list(itertools.permutations(ATOMS, slots))
    if atoms >= len(choices) or negs >= 2 ** slots:
        return None
    names = choices[atoms]
    formulas = [Not(PropVar(a)) if negs >> i & 1 else PropVar(a) for i, a in enumerate(names)]
    binders = tuple((a, "prop") for a in sorted(names))
    ir = Forall(binders, make(*formulas))
    intro = "intro " + " ".join(sorted(names))
    return Built(ir, coq=("tauto.", "intros; tauto.", coq_intros(ir) + "\ntauto."),
                 lean=(f"{intro}\nexact {term}", f"exact fun {' '.join(sorted(names))} => {term}"))


def _taut_templates(difficulty: int) -> list:
    out = []
    for name, slots, make, term in TAUTOLOGIES[difficulty]:
        def build(atoms, negs, slots=slots, make=make, term=term):
            return _tautology(slots, make, term, atoms, negs)
        out.append(T(f"prop.{name}", build, atoms=range(60), negs=range(8)))
    return out


def _p3_split(p, k):
    a = ATOMS[p]
    P = PropVar(a)
    ir = Forall(((a, "prop"), ("x", "nat")), imps(Imp(Le(x, k), P), Imp(Lt(k, x), P), P))
    lean = (f"intro {a} x h1 h2\nby_cases h : x ≤ {k}\n· exact h1 h\n· exact h2 (by omega)",)
    return Built(ir, coq=(f"intros {a} x H1 H2.\ndestruct (le_lt_dec x {k}); auto.",
                          f"intros {a} x H1 H2.\ndestruct (Nat.le_gt_cases x {k}); auto."), lean=lean)


def _p3_split_or(p, k):
    a, b = ATOMS[p], ATOMS[(p + 1) % len(ATOMS)]
    A, B = PropVar(a), PropVar(b)
    first, second = sorted((a, b))
    ir = Forall(((first, "prop"), (second, "prop"), ("x", "nat")), imps(Imp(Le(x, k), A), Imp(Lt(k, x), B), Or(A, B)))
    lean = (f"intro {first} {second} x h1 h2\nby_cases h : x ≤ {k}\n· exact Or.inl (h1 h)\n"
            f"· exact Or.inr (h2 (by omega))",)
    return Built(ir, coq=(f"intros {first} {second} x H1 H2.\ndestruct (le_lt_dec x {k}); auto.",), lean=lean)


def _p3_split_eq(p, k):
    a = ATOMS[p]
    P = PropVar(a)
    ir = Forall(((a, "prop"), ("x", "nat")), imps(Imp(Eq(x, k), P), Imp(Not(Eq(x, k)), P), P))
    lean = (f"intro {a} x h1 h2\nby_cases h : x = {k}\n· exact h1 h\n· exact h2 h",)
    return Built(ir, coq=(f"intros {a} x H1 H2.\ndestruct (Nat.eq_dec x {k}); auto.",), lean=lean)


def _arith_prop(ir) -> Built:
    return Built(ir, coq=("lia.", "intros; lia.", coq_intros(ir) + "\nlia."),
                 lean=(lean_intro(ir) + "\nomega", "omega"))


def _p3_trichotomy(k):
    return _arith_prop(forall_nat("x", Or(Lt(x, k), Or(Eq(x, k), Lt(k, x)))))


def _p3_total(b, c):
    return _arith_prop(forall_nat("x y", Or(Le(plus(x, b), plus(y, c)), Lt(plus(y, c), plus(x, b)))))


def _p3_exclusive(k, c):
    return _arith_prop(forall_nat("x", Not(And(Lt(x, k), Le(k + c, plus(x, c))))))


def _p3_not_both(b):
    return _arith_prop(forall_nat("x y", Imp(Lt(x, plus(y, b)), Not(Le(plus(y, b), x)))))


PROP: Family = {
    1: _taut_templates(1),
    2: _taut_templates(2),
    3: [T("prop.split", _p3_split, p=range(5), k=range(0, 31)),
        T("prop.split_or", _p3_split_or, p=range(5), k=range(0, 31)),
        T("prop.split_eq", _p3_split_eq, p=range(5), k=range(0, 31)),
        T("prop.trichotomy", _p3_trichotomy, k=range(0, 41)),
        T("prop.total", _p3_total, b=range(0, 11), c=range(0, 11)),
        T("prop.exclusive", _p3_exclusive, k=range(0, 31), c=range(0, 6)),
        T("prop.not_both", _p3_not_both, b=range(0, 21))],
}


# ---------------------------------------------------------------- exists
def _witness(ir, wit, closed: bool) -> Built:
    """Proofs that give ``wit`` (an int, a tuple of ints, or an expression over the binders)."""
    wits = wit if isinstance(wit, tuple) else (wit,)
    coq_w = ", ".join(str(v) if isinstance(v, int) else witness_text(v, "coq") for v in wits)
    lean_w = ", ".join(str(v) if isinstance(v, int) else render(v, "lean") for v in wits)
    if closed:  # lia cannot evaluate ^ or header functions, so compute first
        close = "reflexivity" if len(wits) == 1 else "split; reflexivity"
        coq = (f"exists {coq_w}; {close}.", f"exists {coq_w}.\nsimpl; lia.")
        lean = (f"exact ⟨{lean_w}, by decide⟩", f"refine ⟨{lean_w}, ?_⟩\ndecide")
    else:
        coq = (f"{coq_intros(ir)}\nexists {coq_w}.\nlia.", f"intros.\nexists {coq_w}; lia.")
        lean = (f"{lean_intro(ir)}\nexact ⟨{lean_w}, by omega⟩", f"{lean_intro(ir)}\nrefine ⟨{lean_w}, ?_⟩\nomega")
    return Built(ir, coq=coq, lean=lean)


def _e1_affine(a, w, b):
    return _witness(Exists("n", Eq(plus(scale(a, n), b), a * w + b)), w, closed=True)


def _e1_square(w, b):
    return _witness(Exists("n", Eq(plus(Mul(n, n), b), w * w + b)), w, closed=True)


def _e1_balance(a, w):
    # a * n = n + (a - 1) * w: the witness is the solution of a linear equation with n on both sides
    return _witness(Exists("n", Eq(scale(a, n), plus(n, (a - 1) * w))), w, closed=True)


def _e2_pair(s, d):
    if d > s or (s + d) % 2:
        return None
    u, v = (s + d) // 2, (s - d) // 2
    body = And(Eq(x + y, s), Eq(x - y, d))
    return _witness(Exists("x", Exists("y", body)), (u, v), closed=True)


_PREIMAGE_ARGS = {"fib": range(3, 16), "sum_to": range(1, 31), "fact": range(1, 7), "double": range(1, 51)}


def _e2_preimage(f, k, b):
    name = tuple(_PREIMAGE_ARGS)[f]
    args = _PREIMAGE_ARGS[name]
    if k >= len(args):
        return None
    w = args[k]
    value = eval_expr(app(name, w), {}) + b
    return _witness(Exists("n", Eq(plus(app(name, n), b), value)), w, closed=True)


def _e2_pow2(w, b):
    return _witness(Exists("n", Eq(plus(2 ** n, b), 2 ** w + b)), w, closed=True)


def _e2_meet(a, c, w, b):
    if c >= a:
        return None
    return _witness(Exists("n", Eq(plus(scale(a, n), b), plus(scale(c, n), (a - c) * w + b))), w, closed=True)


def _e3_shift(a, d):
    return _witness(forall_nat("x", Exists("y", Eq(plus(y, a), plus(x, a + d)))), plus(x, d), closed=False)


def _e3_scale(a, b):
    return _witness(forall_nat("x", Exists("y", Eq(plus(scale(a, x), b), y + x))),
                    plus(scale(a - 1, x), b), closed=False)


def _e3_sub(b, c):
    ir = forall_nat("x", Imp(Le(b, x), Exists("y", Eq(plus(x, c), plus(y, b + c)))))
    return _witness(ir, x - b, closed=False)


def _e3_between(c, d):
    ir = forall_nat("x", Exists("y", And(Lt(plus(x, d), y), Lt(y, plus(x, d + c)))))
    return _witness(ir, plus(x, d + 1), closed=False)


def _e3_two(k, b):
    ir = forall_nat("x y", Exists("z", Eq(plus(z, y, b), plus(x, y, k + b))))
    return _witness(ir, plus(x, k), closed=False)


def _e3_divide(a, k):
    ir = forall_nat("x", Exists("y", Eq(scale(a, y), plus(scale(a, x), a * k))))
    return _witness(ir, plus(x, k), closed=False)


EXISTS: Family = {
    1: [T("exists.affine", _e1_affine, a=range(1, 10), w=range(0, 26), b=range(0, 21)),
        T("exists.square", _e1_square, w=range(2, 41), b=range(0, 11)),
        T("exists.balance", _e1_balance, a=range(2, 10), w=range(1, 26))],
    2: [T("exists.pair", _e2_pair, s=range(1, 41), d=range(0, 41)),
        T("exists.preimage", _e2_preimage, f=range(len(_PREIMAGE_ARGS)), k=range(0, 50), b=range(0, 4)),
        T("exists.pow2", _e2_pow2, w=range(1, 11), b=range(0, 21)),
        T("exists.meet", _e2_meet, a=range(2, 8), c=range(1, 7), w=range(0, 16), b=range(0, 11))],
    3: [T("exists.shift", _e3_shift, a=range(0, 16), d=range(1, 16)),
        T("exists.scale", _e3_scale, a=range(2, 7), b=range(0, 16)),
        T("exists.sub", _e3_sub, b=range(1, 21), c=range(0, 11)),
        T("exists.between", _e3_between, c=range(2, 16), d=range(0, 11)),
        T("exists.two", _e3_two, k=range(1, 16), b=range(0, 11)),
        T("exists.divide", _e3_divide, a=range(2, 6), k=range(1, 16))],
}


# ---------------------------------------------------------------- induct
# Lean: a helper turns the recursive function into closed form, then omega.
_LEAN_DOUBLE = ("have hd : ∀ k, double k = 2 * k := by\n  intro k\n  induction k with\n  | zero => rfl\n"
                "  | succ k ih => simp only [double] <;> omega\n")
_LEAN_SUM = ("have hs : ∀ k, 2 * sum_to k = k * k + k := by\n  intro k\n  induction k with\n  | zero => rfl\n"
             "  | succ k ih => simp only [sum_to, Nat.mul_add, Nat.add_mul, Nat.mul_one, Nat.one_mul] <;> omega\n")
_LEAN_ACC = ("have ha : ∀ k a, sum_acc k a = sum_to k + a := by\n  intro k\n  induction k with\n"
             "  | zero => intro a; simp [sum_acc, sum_to]\n"
             "  | succ k ih => intro a; simp only [sum_acc, sum_to, ih] <;> omega\n")
_DISTRIB = "Nat.mul_add, Nat.add_mul, Nat.mul_one, Nat.one_mul"


def _simple_induction(ir, lean: str) -> Built:
    return Built(ir, coq=("induction n; simpl; lia.", "intros n.\ninduction n as [| k IH]; simpl; lia."), lean=(lean,))


def _lean_double_then(ir, extra: str = "") -> str:
    return f"{_LEAN_DOUBLE}{lean_intro(ir)}\nsimp only [hd{extra}] <;> omega"


def _i1_double_shift(c):
    ir = forall_nat("n", Eq(app("double", plus(n, c)), plus(scale(2, n), 2 * c)))
    return _simple_induction(ir, _lean_double_then(ir))


def _i1_double_sum(c):
    ir = forall_nat("n", Eq(plus(app("double", n), c), plus(n + n, c)))
    return _simple_induction(ir, _lean_double_then(ir))


def _i1_double_ge(c):
    ir = forall_nat("n", Le(plus(n, c), plus(app("double", n), c)))
    return _simple_induction(ir, _lean_double_then(ir))


def _i1_gauss(c):
    ir = forall_nat("n", Eq(plus(scale(2, app("sum_to", n)), c), plus(Mul(n, n + 1), c)))
    return _simple_induction(ir, f"{_LEAN_SUM}intro n\nhave h := hs n\nrw [Nat.mul_add, Nat.mul_one]\nomega")


def _i1_sum_square(c):
    ir = forall_nat("n", Le(plus(app("sum_to", n), c), plus(Mul(n, n), c)))
    return _simple_induction(ir, f"{_LEAN_SUM}intro n\nhave h := hs n\nomega")


def _i1_sum_ge(c):
    ir = forall_nat("n", Le(n, plus(app("sum_to", n), c)))
    lean = "intro n\ninduction n with\n| zero => decide\n| succ k ih => simp only [sum_to] <;> omega"
    return _simple_induction(ir, lean)


def _i1_fact_pos(c):
    ir = forall_nat("n", Le(c, scale(c, app("fact", n))))
    lean = ("intro n\ninduction n with\n| zero => decide\n| succ k ih =>\n"
            f"  simp only [fact, {_DISTRIB}] <;> omega")
    return _simple_induction(ir, lean)


# With two variables `induction n` leaves a quantified hypothesis that lia cannot
# instantiate: either fix m first (fine when the recursion never changes it) or
# keep it general and rewrite with the hypothesis (needed for sum_acc).
_GENERAL = "induction n; intros; simpl; try rewrite IHn; lia."
_FIXED = "intros n m.\ninduction n; simpl; lia."


def _i2_double_add(c):
    ir = forall_nat("n m", Eq(plus(app("double", n + m), c), plus(app("double", n), app("double", m), c)))
    return Built(ir, coq=(_GENERAL, _FIXED), lean=(_lean_double_then(ir),))


def _i2_double_le(c):
    ir = forall_nat("n m", Le(plus(n, app("double", m)), plus(app("double", n + m), c)))
    return Built(ir, coq=(_FIXED, "intros n m.\ninduction n as [| k IH]; simpl; lia."), lean=(_lean_double_then(ir),))


def _i2_acc(c):
    ir = forall_nat("n m", Eq(plus(app("sum_acc", n, m), c), plus(app("sum_to", n), plus(m, c))))
    return _acc_induction(ir)


def _i2_acc_comm(c):
    ir = forall_nat("n m", Eq(plus(app("sum_acc", n, m), c), plus(m, app("sum_to", n), c)))
    return _acc_induction(ir)


def _acc_induction(ir) -> Built:
    return Built(ir, coq=(_GENERAL, "induction n as [| k IH]; intros; simpl; try rewrite IH; lia."),
                 lean=(f"{_LEAN_ACC}{lean_intro(ir)}\nsimp only [ha] <;> omega",))


_COQ_HD = "assert (Hd : forall k, double k = 2 * k) by (induction k; simpl; lia)."
_COQ_HA = "assert (Ha : forall k a, sum_acc k a = sum_to k + a) by (induction k; intros; simpl; try rewrite IHk; lia)."


def _i3_acc_const(c):
    ir = forall_nat("n", Eq(app("sum_acc", n, c), plus(app("sum_to", n), c)))
    return Built(ir, coq=(f"{_COQ_HA}\nintros.\nrewrite Ha.\nlia.", f"{_COQ_HA}\nintros n; rewrite Ha; lia."),
                 lean=(f"{_LEAN_ACC}{lean_intro(ir)}\nsimp only [ha] <;> omega",))


def _i3_acc_shift(c):
    # Looks like induct.acc, but the accumulator m + c never matches the
    # hypothesis after one step, so rewriting with IHn fails: needs the helper.
    ir = forall_nat("n m", Eq(app("sum_acc", n, plus(m, c)), plus(app("sum_to", n), m, c)))
    return Built(ir, coq=(f"{_COQ_HA}\nintros.\nrewrite Ha.\nlia.",),
                 lean=(f"{_LEAN_ACC}{lean_intro(ir)}\nsimp only [ha] <;> omega",))


def _i3_acc_gauss(c):
    acc = app("sum_acc", n, c)
    ir = forall_nat("n", Eq(acc + acc, plus(Mul(n, n), n, 2 * c)))
    lean = f"{_LEAN_ACC}{_LEAN_SUM}intro n\nhave h := hs n\nsimp only [ha] <;> omega"
    return Built(ir, coq=(f"{_COQ_HA}\nintros.\nrewrite Ha.\ninduction n; simpl; lia.",), lean=(lean,))


def _i3_double_mono(c):
    ir = forall_nat("n m", Imp(Le(n, m), Le(plus(app("double", n), c), plus(app("double", m), c))))
    return Built(ir, coq=(f"{_COQ_HD}\nintros.\nrewrite !Hd.\nlia.", f"{_COQ_HD}\nintros n m H.\nrewrite !Hd; lia."),
                 lean=(_lean_double_then(ir),))


def _i3_double_gauss(c):
    ir = forall_nat("n", Eq(plus(app("double", app("sum_to", n)), c), plus(Mul(n, n + 1), c)))
    lean = f"{_LEAN_DOUBLE}{_LEAN_SUM}intro n\nhave h := hs n\nsimp only [hd]\nrw [Nat.mul_add, Nat.mul_one]\nomega"
    return Built(ir, coq=(f"{_COQ_HD}\nintros.\nrewrite Hd.\ninduction n; simpl; lia.",), lean=(lean,))


def _i3_double_mul(c):
    ir = forall_nat("n m", Eq(plus(app("double", Mul(n, m)), c), plus(Mul(n, app("double", m)), c)))
    return Built(ir, coq=(f"{_COQ_HD}\nintros.\nrewrite !Hd.\nlia.",),
                 lean=(_lean_double_then(ir, ", Nat.mul_left_comm n 2 m"),))


INDUCT: Family = {
    1: [T("induct.double_shift", _i1_double_shift, c=range(0, 41)),
        T("induct.double_sum", _i1_double_sum, c=range(0, 41)),
        T("induct.double_ge", _i1_double_ge, c=range(0, 41)),
        T("induct.gauss", _i1_gauss, c=range(0, 41)),
        T("induct.sum_square", _i1_sum_square, c=range(0, 41)),
        T("induct.sum_ge", _i1_sum_ge, c=range(0, 41)),
        T("induct.fact_pos", _i1_fact_pos, c=range(1, 41))],
    2: [T("induct.double_add", _i2_double_add, c=range(0, 61)),
        T("induct.double_le", _i2_double_le, c=range(0, 61)),
        T("induct.acc", _i2_acc, c=range(0, 61)),
        T("induct.acc_comm", _i2_acc_comm, c=range(0, 61))],
    3: [T("induct.acc_const", _i3_acc_const, c=range(0, 61)),
        T("induct.acc_gauss", _i3_acc_gauss, c=range(0, 61)),
        T("induct.acc_shift", _i3_acc_shift, c=range(1, 61)),
        T("induct.double_mono", _i3_double_mono, c=range(0, 61)),
        T("induct.double_gauss", _i3_double_gauss, c=range(0, 61)),
        T("induct.double_mul", _i3_double_mul, c=range(0, 61))],
}
