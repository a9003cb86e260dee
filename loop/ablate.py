"""Verifier ablations: run a grid of experiments, then tabulate and plot what each arm did.

The ablation config (YAML)
--------------------------
::

    name: ablate-verifier            # optional; default: the file's stem
    base_config: quickstart.yaml     # optional; a run config, relative to this file
    base:                            # optional; RunConfig overrides on top of base_config
      rounds: 3
      sampling: {k: 4}               # nested sections or dotted keys ("sampling.k: 4") both work
    arms:                            # optional; explicit partial configs (dotted keys)
      - {gate.kind: judge}
      - {gate.kind: noisy, gate.fp: 0.3, label: noisy30}   # label: optional short name
    grid:                            # optional; dotted key -> list of values, crossed
      sampling.temperature: [0.7, 1.0]
      seed: [0, 1]
    arm_timeout_s: 3600              # optional; a run still going after this is killed

The arms of the ablation are every ``arms`` entry crossed with every point of
the ``grid`` (the cross product of its lists, in the order written). Without
``arms`` the grid alone; without ``grid`` the entries alone. ``arms`` exists so
that values that belong together (gate=noisy with fp=0.3) are not crossed with
every other gate. A key may appear in ``arms`` or in ``grid``, not both. Each
arm's config is the base with its values applied, validated like any run
config: a bad key or value fails before anything runs, and the message names
the key and where it came from.

Arm names are built from the values (``gate-noisy_fp-0.3_T-0.7_seed-0``; a
``label`` replaces the entry's part). Arms that differ only in ``seed`` form a
group: the report gives mean ± std over a group's seeds.

The output directory
--------------------
::

    DIR/ablation.yaml      the ablation config as given
    DIR/arms.json          arm names, groups and values (what the report reads)
    DIR/arms/<arm>.yaml    each arm's fully resolved run config
    DIR/runs/<arm>/        each arm's run directory (see the run-directory contract)
    DIR/logs/<arm>.log     each arm's output
    DIR/ablation.csv       one row per run × round, one column per metric
    DIR/ablation.md        final and per-round metrics, mean ± std over seeds, per group
    DIR/*.png              pass@1, entropy, unique proofs and contamination per round

Running
-------
Each arm runs in its own process (``python -m loop.ablate ARM_YAML RUN_DIR``,
which calls ``loop.run.run_experiment``), at most ``jobs`` at a time, each in
its own process group with its output in its log. A killed ablation resumes
with ``resume=True``: arms whose ``summary.json`` has every round are skipped,
the others continue their own run with ``resume``. Each child gets
``OMP_NUM_THREADS = cores // jobs`` (unless set) so that parallel arms do not
fight over the cores. Tests inject ``run_fn`` to run arms in-process instead.
"""
from __future__ import annotations

import argparse
import copy
import csv
import importlib
import inspect
import itertools
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from loop.config import ConfigError, RunConfig, dump_config, load_config, read_yaml_mapping, validate_config

TOP_KEYS = ("name", "base_config", "base", "arms", "grid", "arm_timeout_s")
# short names for the keys that are varied most; any other key is named by its dotted path
ALIASES = {"gate.kind": "gate", "gate.fp": "fp", "gate.fn": "fn", "sampling.temperature": "T", "seed": "seed"}
DEFAULT_TARGET = "loop.run:run_experiment"

RunFn = Callable[[RunConfig, Path, bool], Any]


# ---------------------------------------------------------------------------
# The config: base, arms, grid -> a list of validated arms
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Arm:
    name: str
    group: str  # the name without the seed: arms of one group differ only in seed
    values: dict[str, Any]  # dotted key -> value: what sets this arm apart from the base
    config: RunConfig


@dataclass(frozen=True)
class Ablation:
    name: str
    keys: list[str]  # every dotted key some arm sets, in order of appearance
    arms: list[Arm]
    arm_timeout_s: float | None = None


def flatten(data: dict, prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": 1}, "c.d": 2} -> {"a.b": 1, "c.d": 2}. No config value is itself a mapping."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, dotted + "."))
        else:
            out[dotted] = value
    return out


def set_dotted(data: dict, key: str, value: Any) -> None:
    node = data
    parts = key.split(".")
    for i, part in enumerate(parts[:-1]):
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"{key}: {'.'.join(parts[:i + 1])} is not a section")
    node[parts[-1]] = value


def _with_values(base: dict, values: dict[str, Any]) -> dict:
    data = copy.deepcopy(base)
    for key, value in values.items():
        set_dotted(data, key, value)
    return data


def _label(key: str, value: Any) -> str:
    text = f"{ALIASES.get(key, key)}-{value if not isinstance(value, bool) else str(value).lower()}"
    return re.sub(r"[^A-Za-z0-9.+-]+", "_", text)


def load_ablation(path: str | Path) -> Ablation:
    p = Path(path)
    data = read_yaml_mapping(p, what="ablation config")
    return build_ablation(data, p.parent, str(p), default_name=p.stem)


def build_ablation(data: dict, base_dir: Path, source: str = "ablation", default_name: str = "ablation") -> Ablation:
    """Validate an ablation config (as loaded from YAML) and expand it into arms."""
    unknown = [k for k in data if k not in TOP_KEYS]
    if unknown:
        raise ConfigError(f"{source}: {unknown[0]}: unknown key (allowed: {', '.join(TOP_KEYS)})")
    base: dict = {}
    if data.get("base_config") is not None:
        base_path = Path(data["base_config"])
        base_path = base_path if base_path.is_absolute() else base_dir / base_path
        try:
            base = load_config(base_path).model_dump(mode="json")
        except ConfigError as e:
            raise ConfigError(f"{source}: base_config: {e}") from None
    overrides = data.get("base") or {}
    if not isinstance(overrides, dict):
        raise ConfigError(f"{source}: base: expected a mapping of run-config keys")
    try:
        base = _with_values(base, flatten(overrides))
        validate_config(base)
    except ConfigError as e:
        raise ConfigError(f"{source}: base: {e}") from None

    entries = _parse_arms(data.get("arms"), source)
    grid = _parse_grid(data.get("grid"), source)
    for i, (_, values) in enumerate(entries):
        both = sorted(set(values) & set(grid))
        if both:
            raise ConfigError(f"{source}: arms[{i}]: {both[0]} is also in grid; set it in one place")

    keys = list(dict.fromkeys([k for _, v in entries for k in v] + list(grid)))
    arms: list[Arm] = []
    for (i, (label, entry)), point in itertools.product(enumerate(entries), itertools.product(*grid.values())):
        values = {**entry, **dict(zip(grid, point))}
        parts = ([label] if label else [_label(k, v) for k, v in entry.items()]) + \
                [_label(k, v) for k, v in zip(grid, point)]
        group_parts = ([label] if label else [_label(k, v) for k, v in entry.items() if k != "seed"]) + \
                      [_label(k, v) for k, v in zip(grid, point) if k != "seed"]
        name = "_".join(parts) or "base"
        data_arm = _with_values(base, values)
        data_arm["name"] = name
        try:
            cfg = validate_config(data_arm)
        except ConfigError as e:
            origins = {**{k: f"arms[{i}].{k}" for k in entry}, **{k: f"grid.{k}" for k in grid}}
            raise ConfigError(f"{source}: {_blame(str(e), origins)} (arm {name}): {e}") from None
        arms.append(Arm(name=name, group="_".join(group_parts) or "base", values=values, config=cfg))
    seen: set[str] = set()
    for arm in arms:
        if arm.name in seen:
            raise ConfigError(f"{source}: two arms are both named {arm.name!r}; give the arms entries labels")
        seen.add(arm.name)
    timeout = data.get("arm_timeout_s")
    if timeout is not None and (not isinstance(timeout, (int, float)) or timeout <= 0):
        raise ConfigError(f"{source}: arm_timeout_s: expected a positive number of seconds")
    name = data.get("name") or default_name
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9._-]+", name):
        raise ConfigError(f"{source}: name: expected letters, digits, '.', '_' or '-'")
    return Ablation(name=name, keys=keys, arms=arms, arm_timeout_s=timeout)


def _blame(message: str, origins: dict[str, str]) -> str:
    """Where the keys named in a validation message were set: "grid.eval.n", "arms[0].gate.fp" or "base"."""
    bad = [part.split(": ", 1)[0] for part in message.split("; ")]
    hits = [where for key, where in origins.items()
            if any(key == b or key.startswith(b + ".") or b.startswith(key + ".") for b in bad)]
    return ", ".join(hits) or "base"


def _parse_arms(raw, source: str) -> list[tuple[str | None, dict[str, Any]]]:
    if raw is None:
        return [(None, {})]
    if not isinstance(raw, list) or not raw:
        raise ConfigError(f"{source}: arms: expected a non-empty list of mappings")
    out = []
    for i, entry in enumerate(raw):
        if not isinstance(entry, dict) or not entry:
            raise ConfigError(f"{source}: arms[{i}]: expected a non-empty mapping of dotted keys")
        entry = dict(entry)
        label = entry.pop("label", None)
        if label is not None and (not isinstance(label, str) or not re.fullmatch(r"[A-Za-z0-9.+-]+", label)):
            raise ConfigError(f"{source}: arms[{i}].label: expected letters, digits, '.', '+' or '-'")
        out.append((label, flatten(entry)))
    return out


def _parse_grid(raw, source: str) -> dict[str, list]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: grid: expected a mapping of dotted key -> list of values")
    grid = {}
    for key, values in raw.items():
        if isinstance(values, dict):
            raise ConfigError(f"{source}: grid.{key}: use dotted keys (grid: {{{key}.x: [...]}}), not sections")
        if not isinstance(values, list) or not values:
            raise ConfigError(f"{source}: grid.{key}: expected a non-empty list of values")
        if len(set(map(repr, values))) != len(values):
            raise ConfigError(f"{source}: grid.{key}: a value is listed twice")
        grid[key] = values
    return grid


# ---------------------------------------------------------------------------
# Running the arms
# ---------------------------------------------------------------------------

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
    done = {r.get("round") for r in summary.get("rounds", []) if isinstance(r, dict)}
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


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def run_ablation(config_path: str | Path, out_dir: str | Path, jobs: int = 1, resume: bool = False,
                 run_fn: RunFn | None = None, target: str = DEFAULT_TARGET,
                 echo: Callable[[str], None] = print, runner: Callable | None = None) -> AblationResult:
    """Run every arm (skipping finished ones), then write the report. Failed arms are listed, not raised.

    ``runner`` replaces the local arm process (``_run_subprocess``, same arguments): ``loop.ablate_ray.RayArms``.
    """
    if jobs < 1:
        raise ConfigError(f"--jobs: expected at least 1, got {jobs}")
    ab = load_ablation(config_path)
    out = Path(out_dir)
    prepare_out_dir(ab, Path(config_path).read_text(), out, resume)
    echo(f"ablation {ab.name!r}: {len(ab.arms)} arms, {jobs} at a time -> {out}")
    children = _Children()
    outcomes: list[Outcome] = []
    pool = ThreadPoolExecutor(max_workers=jobs)
    # A SIGTERM must end the arms too: they lead their own sessions and would otherwise run on, orphaned.
    in_main = threading.current_thread() is threading.main_thread()
    old_term = signal.signal(signal.SIGTERM, _interrupt) if in_main else None
    try:
        futures = {pool.submit(_run_one, arm, out, resume, run_fn, target, ab.arm_timeout_s, jobs, children,
                               runner): arm
                   for arm in ab.arms}
        for fut in as_completed(futures):
            o = fut.result()
            outcomes.append(o)
            tail = {"done": f"done in {o.seconds:.0f}s", "skipped": "already finished, skipped",
                    "failed": f"FAILED: {o.error}"}[o.status]
            echo(f"  [{len(outcomes)}/{len(ab.arms)}] {o.arm}: {tail}")
    except KeyboardInterrupt:
        pool.shutdown(wait=False, cancel_futures=True)
        children.kill_all()
        raise
    finally:
        if in_main:
            signal.signal(signal.SIGTERM, old_term)
    pool.shutdown(wait=True)
    order = {a.name: i for i, a in enumerate(ab.arms)}
    outcomes.sort(key=lambda o: order[o.arm])
    return AblationResult(out, outcomes, write_report(out))


def _arm_main(argv: list[str] | None = None) -> int:
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
    fn(cfg, args.run_dir, resume=args.resume, **extra)
    return 0


# ---------------------------------------------------------------------------
# The report: CSV, markdown, plots
# ---------------------------------------------------------------------------

ID_COLUMNS = ["arm", "group", "gate", "fp", "fn", "temperature", "seed"]
ID_KEYS = ("gate.kind", "gate.fp", "gate.fn", "sampling.temperature", "seed")  # the config keys behind them
METRIC_COLUMNS = [
    "heldout_pass@1", "heldout_greedy_pass@1", "heldout_pass@k", "heldout_k", "heldout_n", "heldout_theorems",
    "entropy", "unique_proofs_per_theorem", "distinct_1", "distinct_2",
    "admitted", "contamination", "false_admitted", "lockin_false_theorems", "lockin_false_theorems_still_produced",
    "lockin_reproduce_prob", "lockin_reproduce_rate", "forgotten", "gained",
    "pool_attempts", "pool_verified", "pool_theorems_proved", "pool_gate_admitted",
    "tokens_sampled", "proofs_checked", "proofs_verified", "verify_per_s",
    "seconds", "seconds_sample", "seconds_verify", "seconds_train", "seconds_eval",
]
FINAL_TABLE = ["heldout_pass@1", "heldout_greedy_pass@1", "heldout_pass@k", "entropy", "unique_proofs_per_theorem",
               "distinct_2", "contamination", "false_admitted", "lockin_false_theorems_still_produced",
               "lockin_reproduce_prob", "forgotten", "admitted", "seconds"]
PER_ROUND_TABLES = ["heldout_pass@1", "heldout_greedy_pass@1", "heldout_pass@k", "entropy",
                    "unique_proofs_per_theorem", "contamination", "lockin_reproduce_prob"]
PLOTS = [("heldout_pass@1", "held-out pass@1 (sampled)", "pass_at_1.png"),
         ("entropy", "policy entropy (nats/token, probe set)", "entropy.png"),
         ("unique_proofs_per_theorem", "unique held-out proofs per theorem", "unique_proofs.png"),
         ("contamination", "contamination (share of SFT set the judge rejects)", "contamination.png")]


def flatten_round(r: dict) -> dict[str, Any]:
    """One summary.json round -> the CSV's metric columns (absent fields become None)."""
    h = r.get("heldout") or {}
    pool, lock = r.get("pool") or {}, r.get("lockin") or {}
    forget, cost = r.get("forgetting") or {}, r.get("cost") or {}
    secs = cost.get("seconds") or {}
    row = {
        "heldout_pass@1": h.get("pass@1"), "heldout_greedy_pass@1": h.get("greedy_pass@1"),
        "heldout_pass@k": h.get("pass@k"), "heldout_k": h.get("k"), "heldout_n": h.get("n"),
        "heldout_theorems": h.get("theorems"), "entropy": h.get("entropy"),
        "unique_proofs_per_theorem": h.get("unique_proofs_per_theorem"),
        "distinct_1": h.get("distinct_1"), "distinct_2": h.get("distinct_2"),
        "admitted": r.get("admitted"), "contamination": r.get("contamination"),
        "false_admitted": lock.get("false_admitted"), "lockin_false_theorems": lock.get("false_theorems"),
        "lockin_false_theorems_still_produced": lock.get("false_theorems_still_produced"),
        "lockin_reproduce_prob": lock.get("reproduce_prob"), "lockin_reproduce_rate": lock.get("reproduce_rate"),
        "forgotten": forget.get("lost"), "gained": forget.get("gained"),
        "pool_attempts": pool.get("attempts"), "pool_verified": pool.get("verified"),
        "pool_theorems_proved": pool.get("theorems_proved"), "pool_gate_admitted": pool.get("gate_admitted"),
        "tokens_sampled": cost.get("tokens_sampled"), "proofs_checked": cost.get("proofs_checked"),
        "proofs_verified": cost.get("proofs_verified"),
        "verify_per_s": cost.get("verify_per_s"), "seconds": r.get("seconds"),
    }
    for stage in ("sample", "verify", "train", "eval"):
        row[f"seconds_{stage}"] = secs.get(stage)
    for k, v in sorted((h.get("pass@k_curve") or {}).items(), key=lambda kv: int(kv[0])):
        row[f"heldout_curve@{k}"] = v
    return row


def collect_rows(out: Path) -> tuple[dict, list[dict], list[str]]:
    """(arms.json index, one row per run × round, arms without a summary)."""
    index = json.loads((out / "arms.json").read_text())
    rows, missing = [], []
    for arm in index["arms"]:
        cfg = load_config(out / "arms" / f"{arm['name']}.yaml")
        path = out / "runs" / arm["name"] / "summary.json"
        if not path.is_file():
            missing.append(arm["name"])
            continue
        summary = json.loads(path.read_text())
        ids = {"arm": arm["name"], "group": arm["group"], "gate": cfg.gate.kind, "fp": cfg.gate.fp,
               "fn": cfg.gate.fn, "temperature": cfg.sampling.temperature, "seed": cfg.seed}
        resolved = flatten(cfg.model_dump(mode="json"))
        extra = {k: resolved.get(k) for k in index["keys"] if k not in ID_KEYS}
        for r in sorted(summary.get("rounds", []), key=lambda r: r["round"]):
            rows.append({**ids, **extra, "round": r["round"], **flatten_round(r)})
    return index, rows, missing


def _mean_std(xs: list[float]) -> tuple[float, float | None]:
    return statistics.fmean(xs), (statistics.stdev(xs) if len(xs) > 1 else None)


def _cell(xs: list[float]) -> str:
    """mean ± std with decimals that suit the mean's size (0.412, 12.5, 312)."""
    if not xs:
        return "–"
    m, s = _mean_std(xs)
    a = abs(m)
    d = 0 if a >= 100 else 1 if a >= 10 else 3
    return f"{m:.{d}f}" if s is None else f"{m:.{d}f} ± {s:.{d}f}"


def _values(rows: list[dict], group: str, metric: str, rnd: int) -> list[float]:
    return [float(r[metric]) for r in rows
            if r["group"] == group and r["round"] == rnd and r.get(metric) is not None]


def _last_round(rows: list[dict], group: str, metric: str) -> int | None:
    rounds = [r["round"] for r in rows if r["group"] == group and r.get(metric) is not None]
    return max(rounds) if rounds else None


def write_report(out_dir: str | Path) -> dict[str, Path]:
    """(Re)build ablation.csv, ablation.md and the plots from the runs in ``out_dir``."""
    out = Path(out_dir)
    index, rows, missing = collect_rows(out)
    extra_cols = [k for k in index["keys"] if k not in ID_KEYS]
    curve_cols = sorted({c for r in rows for c in r if c.startswith("heldout_curve@")},
                        key=lambda c: int(c.split("@")[1]))
    columns = ID_COLUMNS + extra_cols + ["round"] + METRIC_COLUMNS + curve_cols
    paths = {"csv": out / "ablation.csv", "md": out / "ablation.md"}
    with paths["csv"].open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
        w.writeheader()
        for r in sorted(rows, key=lambda r: (r["arm"], r["round"])):
            w.writerow({c: ("" if r.get(c) is None else r[c]) for c in columns})
    groups = list(dict.fromkeys(a["group"] for a in index["arms"]))
    for metric, title, fname in PLOTS:
        paths[fname] = out / fname
        _plot(rows, groups, metric, title, paths[fname])
    paths["md"].write_text(_markdown(index, rows, groups, missing))
    return paths


def _markdown(index: dict, rows: list[dict], groups: list[str], missing: list[str]) -> str:
    seeds = {g: sorted({r["seed"] for r in rows if r["group"] == g}) for g in groups}
    rounds = sorted({r["round"] for r in rows})
    lines = [f"# Ablation `{index['name']}`", "",
             f"{len(index['arms'])} runs in {len(groups)} arms; rounds {rounds[0] if rounds else '-'}"
             f"..{rounds[-1] if rounds else '-'}. Every metric is measured by the judge on the frozen "
             "held-out set (or, for contamination and lock-in, on the training set). A cell is the mean "
             "± sample standard deviation over the arm's seeds (a single value when only one seed has it).", ""]
    if missing:
        lines += [f"**Runs without a summary (not finished or failed):** {', '.join(missing)}", ""]
    lines += ["## Final round", "",
              "Held-out metrics are those of the last round evaluated. Training-side metrics (contamination, "
              "admitted, ...) exist only for rounds that train, so their column shows the last round that has them.",
              ""]
    header = ["arm", "seeds"] + FINAL_TABLE
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for g in groups:
        cells = [g, ",".join(map(str, seeds[g])) or "–"]
        for metric in FINAL_TABLE:
            last = _last_round(rows, g, metric)
            cells.append("–" if last is None else _cell(_values(rows, g, metric, last)))
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "## Per round", ""]
    for metric in PER_ROUND_TABLES:
        lines += [f"### {metric}", "", "| arm | " + " | ".join(f"round {r}" for r in rounds) + " |",
                  "|---|" + "---|" * len(rounds)]
        for g in groups:
            lines.append(f"| {g} | " + " | ".join(_cell(_values(rows, g, metric, r)) for r in rounds) + " |")
        lines.append("")
    lines += ["## Plots", ""] + [f"![{title}]({fname})" for _, title, fname in PLOTS] + [""]
    lines += ["Columns are named as in `ablation.csv` (one row per run × round). `lockin_reproduce_prob` is the "
              "policy's probability of writing a wrongly admitted proof again; `false_admitted` counts the distinct "
              "judge-rejected proofs admitted so far; `forgotten` counts held-out theorems solved in the previous "
              "round and not in this one.", ""]
    return "\n".join(lines)


def _plot(rows: list[dict], groups: list[str], metric: str, title: str, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2))
    drawn = False
    for i, g in enumerate(groups):
        color = f"C{i % 10}"
        pts = [(r, _mean_std(xs)) for r in sorted({x["round"] for x in rows})
               if (xs := _values(rows, g, metric, r))]
        if not pts:
            continue
        xs = [r for r, _ in pts]
        means = [m for _, (m, _) in pts]
        stds = [s or 0.0 for _, (_, s) in pts]
        ax.plot(xs, means, marker="o", color=color, label=g)
        ax.fill_between(xs, [m - s for m, s in zip(means, stds)], [m + s for m, s in zip(means, stds)],
                        color=color, alpha=0.15, linewidth=0)
        if metric == "heldout_pass@1":
            # the ceiling a sound verifier should approach: round 0's pass@k, for the same arm
            ceiling = _values(rows, g, "heldout_pass@k", 0)
            if ceiling:
                ax.axhline(statistics.fmean(ceiling), color=color, linestyle=":", linewidth=1)
        drawn = True
    if not drawn:
        ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel("round")
    ax.set_ylabel(metric)
    ax.set_title(title + (" (dotted: round-0 pass@k)" if metric == "heldout_pass@1" else ""), fontsize=10)
    ax.xaxis.get_major_locator().set_params(integer=True)
    if drawn:
        ax.legend(fontsize=7, loc="best")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(_arm_main())
