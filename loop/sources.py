"""What a run with ``theorems.sources`` does before round 0: read, build the verifier, type-check.

1. ``read_sources`` reads every source (a malformed file raises ``SourceError``
   naming file:line) before the run directory is touched;
2. ``source_verifier`` builds the verifier: for Coq a ``RoutingCoqVerifier``
   that knows the library files whose prefixes are contexts, for Lean the
   ``LeanVerifier`` (it keeps one REPL pool per header already);
3. ``drop_ill_formed`` type-checks every source statement once in its own
   environment and removes the ill-formed ones from the pools (reported by id,
   never counted as unsolved).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from loop.config import RunConfig
from prover.theorems.sources import (LeanDojoSource, build_pools, check_statements, contexts_of)
from prover.theorems.sources.base import SourceError


@dataclass
class Loaded:
    theorems: dict  # id -> theorem
    pools: dict[str, list[str]]  # pool -> ids, in source and file order
    ill_formed: dict[str, str] = field(default_factory=dict)  # id -> reason


def read_sources(cfg: RunConfig, backend: str) -> Loaded:
    theorems, pools = build_pools(cfg.theorems, backend)
    if any(isinstance(s, LeanDojoSource) for s in cfg.theorems.sources or ()):
        from prover.theorems.sources.leandojo import check_ready
        missing = check_ready()
        if missing:
            raise SourceError(missing)
    return Loaded(theorems, pools)


def source_verifier(cfg: RunConfig, backend: str, loaded: Loaded, memory_mb: int):
    v = cfg.verifier
    if backend == "coq":
        from prover.coq.contexts import Context, RoutingCoqVerifier
        contexts = [Context(c.key, c.text) for c in contexts_of(loaded.theorems.values())]
        return RoutingCoqVerifier(workers=v.workers, timeout_s=v.timeout_s, memory_mb=memory_mb,
                                  recycle_after=v.recycle_after, contexts=contexts)
    from prover.backends import make_verifier
    return make_verifier(backend, workers=v.workers, timeout_s=v.timeout_s, memory_mb=memory_mb,
                         recycle_after=v.recycle_after)


def drop_ill_formed(loaded: Loaded, backend: str, verifier) -> dict[str, str]:
    """Type-check the statements in the pools; remove and return the ill-formed ones."""
    members = [loaded.theorems[t] for ids in loaded.pools.values() for t in ids]
    bad = check_statements(members, backend, verifier)
    loaded.pools = {p: [t for t in ids if t not in bad] for p, ids in loaded.pools.items()}
    loaded.ill_formed = bad
    return bad
