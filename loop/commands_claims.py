"""`ratchet claims`: run the claims grid and answer every prediction with a number and its interval."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from loop.config import ConfigError


def register(app: typer.Typer) -> None:
    """Add this module's commands to the `ratchet` app."""
    app.command("claims")(claims)


def claims(
    config: Path = typer.Argument(..., help="Claims grid YAML: blocks of ablations (see configs/claims.yaml)."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Output directory. Default: runs/<config name>."),
    jobs: int = typer.Option(1, "--jobs", "-j", min=1, help="Arms run at the same time, each in its own process."),
    resume: bool = typer.Option(False, "--resume", help="Continue: finished arms are skipped, others resumed."),
    report_only: bool = typer.Option(False, "--report-only", help="Only rebuild claims.md/json/png from OUT."),
) -> None:
    """Run every arm of the claims grid, then write OUT/claims.md, .json and .png.

    Each claim (loop/claims.py) names its source, prediction, arms and effect.
    The report gives each effect with a 95% bootstrap interval (over theorems
    and seeds) and a verdict: supported, contradicted, or inconclusive at this
    scale. Arms run block by block, each block an ablation in OUT/blocks/;
    a killed run continues with --resume.
    """
    from loop.claims import load_plan, run_claims

    try:
        out = out or Path("runs") / load_plan(config).name
        result = run_claims(config, out, jobs=jobs, resume=resume, report_only=report_only, echo=typer.echo)
    except (ConfigError, FileNotFoundError) as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2)
    for arm in result["failed"]:
        typer.echo(f"failed: {arm}", err=True)
    counts = {v: sum(r["verdict"] == v for r in result["results"]) for v in ("supported", "contradicted",
                                                                              "inconclusive")}
    typer.echo(", ".join(f"{n} {v}" for v, n in counts.items()))
    typer.echo(f"claims: {result['paths']['md']}\njson:   {result['paths']['json']}")
    if result["failed"]:
        raise typer.Exit(1)
