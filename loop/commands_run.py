"""`ratchet run`: launch, resume or extend a multi-round experiment from a config."""
from __future__ import annotations

import shlex
from pathlib import Path
from typing import Optional

import typer

from loop.config import ConfigError, RunConfig, apply_override, read_yaml_mapping, validate_config
from prover.exits import fail, terminate_as_interrupt


def register(app: typer.Typer) -> None:
    app.command("run")(run)


def run(
    config: Path = typer.Argument(..., help="YAML config: a small diff over the typed defaults (see configs/)."),
    out: Optional[Path] = typer.Option(None, "--out", "-o",
                                       help="Run directory. Default: runs/<config name>-seed<seed>."),
    set_: list[str] = typer.Option([], "--set", metavar="KEY=VALUE",
                                   help="Override a key, e.g. --set sampling.k=16 (repeatable)."),
    resume: bool = typer.Option(False, "--resume", metavar="",
                                help="Continue a killed run in --out; with --set rounds=N, extend a finished one."),
    no_progress: bool = typer.Option(False, "--no-progress", metavar="", help="Hide progress bars (logs stay)."),
) -> None:
    """Run rounds of propose → verify → select → LoRA, evaluating every round on the frozen held-out set.

    Writes OUT/config.yaml, OUT/manifest.json, OUT/run.db (every attempt with its verdicts) and
    OUT/summary.json (per-round metrics). Everything that can refuse a start is checked before OUT is
    written. A run stopped at any point (Ctrl-C, kill) continues with --resume; a finished one grows
    with --resume --set rounds=N.
    """
    from loop.preflight import PreflightError
    from loop.run import RunDirError, run_experiment
    from prover.theorems.sources import SourceError

    cfg = load_run_config(config, set_)
    out = out or Path("runs") / f"{config.stem}-seed{cfg.seed}"
    try:
        with terminate_as_interrupt():  # SIGTERM, like Ctrl-C, closes the verifier's workers on the way out
            run_experiment(cfg, out, resume=resume, progress=not no_progress)
    except (PreflightError, RunDirError, FileNotFoundError, SourceError) as e:
        fail(str(e))
    except KeyboardInterrupt:
        again = (["ratchet", "run", str(config), "--out", str(out)] + [a for s in set_ for a in ("--set", s)]
                 + ["--resume"])
        written = (out / "config.yaml").exists()
        typer.echo(f"interrupted: {out} keeps every finished batch; continue with: {shlex.join(again)}"
                   if written else "interrupted before the run directory was written; nothing to continue",
                   err=True)
        raise typer.Exit(130) from None
    typer.echo(f"summary: {out / 'summary.json'}")


def load_run_config(path: Path, overrides: list[str]) -> RunConfig:
    """The config file with its ``--set`` overrides; a bad value exits 2 naming where it came from."""
    try:
        data = read_yaml_mapping(path)
        for o in overrides:
            apply_override(data, o)  # its errors name the override
    except ConfigError as e:
        fail(str(e))
    try:
        return validate_config(data)
    except ConfigError as e:
        fail("; ".join(f"{_source(key, path, overrides)}: {key}: {msg}" for key, msg in e.problems) or str(e))
    raise AssertionError("unreachable")


def _source(key: str, path: Path, overrides: list[str]) -> str:
    """The last ``--set`` whose key is ``key``, inside it or around it; else the file."""
    for o in reversed(overrides):
        k = o.split("=", 1)[0].strip()
        if k == key or k.startswith(key + ".") or key.startswith(k + "."):
            return f"--set {o}"
    return str(path)
