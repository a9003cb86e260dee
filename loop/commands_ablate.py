"""`ratchet ablate`: run a grid of experiments (gate × temperature × seed, ...) and tabulate them."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from loop.config import ConfigError
from prover.exits import fail


def register(app: typer.Typer) -> None:
    """Add this module's commands to the `ratchet` app."""
    app.command("ablate")(ablate)


def ablate(
    config: Path = typer.Argument(..., help="Ablation YAML: base:, arms:, grid: (see configs/ablate-verifier.yaml)."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Output directory. Default: runs/<config name>."),
    jobs: int = typer.Option(1, "--jobs", "-j", min=1, help="Arms run at the same time, each in its own process."),
    resume: bool = typer.Option(False, "--resume", metavar="",
                                help="Continue: finished arms are skipped, others resumed."),
    report_only: bool = typer.Option(False, "--report-only", metavar="",
                                     help="Only rebuild the CSV, table and plots in --out."),
    ray: bool = typer.Option(False, "--ray", metavar="", help="Run each arm as a Ray task instead of a local "
                             "process (docs/distributed.md); same run directories and CSV."),
    ray_address: str = typer.Option("", "--ray-address", help="With --ray: a running cluster (host:port or auto); "
                                    "empty = start a local Ray instance."),
) -> None:
    """Run every arm of an ablation, then write OUT/ablation.csv, OUT/ablation.md and PNG plots.

    Each arm is a full `ratchet run` in OUT/runs/<arm> (its output in OUT/logs/<arm>.log). A killed
    ablation continues with --resume.
    """
    from loop.ablate import load_ablation, run_ablation, write_report

    try:
        out = out or Path("runs") / load_ablation(config).name
        if report_only:
            paths = write_report(out)
        else:
            if ray:
                from loop.ablate_ray import RayArms
                from prover.distributed import RayUnavailable

                try:
                    arms = RayArms(ray_address)
                except RayUnavailable as e:
                    typer.echo(f"error: {e}", err=True)
                    raise typer.Exit(2)
                with arms:
                    result = run_ablation(config, out, jobs=jobs, resume=resume, echo=typer.echo, runner=arms)
            else:
                result = run_ablation(config, out, jobs=jobs, resume=resume, echo=typer.echo)
            paths = result.report
            if result.failed:
                for o in result.failed:
                    typer.echo(f"failed: {o.arm}: {o.error}", err=True)
                typer.echo(f"report (partial): {paths['md']}", err=True)
                raise typer.Exit(1)
    except (ConfigError, FileNotFoundError) as e:
        fail(str(e))
    typer.echo(f"table: {paths['md']}\ncsv:   {paths['csv']}")
