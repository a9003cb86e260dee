"""Pluggable theorem sources: today's families, benchmark JSONL files, the Coq standard library, LeanDojo.

    load_sources(theorems_cfg) -> list of (source config, [theorem, ...])
    build_pools(theorems_cfg, backend) -> (theorems by id, pools)   # pools in source and file order
    check_statements(theorems, verifier) -> {id: reason}            # the ill-formed ones

Pools: ``families`` split by hash exactly as without sources; ``jsonl`` by the
file's ``split`` through ``splits``, or by hash; ``coq-stdlib`` held out by
hash, or whole files through ``heldout_files``; ``leandojo`` by split file.
Hash splits are ``prover.theorems.split_pools`` on the theorem id, so they do
not depend on order or on what else is loaded. Pools keep the order theorems
were read in (a library file's lemmas in file order, which the Coq cursor
needs to replay each file once per pass); families' pools stay sorted by id.
"""
from __future__ import annotations

from prover.theorems.sources.base import ContextFile, SourceError, SourceTheorem
from prover.theorems.sources.config import (CoqStdlibSource, FamiliesSource, JsonlSource, LeanDojoSource,
                                            SourceConfig, SourcesMixin)

POOL_NAMES = ("warmstart", "train", "heldout")


def load_sources(t) -> list[tuple[object, list]]:
    """Every configured source with its theorems (``t``: a TheoremsConfig with ``sources`` set)."""
    from prover.theorems.core import generate_theorems
    from prover.theorems.sources.coq_stdlib import read_coq_stdlib
    from prover.theorems.sources.jsonl import read_jsonl
    from prover.theorems.sources.leandojo import read_leandojo

    out = []
    for s in t.sources:
        if isinstance(s, FamiliesSource):
            out.append((s, generate_theorems(t.families, t.per_family, t.generator_seed)))
        elif isinstance(s, JsonlSource):
            out.append((s, read_jsonl(s)))
        elif isinstance(s, CoqStdlibSource):
            out.append((s, read_coq_stdlib(s)))
        elif isinstance(s, LeanDojoSource):
            out.append((s, read_leandojo(s)))
        else:  # the config's discriminated union makes this unreachable
            raise TypeError(f"unknown source config {type(s).__name__}")
    return out


def language_of(theorem) -> str | None:
    """A source theorem's one language; None for family theorems (both languages)."""
    return getattr(theorem, "language", None)


def assign_pools(s, theorems: list, warmstart_fraction: float, heldout_fraction: float) -> dict[str, list]:
    from prover.theorems.core import split_pools
    from prover.theorems.sources.coq_stdlib import heldout_by_file

    if isinstance(s, FamiliesSource):
        split = split_pools(theorems, warmstart_fraction, heldout_fraction)
        return {p: sorted(split[p], key=lambda th: th.id) for p in POOL_NAMES}
    if isinstance(s, JsonlSource) and s.splits is not None:
        pools: dict[str, list] = {p: [] for p in POOL_NAMES}
        for th in theorems:
            pools[s.splits[th.split]].append(th)
        return pools
    if isinstance(s, LeanDojoSource):
        pools = {p: [] for p in POOL_NAMES}
        for th in theorems:
            pools[th.meta["pool"]].append(th)
        return pools
    if isinstance(s, CoqStdlibSource) and s.heldout_files:
        held = [th for th in theorems if heldout_by_file(s, th)]
        rest = split_pools([th for th in theorems if not heldout_by_file(s, th)], warmstart_fraction, 0.0)
        return {"warmstart": rest["warmstart"], "train": rest["train"], "heldout": held}
    return split_pools(theorems, warmstart_fraction, heldout_fraction)


def build_pools(t, backend: str, exclude: set[str] = frozenset()) -> tuple[dict, dict[str, list[str]]]:
    """(theorems by id, pool -> ids) for a TheoremsConfig with sources; ``exclude``: ill-formed ids."""
    theorems: dict = {}
    pools: dict[str, list[str]] = {p: [] for p in POOL_NAMES}
    for s, items in load_sources(t):
        for th in items:
            lang = language_of(th)
            if lang is not None and lang != backend:
                raise SourceError(f"source {s.source_name()!r} holds {lang} theorems; the run's backend is "
                                  f"{backend} (set `backend: {lang}`)")
            if th.id in theorems:
                raise SourceError(f"theorem id {th.id!r} comes from two sources")
            theorems[th.id] = th
        for p, members in assign_pools(s, items, t.warmstart_fraction, t.heldout_fraction).items():
            pools[p].extend(th.id for th in members if th.id not in exclude)
    return theorems, pools


def contexts_of(theorems) -> list[ContextFile]:
    """The distinct library files the theorems' contexts are prefixes of."""
    seen: dict[str, ContextFile] = {}
    for th in theorems:
        c = getattr(th, "context_file", None)
        if c is not None:
            seen.setdefault(c.key, c)
    return list(seen.values())


def header_of(theorem, backend: str) -> str | None:
    """The header a verifier loads for ``theorem``: None (the default) for family theorems."""
    return theorem.header_for(backend) if isinstance(theorem, SourceTheorem) else None


def check_statements(theorems: list, backend: str, verifier) -> dict[str, str]:
    """{id: reason} for source statements that do not elaborate in their own environment.

    Coq: each statement is elaborated as a type in its header or context (a file run with
    ``Load`` and undone). Lean: the statement must compose into a declaration; elaborating it
    needs the REPL with the theorem's header, which is done when the verifier has one
    (``check_statements``), else the check is compositional only. Family theorems are
    generated well-formed and are not re-checked.
    """
    items = [th for th in theorems if isinstance(th, SourceTheorem)]
    bad: dict[str, str] = {}
    if backend == "coq":
        reasons = verifier.check_statements([(th.text, th.header_for("coq")) for th in items])
        bad.update({th.id: r for th, r in zip(items, reasons) if r})
        return bad
    from prover.lean.admission import CompositionError, compose_theorem
    for th in items:
        try:
            compose_theorem(th.name, th.text, "skip", signature=th.lean_signature, keyword=th.keyword)
        except CompositionError as err:
            bad[th.id] = str(err)
    return bad


__all__ = ["ContextFile", "CoqStdlibSource", "FamiliesSource", "JsonlSource", "LeanDojoSource", "SourceConfig",
           "SourceError", "SourceTheorem", "SourcesMixin", "assign_pools", "build_pools", "check_statements",
           "contexts_of", "header_of", "language_of", "load_sources"]
