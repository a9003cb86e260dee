"""What a theorem family is made of: templates with finite parameter domains.

A template is a parameterised statement plus the proofs that work for every
instance. Domains are explicit finite tuples, so a family's space can be
enumerated (``count_available``) and sampled without replacement
(``sample_template_instances``) deterministically from a seeded RNG.
"""
from __future__ import annotations

import itertools
import math
import random
from dataclasses import dataclass
from typing import Callable, Iterator

from prover.theorems.ir import Forall, Imp, Prop, render


@dataclass(frozen=True)
class Built:
    """One instance: the statement and the proof bodies known to work for it."""

    ir: Prop
    coq: tuple[str, ...]
    lean: tuple[str, ...]


@dataclass(frozen=True)
class Template:
    name: str
    domains: tuple[tuple[str, tuple[int, ...]], ...]
    build: Callable[..., Built | None]  # None = this parameter combination is not a valid instance

    @property
    def size(self) -> int:
        return math.prod(len(values) for _, values in self.domains)

    def params(self, index: int) -> dict[str, int]:
        """Mixed-radix decode of ``index`` in [0, size) into one value per domain."""
        out = {}
        for name, values in reversed(self.domains):
            index, r = divmod(index, len(values))
            out[name] = values[r]
        return out

    def instance(self, index: int) -> Built | None:
        return self.build(**self.params(index))


def T(name: str, build: Callable[..., Built | None], **domains: range | tuple[int, ...]) -> Template:
    for key, values in domains.items():
        if len(values) == 0:
            raise ValueError(f"template {name}: domain {key!r} is empty")
    return Template(name, tuple((k, tuple(v)) for k, v in domains.items()), build)


Family = dict[int, list[Template]]  # difficulty (1..3) -> templates


def iter_instances(templates: list[Template], rng: random.Random) -> Iterator[tuple[Template, Built]]:
    """Valid instances in a seeded order: pick a template uniformly among those
    not yet exhausted, then its next parameter combination (each template walks
    its own shuffled permutation). Uniform over templates, not over parameter
    combinations, so a template with a large domain does not crowd out the others.
    """
    orders: dict[int, list[int]] = {}
    alive = list(range(len(templates)))
    while alive:
        i = rng.choice(alive)
        if i not in orders:
            order = list(range(templates[i].size))
            rng.shuffle(order)
            orders[i] = order
        if not orders[i]:
            alive.remove(i)
            continue
        built = templates[i].instance(orders[i].pop())
        if built is not None:
            yield templates[i], built


def all_instances(template: Template) -> Iterator[Built]:
    for index in range(template.size):
        built = template.instance(index)
        if built is not None:
            yield built


# ---------------------------------------------------------------- proof-text helpers
def intro_names(ir: Prop) -> tuple[list[str], int]:
    """The binder names of the leading forall and how many hypotheses (the
    implication chain after it) a named ``intros`` should take."""
    names: list[str] = []
    body = ir
    if isinstance(body, Forall):
        names = [n for n, _ in body.binders]
        body = body.body
    hyps = 0
    while isinstance(body, Imp):
        hyps += 1
        body = body.right
    return names, hyps


def coq_intros(ir: Prop) -> str:
    """``intros x y H1 H2.`` naming every binder and hypothesis."""
    names, hyps = intro_names(ir)
    return "intros " + " ".join(names + [f"H{i}" for i in range(1, hyps + 1)]) + "."


def lean_intro(ir: Prop) -> str:
    """``intro x y h1 h2`` naming every binder and hypothesis."""
    names, hyps = intro_names(ir)
    return "intro " + " ".join(names + [f"h{i}" for i in range(1, hyps + 1)])


def witness_text(e, backend: str) -> str:
    """A witness as the argument of Coq's ``exists`` (parenthesised unless atomic)."""
    text = render(e, backend)
    return text if text.isalnum() else f"({text})"


def permutations(items: list, index: int) -> list:
    """The ``index``-th permutation of ``items`` (mod the number of permutations)."""
    perms = list(itertools.permutations(items))
    return list(perms[index % len(perms)])
