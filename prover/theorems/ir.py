"""A small statement IR over nat, rendered to Coq and to Lean 4 core.

Theorem families build statements as IR values, never as strings, so one
statement has exactly one Coq rendering, one Lean rendering and one canonical
text (the S-expression that theorem ids hash). Expressions support ``+ - * **``
with Python ints coerced to ``Const``, so family code reads like maths:
``Le(a * x + b, a * y + c)``.

Parenthesisation is driven by a precedence table per language ("strength":
higher binds tighter). A child is wrapped in parentheses exactly when the
parser would otherwise read the text differently, plus two rules for human
readability that are valid in both languages: an ``Iff`` is always
parenthesised when nested, and so is an implication inside an ``Iff``
(Coq and Lean disagree on how ``A <-> B -> C`` parses).

``evaluate`` gives a bounded semantic check (forall over a small grid, exists
by bounded search) used by tests to catch a wrongly built family; it is a
sanity net, not a proof.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Callable, Union


# ---------------------------------------------------------------- expressions
class _Arith:
    """Operator sugar shared by all expression nodes: ``x + 1``, ``3 * x``, ``x ** 2``
    build Add/Mul/Pow nodes (the operators are attached below, once the node
    classes exist; the nodes turn Python ints into Const)."""


@dataclass(frozen=True)
class Var(_Arith):
    name: str


@dataclass(frozen=True)
class Const(_Arith):
    value: int

    def __post_init__(self) -> None:
        if self.value < 0:
            raise ValueError(f"Const({self.value}): nat constants must be >= 0")


class _Binary:
    """Binary nodes accept Python ints for either side and store them as Const."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "left", lift(self.left))
        object.__setattr__(self, "right", lift(self.right))


@dataclass(frozen=True)
class Add(_Binary, _Arith):
    left: "Expr"
    right: "Expr"


@dataclass(frozen=True)
class Sub(_Binary, _Arith):  # truncated subtraction, as in both Coq's nat and Lean's Nat
    left: "Expr"
    right: "Expr"


@dataclass(frozen=True)
class Mul(_Binary, _Arith):
    left: "Expr"
    right: "Expr"


@dataclass(frozen=True)
class Pow(_Arith):
    base: "Expr"
    exponent: "Expr"  # usually a literal (lia/ring only expand constant exponents); `2 ^ n` is allowed

    def __post_init__(self) -> None:
        object.__setattr__(self, "base", lift(self.base))
        object.__setattr__(self, "exponent", lift(self.exponent))


@dataclass(frozen=True)
class App(_Arith):
    fn: str  # a function defined in the fixed headers (prover.theorems.headers.FUNCTIONS)
    args: tuple["Expr", ...]


@dataclass(frozen=True)
class ListLit:
    """A literal list of nats, for the list computations in compute (no arithmetic on it)."""
    items: tuple["Expr", ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "items", tuple(lift(i) for i in self.items))


for _op, _node in (("add", Add), ("sub", Sub), ("mul", Mul), ("pow", Pow)):
    setattr(_Arith, f"__{_op}__", lambda self, other, node=_node: node(self, other))
    setattr(_Arith, f"__r{_op}__", lambda self, other, node=_node: node(other, self))

Expr = Union[Var, Const, Add, Sub, Mul, Pow, App, ListLit]
ExprLike = Union[Expr, int]


def lift(e: ExprLike) -> Expr:
    if isinstance(e, bool) or not isinstance(e, (int, Var, Const, Add, Sub, Mul, Pow, App, ListLit)):
        raise TypeError(f"not a nat expression: {e!r}")
    return Const(e) if isinstance(e, int) else e


def app(fn: str, *args: ExprLike) -> App:
    return App(fn, tuple(lift(a) for a in args))


# ---------------------------------------------------------------- propositions
@dataclass(frozen=True)
class Eq(_Binary):
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Le(_Binary):
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Lt(_Binary):
    left: Expr
    right: Expr


@dataclass(frozen=True)
class Not:
    body: "Prop"  # Not(Eq(a, b)) renders as a <> b / a ≠ b


@dataclass(frozen=True)
class And:
    left: "Prop"
    right: "Prop"


@dataclass(frozen=True)
class Or:
    left: "Prop"
    right: "Prop"


@dataclass(frozen=True)
class Imp:
    left: "Prop"
    right: "Prop"


@dataclass(frozen=True)
class Iff:
    left: "Prop"
    right: "Prop"


SORTS = ("nat", "prop")


@dataclass(frozen=True)
class Forall:
    binders: tuple[tuple[str, str], ...]  # (name, sort) with sort in SORTS
    body: "Prop"

    def __post_init__(self) -> None:
        if not self.binders:
            raise ValueError("Forall needs at least one binder")
        for name, sort in self.binders:
            if sort not in SORTS:
                raise ValueError(f"Forall binder {name!r}: sort must be one of {SORTS}, got {sort!r}")


@dataclass(frozen=True)
class Exists:
    var: str  # always a nat
    body: "Prop"


@dataclass(frozen=True)
class PropVar:
    name: str


@dataclass(frozen=True)
class TrueP:
    pass


@dataclass(frozen=True)
class FalseP:
    pass


Prop = Union[Eq, Le, Lt, Not, And, Or, Imp, Iff, Forall, Exists, PropVar, TrueP, FalseP]


def forall_nat(names: str, body: Prop) -> Forall:
    """``forall_nat("x y", body)``: the common case of nat binders only."""
    return Forall(tuple((n, "nat") for n in names.split()), body)


def imps(*parts: Prop) -> Prop:
    """``imps(h1, h2, goal)`` = h1 -> h2 -> goal."""
    out = parts[-1]
    for p in reversed(parts[:-1]):
        out = Imp(p, out)
    return out


def plus(*terms: ExprLike) -> Expr:
    """Left-nested sum of the terms, skipping literal zeros (``plus(x, 0) == x``)."""
    kept = [lift(t) for t in terms if not (isinstance(t, int) and t == 0)]
    if not kept:
        return Const(0)
    out = kept[0]
    for t in kept[1:]:
        out = Add(out, t)
    return out


def scale(k: int, e: ExprLike) -> Expr:
    """``k * e`` written the way a person would: 1 * e is e."""
    if k == 1:
        return lift(e)
    return Mul(Const(k), lift(e))


# ---------------------------------------------------------------- canonical text
_BIN_TAGS = {Add: "+", Sub: "-", Mul: "*", Eq: "=", Le: "<=", Lt: "<", And: "and", Or: "or", Imp: "->", Iff: "<->"}


def canonical(node: Expr | Prop) -> str:
    """An S-expression that identifies the statement; theorem ids hash it.

    Changing this function changes every theorem id: don't, without a reason
    that is worth invalidating old runs.
    """
    if isinstance(node, Var):
        return node.name
    if isinstance(node, Const):
        return str(node.value)
    if isinstance(node, Pow):
        return f"(^ {canonical(node.base)} {canonical(node.exponent)})"
    if isinstance(node, App):
        return "(app " + " ".join([node.fn] + [canonical(a) for a in node.args]) + ")"
    if isinstance(node, ListLit):
        return "(list" + "".join(" " + canonical(i) for i in node.items) + ")"
    if type(node) in _BIN_TAGS:
        return f"({_BIN_TAGS[type(node)]} {canonical(node.left)} {canonical(node.right)})"
    if isinstance(node, Not):
        return f"(not {canonical(node.body)})"
    if isinstance(node, Forall):
        bs = " ".join(f"({n} {s})" for n, s in node.binders)
        return f"(forall ({bs}) {canonical(node.body)})"
    if isinstance(node, Exists):
        return f"(exists {node.var} {canonical(node.body)})"
    if isinstance(node, PropVar):
        return f"?{node.name}"
    if isinstance(node, TrueP):
        return "True"
    if isinstance(node, FalseP):
        return "False"
    raise TypeError(f"not an IR node: {node!r}")


# ---------------------------------------------------------------- rendering
@dataclass(frozen=True)
class _Lang:
    """How one language writes each construct, and how tightly each binds."""

    name: str
    nat: str
    prop: str
    forall: str
    exists: str
    ops: dict  # node type -> (symbol, strength, assoc in {"left","right","none"})
    not_sym: str
    not_strength: int  # strength of "~ p" as a child
    not_operand: int  # strength the operand of "~" must have
    ne_sym: str
    rel_strength: int
    app_strength: int
    atom_strength: int
    fn_name: Callable[[str], str]


def _coq_fn(fn: str) -> str:
    from prover.theorems.headers import FUNCTIONS
    return FUNCTIONS[fn].coq


def _lean_fn(fn: str) -> str:
    from prover.theorems.headers import FUNCTIONS
    return FUNCTIONS[fn].lean


# Coq levels (lower binds tighter) mapped to strength = 200 - level.
COQ = _Lang(
    name="coq", nat="nat", prop="Prop", forall="forall", exists="exists",
    ops={Imp: ("->", 101, "right"), Iff: ("<->", 105, "none"), Or: ("\\/", 115, "right"),
         And: ("/\\", 120, "right"), Eq: ("=", 130, "none"), Le: ("<=", 130, "none"),
         Lt: ("<", 130, "none"), Add: ("+", 150, "left"), Sub: ("-", 150, "left"),
         Mul: ("*", 160, "left"), Pow: ("^", 170, "right")},
    not_sym="~", not_strength=125, not_operand=125, ne_sym="<>", rel_strength=130,
    app_strength=190, atom_strength=200, fn_name=_coq_fn)

# Lean 4 precedences as declared in core (`infixr:35 " ∧ "`, `notation:max "¬" p:40`, ...).
LEAN = _Lang(
    name="lean", nat="Nat", prop="Prop", forall="∀", exists="∃",
    ops={Iff: ("↔", 20, "none"), Imp: ("→", 25, "right"), Or: ("∨", 30, "right"),
         And: ("∧", 35, "right"), Eq: ("=", 50, "none"), Le: ("≤", 50, "none"),
         Lt: ("<", 50, "none"), Add: ("+", 65, "left"), Sub: ("-", 65, "left"),
         Mul: ("*", 70, "left"), Pow: ("^", 75, "right")},
    not_sym="¬", not_strength=40, not_operand=40, ne_sym="≠", rel_strength=50,
    app_strength=1024, atom_strength=1100, fn_name=_lean_fn)

LANGS = {"coq": COQ, "lean": LEAN}


def render(node: Expr | Prop, backend: str) -> str:
    """The statement text in ``backend`` ("coq" or "lean")."""
    if backend not in LANGS:
        raise ValueError(f"backend must be one of {sorted(LANGS)}, got {backend!r}")
    text, _ = _render(node, LANGS[backend])
    return text


def _wrap(child: Expr | Prop, lang: _Lang, need: int, parent: type | None = None) -> str:
    text, strength = _render(child, lang)
    force = parent is not None and (isinstance(child, Iff) or (parent is Iff and isinstance(child, Imp)))
    return f"({text})" if strength < need or force else text


def _binders(binders: tuple[tuple[str, str], ...], lang: _Lang) -> str:
    groups = [(sort, [n for n, _ in grp]) for sort, grp in itertools.groupby(binders, key=lambda b: b[1])]
    sort_name = {"nat": lang.nat, "prop": lang.prop}
    if len(groups) == 1:
        sort, names = groups[0]
        return f"{' '.join(names)} : {sort_name[sort]}"
    return " ".join(f"({' '.join(names)} : {sort_name[sort]})" for sort, names in groups)


def _render(node: Expr | Prop, lang: _Lang) -> tuple[str, int]:
    if isinstance(node, Var | PropVar):
        return node.name, lang.atom_strength
    if isinstance(node, Const):
        return str(node.value), lang.atom_strength
    if isinstance(node, TrueP):
        return "True", lang.atom_strength
    if isinstance(node, FalseP):
        return "False", lang.atom_strength
    if isinstance(node, App):
        args = " ".join(_wrap(a, lang, lang.atom_strength) for a in node.args)
        return f"{lang.fn_name(node.fn)} {args}", lang.app_strength
    if isinstance(node, ListLit):
        sep = "; " if lang.name == "coq" else ", "
        return "[" + sep.join(_render(i, lang)[0] for i in node.items) + "]", lang.atom_strength
    if isinstance(node, Pow):
        sym, s, _ = lang.ops[Pow]
        return f"{_wrap(node.base, lang, s + 1)} {sym} {_wrap(node.exponent, lang, s)}", s
    if isinstance(node, Not):
        if isinstance(node.body, Eq):
            eq = node.body
            need = lang.rel_strength + 1
            return f"{_wrap(eq.left, lang, need)} {lang.ne_sym} {_wrap(eq.right, lang, need)}", lang.rel_strength
        return f"{lang.not_sym} {_wrap(node.body, lang, lang.not_operand, Not)}", lang.not_strength
    if type(node) in lang.ops:
        sym, s, assoc = lang.ops[type(node)]
        left_need = s if assoc == "left" else s + 1
        right_need = s if assoc == "right" else s + 1
        return (f"{_wrap(node.left, lang, left_need, type(node))} {sym} "
                f"{_wrap(node.right, lang, right_need, type(node))}"), s
    if isinstance(node, Forall):
        return f"{lang.forall} {_binders(node.binders, lang)}, {_wrap(node.body, lang, 0)}", 0
    if isinstance(node, Exists):
        return f"{lang.exists} {node.var} : {lang.nat}, {_wrap(node.body, lang, 0)}", 0
    raise TypeError(f"not an IR node: {node!r}")


# ---------------------------------------------------------------- bounded semantics
def eval_expr(e: Expr, env: dict[str, int]) -> int:
    from prover.theorems.headers import FUNCTIONS
    if isinstance(e, Var):
        return env[e.name]
    if isinstance(e, Const):
        return e.value
    if isinstance(e, Add):
        return eval_expr(e.left, env) + eval_expr(e.right, env)
    if isinstance(e, Sub):
        return max(0, eval_expr(e.left, env) - eval_expr(e.right, env))
    if isinstance(e, Mul):
        return eval_expr(e.left, env) * eval_expr(e.right, env)
    if isinstance(e, Pow):
        return eval_expr(e.base, env) ** eval_expr(e.exponent, env)
    if isinstance(e, App):
        return FUNCTIONS[e.fn].py(*(eval_expr(a, env) for a in e.args))
    if isinstance(e, ListLit):
        return [eval_expr(i, env) for i in e.items]
    raise TypeError(f"not an expression: {e!r}")


def evaluate(p: Prop, env: dict | None = None, grid: int = 6, search: int = 300) -> bool:
    """Truth of ``p`` with nat foralls over 0..grid-1, Prop foralls over
    {False, True} and exists searched over 0..search-1."""
    env = dict(env or {})
    if isinstance(p, Eq):
        return eval_expr(p.left, env) == eval_expr(p.right, env)
    if isinstance(p, Le):
        return eval_expr(p.left, env) <= eval_expr(p.right, env)
    if isinstance(p, Lt):
        return eval_expr(p.left, env) < eval_expr(p.right, env)
    if isinstance(p, Not):
        return not evaluate(p.body, env, grid, search)
    if isinstance(p, And):
        return evaluate(p.left, env, grid, search) and evaluate(p.right, env, grid, search)
    if isinstance(p, Or):
        return evaluate(p.left, env, grid, search) or evaluate(p.right, env, grid, search)
    if isinstance(p, Imp):
        return (not evaluate(p.left, env, grid, search)) or evaluate(p.right, env, grid, search)
    if isinstance(p, Iff):
        return evaluate(p.left, env, grid, search) == evaluate(p.right, env, grid, search)
    if isinstance(p, PropVar):
        return env[p.name]
    if isinstance(p, TrueP):
        return True
    if isinstance(p, FalseP):
        return False
    if isinstance(p, Forall):
        domains = [range(grid) if sort == "nat" else (False, True) for _, sort in p.binders]
        names = [n for n, _ in p.binders]
        return all(evaluate(p.body, {**env, **dict(zip(names, vals))}, grid, search)
                   for vals in itertools.product(*domains))
    if isinstance(p, Exists):
        return any(evaluate(p.body, {**env, p.var: v}, grid, search) for v in range(search))
    raise TypeError(f"not a proposition: {p!r}")
