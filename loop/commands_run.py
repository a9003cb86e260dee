"""`ratchet run`: launch or resume a multi-round experiment from a config."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from loop.config import ConfigError, load_config


def register(app: typer.Typer) -> None:
    app.command("run")(run)


def run(
    config: Path = typer.Argument(..., help="YAML config: a small diff over the typed defaults (see configs/)."),
    out: Optional[Path] = typer.Option(None, "--out", "-o",
                                       help="Run directory. Default: runs/<config name>-seed<seed>."),
    set_: list[str] = typer.Option([], "--set", help="Override a key, e.g. --set sampling.k=16 (repeatable)."),
    resume: bool = typer.Option(False, "--resume", help="Continue a killed or finished run in --out."),
    no_progress: bool = typer.Option(False, "--no-progress", help="Hide progress bars (logs stay)."),
) -> None:
    """Run rounds of propose → verify → select → LoRA, evaluating every round on the frozen held-out set.

    Writes OUT/config.yaml, OUT/manifest.json, OUT/run.db (every attempt with its verdicts) and
    OUT/summary.json (per-round metrics). A run killed at any point continues with --resume.
    """
    from loop.run import RunDirError, run_experiment
    from prover.theorems.sources import SourceError

    try:
        cfg = load_config(config, set_)
    except ConfigError as e:
        _fail(f"{config}: {e}")
    out = out or Path("runs") / f"{config.stem}-seed{cfg.seed}"
    try:
        run_experiment(cfg, out, resume=resume, progress=not no_progress)
    except (RunDirError, FileNotFoundError, SourceError) as e:
        _fail(str(e))
    typer.echo(f"summary: {out / 'summary.json'}")


def _fail(msg: str) -> None:
    typer.echo(f"error: {msg}", err=True)
    raise typer.Exit(2)
