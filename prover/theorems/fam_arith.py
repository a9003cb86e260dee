"""Arithmetic families: lin, ring, compute.

What decides the tactic (measured with coqc, see prover/theorems/measure.py):

lin      linear facts with constant multiples, hypotheses and truncated
         subtraction. ``lia`` (Coq) / ``omega`` (Lean) always; ``auto`` and
         ``ring`` almost never. The baseline skill.
ring     d1: product identities without ``^``: ``lia`` and ``ring`` both work
              (lia normalises polynomials, treating monomials as atoms).
         d2: identities with ``^``: neither ``lia`` nor ``ring`` alone (Coq 8.16's
              nat ring does not know Nat.pow); ``simpl`` first, then ring/lia.
         d3: inequalities with products of variables: only ``nia``.
compute  d1: closed arithmetic equalities: ``reflexivity`` (``lia`` too unless
              there is a ``^``). d2: equalities about header functions and
              lists: ``reflexivity``; ``simpl; lia`` also closes the nat ones
              but never a list equality. d3: ``<=``, ``<``, ``<>`` about header
              functions: ``simpl; lia`` (reflexivity fails on them, lia cannot
              see through the functions).
"""
from __future__ import annotations

from prover.theorems.headers import FUNCTIONS
from prover.theorems.ir import Const, Eq, Le, ListLit, Lt, Mul, Not, Var, app, eval_expr, forall_nat, imps, plus, scale
from prover.theorems.templates import Built, Family, T, coq_intros, lean_intro, permutations

x, y, z, w = Var("x"), Var("y"), Var("z"), Var("w")


# ---------------------------------------------------------------- lin
def _lia(ir) -> Built:
    return Built(ir, coq=("lia.", "intros; lia.", coq_intros(ir) + "\nlia."),
                 lean=(lean_intro(ir) + "\nomega", "omega"))


def _l1_le(a, da, b, dc):
    if da == 0 and dc == 0:
        return None
    return _lia(forall_nat("x", Le(plus(scale(a, x), b), plus(scale(a + da, x), b + dc))))


def _l1_lt(a, da, b, dc):
    return _lia(forall_nat("x", Lt(plus(scale(a, x), b), plus(scale(a + da, x), b + dc))))


def _l1_distrib(a, b, c):
    return _lia(forall_nat("x", Eq(plus(Mul(a, x + b), c), plus(scale(a, x), a * b + c))))


def _l1_assoc(a, b, c):
    return _lia(forall_nat("x", Eq(plus(scale(a, x), b, c), plus(b + c, scale(a, x)))))


def _l2_mono(a, b, dc):
    return _lia(forall_nat("x y", imps(Le(x, y), Le(plus(scale(a, x), b), plus(scale(a, y), b + dc)))))


def _l2_strict(a, b, dc):
    return _lia(forall_nat("x y", imps(Lt(x, y), Lt(plus(scale(a, x), b), plus(scale(a, y), b + dc)))))


def _l2_bound(a, s):
    return _lia(forall_nat("x y", imps(Eq(plus(x, scale(a, y)), s), Le(y, s // a))))


def _l2_cancel(a, b):
    return _lia(forall_nat("x y", imps(Eq(plus(scale(a, x), b), plus(scale(a, y), b)), Eq(x, y))))


def _l2_shift(b, c):
    return _lia(forall_nat("x y", imps(Le(x + b, y), Lt(x, plus(y, c)))))


def _l3_trans(a, b, dc):
    return _lia(forall_nat("x y z", imps(Le(x, y), Le(y, z), Le(plus(scale(a, x), b), plus(scale(a, z), b + dc)))))


def _l3_sub_cancel(b, c):
    return _lia(forall_nat("x", imps(Le(b, x), Eq(plus(x - b + b, c), plus(x, c)))))


def _l3_sub_shift(b, c):
    return _lia(forall_nat("x y", Eq(plus((x + b) - (y + b), c), plus(x - y, c))))


def _l3_sum_bound(a, b, dc):
    return _lia(forall_nat("x y z", imps(Le(x + y, z), Le(plus(scale(a, x), scale(a, y), b),
                                                         plus(scale(a, z), b + dc)))))


def _l3_sub_bound(b, c):
    return _lia(forall_nat("x y", imps(Le(x, y + b), Le(x - y, b + c))))


def _l3_sub_le(c):
    return _lia(forall_nat("x y", Le(x, plus(x - y + y, c))))


LIN: Family = {
    1: [T("lin.le", _l1_le, a=range(1, 10), da=range(0, 4), b=range(0, 21), dc=range(0, 11)),
        T("lin.lt", _l1_lt, a=range(1, 10), da=range(0, 4), b=range(0, 21), dc=range(1, 11)),
        T("lin.distrib", _l1_distrib, a=range(2, 10), b=range(1, 21), c=range(0, 6)),
        T("lin.assoc", _l1_assoc, a=range(1, 6), b=range(1, 21), c=range(1, 21))],
    2: [T("lin.mono", _l2_mono, a=range(1, 10), b=range(0, 21), dc=range(0, 11)),
        T("lin.strict", _l2_strict, a=range(1, 10), b=range(0, 21), dc=range(0, 11)),
        T("lin.bound", _l2_bound, a=range(1, 7), s=range(1, 41)),
        T("lin.cancel", _l2_cancel, a=range(1, 10), b=range(0, 21)),
        T("lin.shift", _l2_shift, b=range(1, 11), c=range(0, 11))],
    3: [T("lin.trans", _l3_trans, a=range(1, 10), b=range(0, 16), dc=range(0, 11)),
        T("lin.sub_cancel", _l3_sub_cancel, b=range(1, 21), c=range(0, 11)),
        T("lin.sub_shift", _l3_sub_shift, b=range(1, 21), c=range(0, 11)),
        T("lin.sum_bound", _l3_sum_bound, a=range(1, 7), b=range(0, 11), dc=range(0, 11)),
        T("lin.sub_bound", _l3_sub_bound, b=range(1, 16), c=range(0, 11)),
        T("lin.sub_le", _l3_sub_le, c=range(0, 21))],
}


# ---------------------------------------------------------------- ring
# Lean 4 core has no `ring`; `grind` normalises commutative-semiring expressions,
# Nat included, from Lean v4.22 (lean_requirements.TACTIC_SINCE; the pinned toolchain
# is checked against it). Unchecked here: no Lean on these machines.
def _ring_eq(ir) -> Built:
    return Built(ir, coq=("intros; ring.", "lia.", coq_intros(ir) + "\nring."),
                 lean=("grind", lean_intro(ir) + "\ngrind"))


def _pow_eq(ir) -> Built:
    return Built(ir, coq=("intros; simpl; ring.", "intros. simpl. lia.", coq_intros(ir) + "\nsimpl.\nring."),
                 lean=("grind", lean_intro(ir) + "\ngrind"))


def _monomials(terms: list[tuple[int, object]], perm: int):
    """Sum of coefficient * monomial (coefficient 0 dropped, 1 not written), in permutation ``perm``."""
    kept = [scale(k, m) if m is not None else k for k, m in terms if k != 0]
    return plus(*permutations(kept, perm))


def _r1_binomial(a, b, c, d, perm):
    lhs = Mul(plus(scale(a, x), b), plus(scale(c, y), d))
    rhs = _monomials([(a * c, Mul(x, y)), (a * d, x), (b * c, y), (b * d, None)], perm)
    return _ring_eq(forall_nat("x y", Eq(lhs, rhs)))


def _r1_distrib3(a, perm):
    lhs = Mul(plus(x, a), y + z)
    rhs = _monomials([(1, Mul(x, y)), (1, Mul(x, z)), (a, y), (a, z)], perm)
    return _ring_eq(forall_nat("x y z", Eq(lhs, rhs)))


def _r1_square_prod(a, b, perm):
    lhs = Mul(x + a, x + b)
    rhs = _monomials([(1, Mul(x, x)), (a + b, x), (a * b, None)], perm)
    return _ring_eq(forall_nat("x", Eq(lhs, rhs)))


def _r2_square(a, perm):
    rhs = _monomials([(1, x ** 2), (2 * a, x), (a * a, None)], perm)
    return _pow_eq(forall_nat("x", Eq((x + a) ** 2, rhs)))


def _r2_square2(a, b, perm):
    rhs = _monomials([(a * a, x ** 2), (2 * a * b, Mul(x, y)), (b * b, y ** 2)], perm)
    return _pow_eq(forall_nat("x y", Eq(plus(scale(a, x), scale(b, y)) ** 2, rhs)))


def _r2_cube(a, perm):
    rhs = _monomials([(1, x ** 3), (3 * a, x ** 2), (3 * a * a, x), (a ** 3, None)], perm)
    return _pow_eq(forall_nat("x", Eq((x + a) ** 3, rhs)))


def _r2_factor(a, b):
    return _pow_eq(forall_nat("x", Eq(plus(Mul(x ** 2, x + a), b), plus(x ** 3, scale(a, x ** 2), b))))


def _r2_prod_square(a, b):
    return _pow_eq(forall_nat("x y", Eq(plus(Mul(scale(a, x), y) ** 2, b),
                                        plus(scale(a * a, Mul(x ** 2, y ** 2)), b))))


def _nia(ir, lean_have: str) -> Built:
    return Built(ir, coq=("nia.", "intros; nia.", coq_intros(ir) + "\nnia."),
                 lean=(lean_intro(ir) + f"\nhave hm := {lean_have}\nomega",))


def _r3_square_mono(a, b, dc):
    ir = forall_nat("x y", imps(Le(x, y), Le(plus(scale(a, Mul(x, x)), b), plus(scale(a, Mul(y, y)), b + dc))))
    return _nia(ir, "Nat.mul_le_mul h1 h1")


def _r3_prod_mono(b, dc):
    ir = forall_nat("x y z w", imps(Le(x, y), Le(z, w), Le(plus(Mul(x, z), b), plus(Mul(y, w), b + dc))))
    return _nia(ir, "Nat.mul_le_mul h1 h2")


def _r3_scale_by_var(k, b, dc):
    ir = forall_nat("x y", imps(Le(k, x), Le(plus(scale(k, y), b), plus(Mul(x, y), b + dc))))
    return _nia(ir, "Nat.mul_le_mul h1 (Nat.le_refl y)")


def _r3_right_mono(b, dc):
    ir = forall_nat("x y z", imps(Le(x, y), Le(plus(Mul(x, z), b), plus(Mul(y, z), b + dc))))
    return _nia(ir, "Nat.mul_le_mul h1 (Nat.le_refl z)")


def _r3_shifted(a, b):
    ir = forall_nat("x y", imps(Le(x, y), Le(plus(Mul(x, y + a), b), plus(Mul(y, y + a), b))))
    return _nia(ir, f"Nat.mul_le_mul h1 (Nat.le_refl (y + {a}))")


RING: Family = {
    1: [T("ring.binomial", _r1_binomial, a=range(1, 5), b=range(0, 7), c=range(1, 5), d=range(0, 7), perm=range(24)),
        T("ring.distrib3", _r1_distrib3, a=range(0, 13), perm=range(24)),
        T("ring.square_prod", _r1_square_prod, a=range(1, 13), b=range(1, 13), perm=range(6))],
    2: [T("ring.square", _r2_square, a=range(1, 13), perm=range(6)),
        T("ring.square2", _r2_square2, a=range(1, 7), b=range(1, 7), perm=range(6)),
        T("ring.cube", _r2_cube, a=range(1, 6), perm=range(24)),
        T("ring.factor", _r2_factor, a=range(1, 21), b=range(0, 11)),
        T("ring.prod_square", _r2_prod_square, a=range(1, 10), b=range(0, 11))],
    3: [T("ring.square_mono", _r3_square_mono, a=range(1, 7), b=range(0, 16), dc=range(0, 11)),
        T("ring.prod_mono", _r3_prod_mono, b=range(0, 16), dc=range(0, 11)),
        T("ring.scale_by_var", _r3_scale_by_var, k=range(1, 10), b=range(0, 11), dc=range(0, 11)),
        T("ring.right_mono", _r3_right_mono, b=range(0, 16), dc=range(0, 11)),
        T("ring.shifted", _r3_shifted, a=range(1, 11), b=range(0, 16))],
}


# ---------------------------------------------------------------- compute
# Argument bounds keep unary-nat evaluation in Coq fast (values stay below ~2000).
FN_ARGS = {"fib": range(3, 16), "fact": range(2, 7), "sum_to": range(2, 31), "double": range(2, 61)}
FN_NAMES = tuple(FN_ARGS)


def _value(e) -> int:
    return eval_expr(e, {})


def _reflexivity(ir) -> Built:
    return Built(ir, coq=("reflexivity.", "simpl. reflexivity.", "compute. reflexivity."),
                 lean=("decide", "rfl"))


def _closed_relation(ir) -> Built:
    return Built(ir, coq=("simpl; lia.", "vm_compute. lia.", "simpl. lia."), lean=("decide",))


def _c1_mul_add(a, b, c):
    e = plus(Mul(a, b), c)
    return _reflexivity(Eq(e, _value(e)))


def _c1_pow(a, k, c):
    e = plus(Const(a) ** k, c)
    v = _value(e)
    return _reflexivity(Eq(e, v)) if v <= 2000 else None


def _c1_sub(a, b, c):
    e = (Const(a) + b) - c
    return _reflexivity(Eq(e, _value(e)))


def _c1_distrib(a, b, c):
    e = Mul(a, Const(b) + c)
    return _reflexivity(Eq(e, _value(e)))


def _fn_term(f_index: int, k: int):
    f = FN_NAMES[f_index % len(FN_NAMES)]
    args = FN_ARGS[f]
    return app(f, args[k % len(args)])


def _c2_value(f, k, c):
    e = plus(_fn_term(f, k), c)
    return _reflexivity(Eq(e, _value(e)))


def _c2_sum(f, k, g, j):
    if f == g:
        return None
    e = _fn_term(f, k) + _fn_term(g, j)
    return _reflexivity(Eq(e, _value(e)))


def _c2_nested(k):
    e = app("double", app("fib", FN_ARGS["fib"][k % len(FN_ARGS["fib"])]))
    return _reflexivity(Eq(e, _value(e)))


def _list_eq(ir) -> Built:
    # lia cannot close an equality of lists, even once simpl has computed both sides.
    return Built(ir, coq=("reflexivity.", "simpl. reflexivity."), lean=("decide", "rfl"))


def _c2_rev(a, b, c, d):
    items = (a, b, c) + ((d,) if d < 10 else ())  # d == 10: a three-element list
    return _list_eq(Eq(app("rev", ListLit(items)), ListLit(items[::-1])))


def _c2_seq(start, k):
    return _list_eq(Eq(app("seq", start, k), ListLit(tuple(range(start, start + k)))))


def _c2_rev_seq(start, k):
    return _list_eq(Eq(app("rev", app("seq", start, k)), ListLit(tuple(range(start, start + k))[::-1])))


def _c3_le(f, k, slack):
    e = _fn_term(f, k)
    return _closed_relation(Le(e, _value(e) + slack))


def _c3_lt(f, k, slack):
    e = _fn_term(f, k)
    return _closed_relation(Lt(e, _value(e) + 1 + slack))


def _c3_ne(f, k, off):
    e = _fn_term(f, k)
    return _closed_relation(Not(Eq(e, _value(e) + off)))


def _c3_sum_le(f, k, g, j, slack):
    if f == g:
        return None
    e = _fn_term(f, k) + _fn_term(g, j)
    return _closed_relation(Le(e, _value(e) + slack))


_FN = range(len(FN_NAMES))
_ARG = range(0, 60)  # indexes FN_ARGS[f] modulo its length; duplicates are removed by id

COMPUTE: Family = {
    1: [T("compute.mul_add", _c1_mul_add, a=range(2, 20), b=range(2, 20), c=range(0, 31)),
        T("compute.pow", _c1_pow, a=range(2, 7), k=range(2, 6), c=range(0, 31)),
        T("compute.sub", _c1_sub, a=range(1, 31), b=range(1, 31), c=range(0, 41)),
        T("compute.distrib", _c1_distrib, a=range(2, 10), b=range(2, 10), c=range(2, 10))],
    2: [T("compute.value", _c2_value, f=_FN, k=_ARG, c=range(0, 21)),
        T("compute.sum", _c2_sum, f=_FN, k=range(0, 15), g=_FN, j=range(0, 15)),
        T("compute.nested", _c2_nested, k=range(0, 13)),
        T("compute.rev", _c2_rev, a=range(10), b=range(10), c=range(10), d=range(11)),
        T("compute.seq", _c2_seq, start=range(0, 21), k=range(1, 7)),
        T("compute.rev_seq", _c2_rev_seq, start=range(0, 21), k=range(1, 7))],
    3: [T("compute.le", _c3_le, f=_FN, k=_ARG, slack=range(0, 16)),
        T("compute.lt", _c3_lt, f=_FN, k=_ARG, slack=range(0, 16)),
        T("compute.ne", _c3_ne, f=_FN, k=_ARG, off=range(1, 21)),
        T("compute.sum_le", _c3_sum_le, f=_FN, k=range(0, 15), g=_FN, j=range(0, 15), slack=range(0, 11))],
}

assert set(FN_ARGS) <= set(FUNCTIONS), "compute uses a function the headers do not define"
