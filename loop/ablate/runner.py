"""Running an ablation's arms: each in its own process group, at most ``jobs`` at a time (see loop.ablate)."""
from __future__ import annotations

import argparse
import importlib
import inspect
import json
import os
import signal
import subprocess
import sys
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from loop.ablate.spec import Ablation, Arm, load_ablation
from loop.ablate.tables import write_report
from loop.config import ConfigError, RunConfig, dump_config, load_config
from loop.summary import load_rounds
from prover.exits import terminate_as_interrupt

DEFAULT_TARGET = "loop.run:run_experiment"

RunFn = Callable[[RunConfig, Path, bool], Any]


@dataclass
class Outcome:
    arm: str
    status: str  # done | skipped | failed
    seconds: float = 0.0
    error: str | None = None


@dataclass
class AblationResult:
    out_dir: Path
    outcomes: list[Outcome]
    report: dict[str, Path] = field(default_factory=dict)

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status == "failed"]


def arm_finished(run_dir: Path, cfg: RunConfig) -> bool:
    """True when run_dir/summary.json holds a summary for every round 0..cfg.rounds."""
    path = run_dir / "summary.json"
    if not path.is_file():
        return False
    try:
        summary = json.loads(path.read_text())
    except json.JSONDecodeError:
        return False  # a half-written file (the loop writes atomically, but be safe): not finished
    done = {r.round for r in load_rounds(summary.get("rounds", []))}
    return set(range(cfg.rounds + 1)) <= done


class _Children:
    """The arm processes this ablation started, so that an interrupt can end them (by their own group)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.procs: dict[int, subprocess.Popen] = {}

    def add(self, proc: subprocess.Popen) -> None:
        with self.lock:
            self.procs[proc.pid] = proc

    def remove(self, proc: subprocess.Popen) -> None:
        with self.lock:
            self.procs.pop(proc.pid, None)

    def kill_all(self) -> None:
        with self.lock:
            procs = list(self.procs.values())
        for proc in procs:
            _kill_group(proc)


def _kill_group(proc: subprocess.Popen, grace_s: float = 10.0) -> None:
    """SIGTERM the child's process group (it leads its own session), then SIGKILL if it lingers."""
    for sig, wait in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 5.0)):
        if proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue


def _child_env(jobs: int) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    threads = str(max(1, (os.cpu_count() or 1) // jobs))
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env.setdefault(var, threads)
    return env


def _run_subprocess(arm: Arm, arm_yaml: Path, run_dir: Path, log: Path, resume: bool, target: str,
                    timeout_s: float | None, jobs: int, children: _Children) -> None:
    cmd = [sys.executable, "-m", "loop.ablate", "--target", target, str(arm_yaml), str(run_dir)]
    if resume:
        cmd.append("--resume")
    with log.open("a") as f:
        f.write(f"\n$ {' '.join(cmd)}   # {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
        f.flush()
        proc = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=_child_env(jobs), start_new_session=True)
        children.add(proc)
        try:
            rc = proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            raise RuntimeError(f"timed out after {timeout_s:.0f}s and was killed") from None
        finally:
            children.remove(proc)
    if rc != 0:
        raise RuntimeError(f"exited with status {rc}")


def _run_one(arm: Arm, out: Path, resume: bool, run_fn: RunFn | None, target: str, timeout_s: float | None,
             jobs: int, children: _Children, runner: Callable | None = None) -> Outcome:
    run_dir, log = out / "runs" / arm.name, out / "logs" / f"{arm.name}.log"
    if arm_finished(run_dir, arm.config):
        return Outcome(arm.name, "skipped")
    resume_arm = resume and run_dir.exists()
    t0 = time.time()
    try:
        if run_fn is None:
            (runner or _run_subprocess)(arm, out / "arms" / f"{arm.name}.yaml", run_dir, log, resume_arm, target,
                                        timeout_s, jobs, children)
        else:
            run_fn(arm.config, run_dir, resume_arm)
    except Exception as e:  # an arm's failure is reported, and the other arms go on
        with log.open("a") as f:
            f.write(traceback.format_exc())
        return Outcome(arm.name, "failed", time.time() - t0, f"{e} (log: {log})")
    if not arm_finished(run_dir, arm.config):
        return Outcome(arm.name, "failed", time.time() - t0, f"finished without a summary for every round (log: {log})")
    return Outcome(arm.name, "done", time.time() - t0)


def prepare_out_dir(ab: Ablation, config_text: str, out: Path, resume: bool) -> None:
    """Write the ablation's plan; refuse to mix a different plan into an existing directory."""
    if (out / "arms.json").exists() and not resume:
        raise ConfigError(f"{out} already holds an ablation; pass --resume to continue it or choose another --out")
    for sub in ("arms", "runs", "logs"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    for arm in ab.arms:
        path, text = out / "arms" / f"{arm.name}.yaml", dump_config(arm.config)
        if path.exists() and path.read_text() != text:
            raise ConfigError(f"arm {arm.name}: {path} differs from the config now given; "
                              f"finish it with the old config or choose another --out")
    for arm in ab.arms:
        (out / "arms" / f"{arm.name}.yaml").write_text(dump_config(arm.config))
    (out / "ablation.yaml").write_text(config_text)
    index = {"name": ab.name, "keys": ab.keys,
             "arms": [{"name": a.name, "group": a.group, "values": a.values} for a in ab.arms]}
    (out / "arms.json").write_text(json.dumps(index, indent=2) + "\n")


def run_ablation(config_path: str | Path, out_dir: str | Path, jobs: int = 1, resume: bool = False,
                 run_fn: RunFn | None = None, target: str = DEFAULT_TARGET,
                 echo: Callable[[str], None] = print, runner: Callable | None = None) -> AblationResult:
    """Run every arm (skipping finished ones), then write the report. Failed arms are listed, not raised.

    ``runner`` replaces the local arm process (``_run_subprocess``, same arguments): ``loop.ablate_ray.RayArms``.
    """
    return run_ablations([(config_path, out_dir)], jobs=jobs, resume=resume, run_fn=run_fn, target=target,
                         echo=echo, runner=runner)[0]


def run_ablations(plans: Sequence[tuple[str | Path, str | Path]], jobs: int = 1, resume: bool = False,
                  run_fn: RunFn | None = None, target: str = DEFAULT_TARGET,
                  echo: Callable[[str], None] = print, runner: Callable | None = None) -> list[AblationResult]:
    """Several ablations ((config, out dir) each) in one pool of ``jobs`` slots, then each one's report.

    One pool, so that a slot freed by one ablation's last arm starts the next ablation's first
    (``ratchet claims`` runs its blocks this way). Every plan is checked and its directory prepared
    before any arm starts, so a bad block fails before hours of the others have run.
    """
    if jobs < 1:
        raise ConfigError(f"--jobs: expected at least 1, got {jobs}")
    loaded: list[tuple[Ablation, Path]] = []
    for config_path, out_dir in plans:
        ab, out = load_ablation(config_path), Path(out_dir)
        prepare_out_dir(ab, Path(config_path).read_text(), out, resume)
        echo(f"ablation {ab.name!r}: {len(ab.arms)} arms, {jobs} at a time -> {out}")
        loaded.append((ab, out))
    work = [(i, arm) for i, (ab, _) in enumerate(loaded) for arm in ab.arms]
    children = _Children()
    outcomes: list[list[Outcome]] = [[] for _ in loaded]
    pool = ThreadPoolExecutor(max_workers=jobs)
    # A SIGTERM must end the arms too: they lead their own sessions and would otherwise run on, orphaned.
    with terminate_as_interrupt():
        try:
            futures = {pool.submit(_run_one, arm, loaded[i][1], resume, run_fn, target, loaded[i][0].arm_timeout_s,
                                   jobs, children, runner): i
                       for i, arm in work}
            for done, fut in enumerate(as_completed(futures), 1):
                i, o = futures[fut], fut.result()
                outcomes[i].append(o)
                tail = {"done": f"done in {o.seconds:.0f}s", "skipped": "already finished, skipped",
                        "failed": f"FAILED: {o.error}"}[o.status]
                name = f"{loaded[i][0].name}/{o.arm}" if len(loaded) > 1 else o.arm
                echo(f"  [{done}/{len(work)}] {name}: {tail}")
        except KeyboardInterrupt:
            pool.shutdown(wait=False, cancel_futures=True)
            children.kill_all()
            raise
    pool.shutdown(wait=True)
    results = []
    for (ab, out), outs in zip(loaded, outcomes):
        order = {a.name: i for i, a in enumerate(ab.arms)}
        outs.sort(key=lambda o: order[o.arm])
        results.append(AblationResult(out, outs, write_report(out)))
    return results


def arm_main(argv: list[str] | None = None) -> int:
    """``python -m loop.ablate [--target module:function] ARM_YAML RUN_DIR [--resume]``: run one arm."""
    ap = argparse.ArgumentParser(prog="python -m loop.ablate", description="Run one arm of an ablation.")
    ap.add_argument("config", type=Path)
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--target", default=DEFAULT_TARGET, help="the run function, module:function")
    args = ap.parse_args(argv)
    module, _, func = args.target.partition(":")
    fn = getattr(importlib.import_module(module), func)
    cfg = load_config(args.config)
    # the run's progress bars are for a terminal; in a log file they are noise
    extra = {"progress": False} if "progress" in inspect.signature(fn).parameters else {}
    try:
        with terminate_as_interrupt():  # a SIGTERM from the runner closes the arm's verifier workers
            fn(cfg, args.run_dir, resume=args.resume, **extra)
    except KeyboardInterrupt:
        print(f"interrupted: {args.run_dir} keeps every finished batch (resume the ablation to go on)",
              file=sys.stderr)
        return 130
    return 0
