"""`ratchet theorems`: what a config's pools hold, one theorem in full, and the type-check."""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Optional

import typer

from prover.exits import fail

from loop.config import ConfigError, load_config


def register(app: typer.Typer) -> None:
    app.command("theorems")(theorems)


def theorems(
    config: Path = typer.Argument(..., help="YAML config whose theorems to list (nothing is run or written)."),
    pool: Optional[str] = typer.Option(None, "--pool", help="Only this pool: warmstart, train or heldout."),
    source: Optional[str] = typer.Option(None, "--source", help="Only this source (its `name`)."),
    show: Optional[str] = typer.Option(None, "--show", help="Print one theorem by id: statement, header or "
                                       "context position, human proof."),
    check: bool = typer.Option(False, "--check", help="Type-check every statement in its own environment "
                               "(starts the prover) and list the ill-formed ones."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object: pools, sources, headers, ill_formed."),
    set_: list[str] = typer.Option([], "--set", help="Override a key, e.g. --set theorems.per_family=10."),
) -> None:
    """Counts of a config's theorems by source, by family or file, by pool and by header.

    Without `theorems.sources` this lists the generated families exactly as a run builds them.
    """
    from loop.run import build_theorem_pools
    from prover.backends import resolve_backend
    from prover.theorems.sources import SourceError

    try:
        cfg = load_config(config, set_)
        backend = resolve_backend(cfg.backend)
        if cfg.theorems.sources is None:
            thms, pools = build_theorem_pools(cfg)
        else:
            from prover.theorems.sources import build_pools
            thms, pools = build_pools(cfg.theorems, backend)
    except (ConfigError, SourceError, ValueError) as e:
        fail(f"{config}: {e}")
    pools = {p: ids for p, ids in pools.items() if pool is None or p == pool}
    if pool is not None and not pools:
        fail(f"--pool {pool!r}: no such pool (warmstart, train, heldout, canary)")
    if source is not None:
        pools = {p: [t for t in ids if _source(thms[t]) == source] for p, ids in pools.items()}
    if show is not None:
        if show not in thms:
            fail(f"--show {show!r}: no such theorem in this config")
        typer.echo(_describe(thms[show], backend, next((p for p, ids in pools.items() if show in ids), "-")))
        return
    ill: dict[str, str] = {}
    if check:
        ill = _check(cfg, backend, thms, pools)
    members = [(p, thms[t]) for p, ids in pools.items() for t in ids]
    headers = Counter(_header_key(th, backend) for _, th in members)
    report = {"pools": {p: len(ids) for p, ids in pools.items()},
              "sources": dict(Counter(_source(th) for _, th in members)),
              "families": dict(Counter(th.family for _, th in members)),
              "headers": len(headers), "ill_formed": sorted(ill), "backend": backend}
    if as_json:
        report["ill_formed_reasons"] = ill
        typer.echo(json.dumps(report, indent=2))
        return
    typer.echo(f"backend {backend}; {sum(report['pools'].values())} theorems, {len(headers)} distinct headers")
    for title, counts in (("pool", report["pools"]), ("source", report["sources"]),
                          ("family / file", report["families"])):
        typer.echo(f"\nby {title}:")
        for k, n in counts.items():
            typer.echo(f"  {k:<50} {n:>6}")
    if check:
        typer.echo(f"\nill-formed: {len(ill)}")
        for tid, why in sorted(ill.items()):
            typer.echo(f"  {tid}: {why[:200]}")


def _source(th) -> str:
    return getattr(th, "source", "families")


def _header_key(th, backend: str) -> str:
    if getattr(th, "context_file", None) is not None:
        return f"context:{th.file}:{th.line}"
    header = getattr(th, "header", None)
    return "<default>" if header is None else header


def _describe(th, backend: str, pool: str) -> str:
    lines = [f"id        {th.id}", f"pool      {pool}", f"name      {th.name}", f"family    {th.family}"]
    if hasattr(th, "language"):
        lines.append(f"source    {th.source} ({th.language})")
        if th.file is not None:
            lines.append(f"stated at {th.file}:{th.line}  (context: the file's first {th.context_end} characters)")
        if th.split is not None:
            lines.append(f"split     {th.split}")
    lines += ["", "statement:", "  " + th.statement(backend).replace("\n", "\n  ")]
    header = getattr(th, "header", None)
    if header:
        lines += ["", "header:", "  " + header.rstrip().replace("\n", "\n  ")]
    if getattr(th, "informal_prefix", ""):
        lines += ["", "informal:", "  " + th.informal_prefix.strip().replace("\n", "\n  ")]
    proofs = th.reference_proofs(backend)
    if proofs:
        lines += ["", "human proof:" if hasattr(th, "language") else "reference proof:",
                  "  " + proofs[0].replace("\n", "\n  ")]
    return "\n".join(lines)


def _check(cfg, backend: str, thms: dict, pools: dict) -> dict[str, str]:
    from loop.sources import Loaded, drop_ill_formed, source_verifier
    if cfg.theorems.sources is None:
        return {}  # generated statements are well-formed by construction (tests check them with coqc)
    loaded = Loaded(thms, {p: list(ids) for p, ids in pools.items()})
    verifier = source_verifier(cfg, backend, loaded, cfg.verifier.memory_for(backend))
    try:
        return drop_ill_formed(loaded, backend, verifier)
    finally:
        verifier.close()


