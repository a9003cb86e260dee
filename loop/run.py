"""One experiment, round by round. Read this file top to bottom: it is the round.

    round r:  policy_r ─sample K/theorem─► attempts ─gate─► admitted? ─┐
                                           attempts ─judge─► verified? ├─► run store
              admitted ─select─► SFT set ─LoRA─► policy_{r+1}          │
              policy_r ─sample n on held-out─► judge ─► pass@1, pass@k ┘

Round 0 evaluates the base model. With ``rounds = R`` the run evaluates R+1
policies and trains R adapters. Every stage writes its rows to the SQLite store
in committed batches and marks itself finished there, so a run killed at any
point continues with ``resume=True``: finished stages are skipped, a
half-finished stage redoes only the batches it had not committed, and the
UNIQUE key of ``attempts`` makes duplicates impossible.
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Callable

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from loop import metrics
from loop.config import RunConfig, dump_config, load_config
from loop.cputime import cpu_seconds
from loop.gates import make_gate
from loop.select import normalize, select_admitted
from loop.store import Attempt, Store
from prover.verdict import ProofTask, Status, Verdict

CHUNK_THEOREMS = 48  # theorems sampled, verified and committed together; the unit a kill can lose
LIBRARIES = ("torch", "transformers", "peft", "tokenizers", "accelerate", "pydantic", "numpy")
ROOT = Path(__file__).resolve().parent.parent
# Address-space limit per prover process when the config leaves it empty: coqtop with the Arith/Lia/ZArith
# header stays well under 1 GB; a core-Lean REPL needs several GB of address space.
DEFAULT_MEMORY_MB = {"coq": 2048, "lean": 8192}


class RunDirError(RuntimeError):
    """The run directory cannot be used as asked (exists without --resume, or is not a run)."""


# ---------------------------------------------------------------------------
# Provenance
# ---------------------------------------------------------------------------

def git_hash() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    if head.returncode != 0:
        return "unknown"
    return head.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")


def library_versions() -> dict[str, str]:
    out = {}
    for name in LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "absent"
    return out


def config_hash(cfg: RunConfig) -> str:
    return hashlib.sha256(dump_config(cfg).encode()).hexdigest()[:16]


def _write_json_atomic(path: Path, data) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")
    os.replace(tmp, path)


# ---------------------------------------------------------------------------
# The experiment
# ---------------------------------------------------------------------------

@dataclass
class Ctx:
    """What every stage of a run needs; built once by ``run_experiment``."""
    cfg: RunConfig
    out: Path
    store: Store
    verifier: object
    backend: str
    theorems: dict  # id -> Theorem
    pools: dict  # pool name -> list of theorem ids (sorted)
    base_path: Path | None  # set once the base model is resolved or bootstrapped
    console: Console
    progress: bool
    verdict_cache: dict = field(default_factory=dict)  # (theorem_id, normalized proof) -> Verdict
    proofs_verified: int = 0  # prover calls made by this process (cache hits excluded)


def prepare_run_dir(cfg: RunConfig, out: Path, resume: bool) -> RunConfig:
    """Create ``out`` or reopen it for resume; returns the config the run uses."""
    cfg_path = out / "config.yaml"
    if cfg_path.exists():
        if not resume:
            raise RunDirError(f"{out} already holds a run; pass --resume to continue it or choose another --out")
        stored = load_config(cfg_path)
        if dump_config(stored) != dump_config(cfg):
            raise RunDirError(f"{out}/config.yaml differs from the config given; resume with the same config "
                              f"(or `ratchet run {cfg_path} --out {out} --resume`)")
        return stored
    if out.exists() and any(out.iterdir()) and not resume:
        raise RunDirError(f"{out} exists and is not empty; choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    cfg_path.write_text(dump_config(cfg))
    return cfg


def write_manifest(ctx: Ctx, finished: bool, new_session: bool = True) -> None:
    path = ctx.out / "manifest.json"
    old = json.loads(path.read_text()) if path.exists() else {}
    now = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    manifest = {
        "ratchet_version": metadata.version("ratchet") if _installed("ratchet") else "source",
        "git_hash": git_hash(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "libraries": library_versions(),
        "backend": ctx.backend,
        "backend_version": ctx.verifier.version(),
        "seed": ctx.cfg.seed,
        "config_hash": config_hash(ctx.cfg),
        "base_model": str(ctx.base_path) if ctx.base_path else None,
        "argv": sys.argv,
        "started_at": old.get("started_at", now),
        "sessions": old.get("sessions", []) + ([now] if new_session and not finished else []),
        "finished_at": now if finished else None,
    }
    _write_json_atomic(path, manifest)


def _installed(name: str) -> bool:
    try:
        metadata.version(name)
        return True
    except metadata.PackageNotFoundError:
        return False


def run_experiment(cfg: RunConfig, out_dir: str | Path, resume: bool = False, progress: bool = True,
                   console: Console | None = None) -> dict:
    """Run (or resume) a whole experiment; returns the summary also written to ``out_dir/summary.json``."""
    from prover.backends import make_verifier, resolve_backend

    out = Path(out_dir)
    cfg = prepare_run_dir(cfg, out, resume)
    console = console or Console(stderr=True)
    backend = resolve_backend(cfg.backend)
    v, ex = cfg.verifier, cfg.execution
    pool = dict(workers=v.workers, timeout_s=v.timeout_s, memory_mb=v.memory_mb or DEFAULT_MEMORY_MB[backend],
                recycle_after=v.recycle_after)
    if ex.kind == "ray":  # the same verdicts, from actors that each own such a pool (prover.distributed)
        from prover.distributed import make_verifier as make_ray_verifier
        verifier = make_ray_verifier(backend, address=ex.address, actors=ex.actors, actor_cpus=ex.actor_cpus, **pool)
    else:
        verifier = make_verifier(backend, **pool)
    store = Store(out / "run.db")
    try:
        theorems, pools = build_theorem_pools(cfg)
        store.add_theorems(theorem_rows(theorems, pools, backend))
        store.set_meta("backend", backend)
        store.set_meta("backend_version", verifier.version())
        console.print(f"[bold]ratchet[/] run {cfg.name!r} → {out}  backend={backend} ({verifier.version()})  "
                      f"theorems: " + ", ".join(f"{k}={len(v)}" for k, v in pools.items()))
        ctx = Ctx(cfg, out, store, verifier, backend, theorems, pools, None, console, progress)
        write_manifest(ctx, finished=False)  # before the bootstrap, so started_at is the real start
        ctx.base_path = base_model(cfg, theorems, pools, backend, console, progress)
        write_manifest(ctx, finished=False, new_session=False)
        _seed_verdict_cache(ctx)
        for r in range(cfg.rounds + 1):
            run_round(ctx, r)
        write_manifest(ctx, finished=True)
        return write_summary(ctx)
    finally:
        verifier.close()
        store.close()


# ---------------------------------------------------------------------------
# Theorems and the base model
# ---------------------------------------------------------------------------

def build_theorem_pools(cfg: RunConfig) -> tuple[dict, dict[str, list[str]]]:
    from prover.theorems import canary_theorems, generate_theorems, split_pools

    t = cfg.theorems
    all_thms = generate_theorems(t.families, t.per_family, t.generator_seed)
    split = split_pools(all_thms, t.warmstart_fraction, t.heldout_fraction)
    pools = {name: sorted(th.id for th in split[name]) for name in ("warmstart", "train", "heldout")}
    theorems = {th.id: th for th in all_thms}
    if cfg.canaries.n:
        canaries = canary_theorems(cfg.canaries.n)
        theorems.update({th.id: th for th in canaries})
        pools["canary"] = sorted(th.id for th in canaries)
    return theorems, pools


def theorem_rows(theorems: dict, pools: dict[str, list[str]], backend: str):
    for pool, ids in pools.items():
        for tid in ids:
            th = theorems[tid]
            yield {"id": tid, "family": th.family, "difficulty": th.difficulty, "pool": pool, "name": th.name,
                   "statement": th.statement(backend), "statement_coq": th.statement("coq"),
                   "statement_lean": th.statement("lean")}


def base_model(cfg: RunConfig, theorems: dict, pools: dict, backend: str, console: Console, progress: bool) -> Path:
    """A local HF checkpoint, or the tiny bootstrap model trained on the warm-start pool (cached).

    The tokenizer is trained on warm-start and training-pool statements (never the held-out set) and the
    warm-start proofs; the model is fully fine-tuned on warm-start (statement, reference proof) pairs in the
    run's backend.
    """
    from prover.model import bootstrap_base_model, resolve_device

    if cfg.model.name_or_path:
        path = Path(cfg.model.name_or_path)
        if not path.is_dir():
            raise FileNotFoundError(f"model.name_or_path: {path} is not a local model directory")
        return path
    corpus = [theorems[t].statement(backend) for pool in ("warmstart", "train") for t in pools[pool]]
    warm = []
    for tid in pools["warmstart"]:
        th = theorems[tid]
        proofs = th.reference_proofs(backend)[: cfg.model.bootstrap.samples_per_theorem]
        corpus.extend(proofs)
        warm.extend((th.statement(backend), p) for p in proofs)
    cache = Path(cfg.model.cache_dir)
    cache = cache if cache.is_absolute() else ROOT / cache
    console.print(f"base model: tiny Llama fine-tuned on {len(warm)} warm-start pairs (cached in {cache})")
    return bootstrap_base_model(cfg.model.bootstrap, corpus, warm, cache_dir=cache, seed=cfg.seed,
                                device=resolve_device(cfg.model.device), progress=progress)


# ---------------------------------------------------------------------------
# One round
# ---------------------------------------------------------------------------

def checkpoint_id(r: int) -> str:
    return "base" if r == 0 else f"round-{r}"


def adapter_dir(ctx: Ctx, r: int) -> Path:
    """The adapter trained at the end of round r (used by policy r+1)."""
    return ctx.out / "rounds" / f"round-{r}" / "adapter"


def run_round(ctx: Ctx, r: int) -> None:
    cfg = ctx.cfg
    if ctx.store.stage_done(r, "summary"):
        return
    t0 = time.time()
    timings = dict(ctx.store.stage_info(r, "timings"))
    policy = None

    def get_policy():
        nonlocal policy
        if policy is None:
            from prover.model import load_policy, resolve_device
            device = resolve_device(cfg.model.device)
            adapter = adapter_dir(ctx, r - 1) if r > 0 else None
            policy = load_policy(ctx.base_path, adapter, device, cfg.model.dtype)
        return policy

    ctx.console.rule(f"round {r}  ({checkpoint_id(r)})")
    # 1. Held-out evaluation by the judge: greedy pass@1, then n samples for pass@1 / pass@k.
    if not ctx.store.stage_done(r, "eval"):
        if cfg.eval.greedy:
            sample_and_verify(ctx, r, "greedy", ctx.pools["heldout"], get_policy(), n=1, greedy=True,
                              timings=timings, sample_key="eval")
        sample_and_verify(ctx, r, "eval", ctx.pools["heldout"], get_policy(), n=cfg.eval.n, greedy=False,
                          timings=timings, sample_key="eval")
        ctx.store.mark_stage(r, "timings", timings)
        ctx.store.mark_stage(r, "eval")
    # 2. Policy entropy on the fixed probe set (cheap; recomputed on resume rather than stored).
    if not ctx.store.stage_done(r, "entropy"):
        from prover.sampling import policy_entropy
        probe = ctx.pools["heldout"][: cfg.eval.probe_size]
        model, tok = get_policy()
        ent = policy_entropy(model, tok, [prompt_of(ctx, t) for t in probe], cfg.sampling.max_new_tokens)
        ctx.store.mark_stage(r, "entropy", {"entropy": ent})
    if r < cfg.rounds:
        # 3. Sample the training pool; judge every proof and let the gate decide admission.
        if not ctx.store.stage_done(r, "sample"):
            pool = ctx.pools["train"] + ctx.pools.get("canary", [])
            sample_and_verify(ctx, r, "train", pool, get_policy(), n=cfg.sampling.k, greedy=False,
                              timings=timings, sample_key="sample")
            ctx.store.mark_stage(r, "timings", timings)
            ctx.store.mark_stage(r, "sample")
        # 4. Select the SFT set: final proof text only, gate-admitted, deduplicated, capped.
        if not ctx.store.stage_done(r, "select"):
            rows = select_admitted(ctx.store, r, cfg.select, warmstart=warmstart_examples(ctx), seed=cfg.seed)
            ctx.store.set_admitted(r, [(x.theorem_id, x.proof, x.attempt_id) for x in rows])
            write_sft(ctx, r)
            ctx.store.mark_stage(r, "select", {"admitted": len(rows)})
        # 5. LoRA fine-tune on the SFT set: policy_{r+1}.
        if not ctx.store.stage_done(r, "train"):
            from prover.lora import train_lora
            from prover.model import resolve_device
            s, cpu = time.time(), cpu_seconds()
            examples = [(ctx.theorems[row["theorem_id"]].statement(ctx.backend), row["proof"])
                        for row in ctx.store.admitted(r)]
            init = adapter_dir(ctx, r - 1) if (cfg.lora.init == "continue" and r > 0) else None
            ctx.console.print(f"training LoRA on {len(examples)} admitted proofs")
            stats = train_lora(ctx.base_path, examples, cfg.lora, adapter_dir(ctx, r), seed=cfg.seed + r,
                               device=resolve_device(cfg.model.device), init_adapter=init, progress=ctx.progress)
            timings["train"] = timings.get("train", 0.0) + time.time() - s
            timings["cpu_train"] = timings.get("cpu_train", 0.0) + cpu_seconds() - cpu
            ctx.store.mark_stage(r, "timings", timings)
            ctx.store.mark_stage(r, "train", stats)
    summary = round_summary(ctx, r, timings, time.time() - t0, get_policy if r > 0 else None)
    ctx.store.set_round_summary(r, summary)
    ctx.store.mark_stage(r, "summary")
    write_summary(ctx)
    print_round_table(ctx)


def prompt_of(ctx: Ctx, theorem_id: str) -> str:
    from prover.model import format_prompt
    return format_prompt(ctx.theorems[theorem_id].statement(ctx.backend))


def warmstart_examples(ctx: Ctx) -> list[tuple[str, str]]:
    """(theorem_id, proof) pairs of the warm-start pool, used by the `mix` selection policy."""
    return [(tid, ctx.theorems[tid].reference_proofs(ctx.backend)[0]) for tid in ctx.pools["warmstart"]]


def write_sft(ctx: Ctx, r: int) -> None:
    d = ctx.out / "rounds" / f"round-{r}"
    d.mkdir(parents=True, exist_ok=True)
    tmp = d / "sft.jsonl.tmp"
    with tmp.open("w") as f:
        for row in ctx.store.admitted(r):
            f.write(json.dumps({"theorem_id": row["theorem_id"], "proof": row["proof"],
                                "attempt_id": row["attempt_id"]}) + "\n")
    os.replace(tmp, d / "sft.jsonl")


# ---------------------------------------------------------------------------
# Sampling and verification, in committed chunks
# ---------------------------------------------------------------------------

def _seed_verdict_cache(ctx: Ctx) -> None:
    """Judge verdicts already in the store are reused: the same proof of the same theorem is checked once."""
    for row in ctx.store.db.execute("SELECT theorem_id, proof, judge, judge_reason, seconds FROM attempts "
                                    "WHERE judge IN ('verified','rejected','timeout')"):
        key = (row["theorem_id"], normalize(row["proof"]))
        ctx.verdict_cache[key] = Verdict(Status(row["judge"]), row["judge_reason"], (), row["seconds"])


def judge(ctx: Ctx, items: list[tuple[str, str]], on_done: Callable[[int], None] | None = None) -> list[Verdict]:
    """Ground-truth verdicts for (theorem_id, proof) pairs; duplicates and repeats are verified once.

    Infra errors are retried once; if they persist they are recorded as ``error`` (never as a failed proof).
    """
    keys = [(tid, normalize(p)) for tid, p in items]
    todo: dict[tuple[str, str], str] = {}
    for (tid, p), key in zip(items, keys):
        if key not in ctx.verdict_cache and key not in todo:
            todo[key] = p
    for attempt in range(2):
        pending = [k for k in todo if k not in ctx.verdict_cache]
        if not pending:
            break
        tasks = [ProofTask(id=f"{k[0]}#{i}", statement=ctx.theorems[k[0]].statement(ctx.backend),
                           proof=todo[k], name=ctx.theorems[k[0]].name) for i, k in enumerate(pending)]
        verdicts = ctx.verifier.verify(tasks, progress=on_done if attempt == 0 else None)
        ctx.proofs_verified += len(tasks)
        for k, v in zip(pending, verdicts):
            if v.status is not Status.ERROR or attempt == 1:
                ctx.verdict_cache[k] = v
    return [ctx.verdict_cache[k] for k in keys]


def sample_and_verify(ctx: Ctx, r: int, phase: str, theorem_ids: list[str], policy, n: int, greedy: bool,
                      timings: dict, sample_key: str) -> None:
    """Sample n proofs for each theorem, judge (and gate) them, store each chunk in one transaction.

    Adds generation seconds to ``timings[sample_key]``, verification seconds to ``timings["verify"]`` and
    prover calls to ``timings["proofs_verified"]``.
    """
    from prover.sampling import sample_proofs

    cfg = ctx.cfg
    done = ctx.store.done_theorems(r, phase)
    chunks = [theorem_ids[i:i + CHUNK_THEOREMS] for i in range(0, len(theorem_ids), CHUNK_THEOREMS)]
    todo = [c for c in chunks if not set(c) <= done]
    if not todo:
        return
    gate = make_gate(cfg.gate, ctx.backend, cfg.seed) if phase == "train" else None
    model, tok = policy
    from loop.ray_sampling import sampler_for  # GPU actors on a Ray cluster with GPUs; None = sample here
    gpu = sampler_for(cfg, ctx.out, ctx.base_path, adapter_dir(ctx, r - 1) if r > 0 else None, r)
    total = sum(len(c) for c in todo) * n
    with _progress(ctx) as bar:
        s_task = bar.add_task(f"r{r} {phase}: sample", total=total)
        v_task = bar.add_task(f"r{r} {phase}: verify", total=total)
        for ci, chunk in enumerate(chunks):
            if set(chunk) <= done:
                continue
            chunk_seed = _seed(cfg.seed, r, phase, ci)
            t0, c0 = time.time(), cpu_seconds()
            knobs = dict(temperature=cfg.sampling.temperature, top_p=cfg.sampling.top_p, top_k=cfg.sampling.top_k,
                         max_new_tokens=cfg.sampling.max_new_tokens, batch_size=cfg.sampling.batch_size,
                         seed=chunk_seed, greedy=greedy)
            prompts = [prompt_of(ctx, t) for t in chunk]
            samples = (gpu.sample(prompts, n, **knobs) if gpu is not None
                       else sample_proofs(model, tok, prompts, n, progress=False, **knobs))
            t1, c1 = time.time(), cpu_seconds()
            bar.advance(s_task, len(chunk) * n)
            items = [(tid, s.text) for tid, ss in zip(chunk, samples) for s in ss]
            calls_before = ctx.proofs_verified
            verdicts = judge(ctx, items, on_done=lambda k: bar.advance(v_task, k))
            calls = ctx.proofs_verified - calls_before
            bar.advance(v_task, len(items) - calls)  # cache hits never reach the verifier's progress callback
            timings[sample_key] = timings.get(sample_key, 0.0) + t1 - t0
            timings["verify"] = timings.get("verify", 0.0) + time.time() - t1
            timings["cpu_" + sample_key] = timings.get("cpu_" + sample_key, 0.0) + c1 - c0
            timings["cpu_verify"] = timings.get("cpu_verify", 0.0) + cpu_seconds() - c1
            timings["proofs_verified"] = timings.get("proofs_verified", 0) + calls
            rows, i = [], 0
            for tid, ss in zip(chunk, samples):
                for j, s in enumerate(ss):
                    v = verdicts[i]
                    g = gate.decide(tid, r, j, s.text, v) if gate else None
                    rows.append(Attempt(round=r, phase=phase, theorem_id=tid, sample_idx=j, proof=s.text,
                                        judge=v.status.value, judge_reason=v.reason,
                                        gate=g.status.value if g else None, gate_reason=g.reason if g else None,
                                        seconds=v.seconds, tokens=s.tokens, checkpoint=checkpoint_id(r)))
                    i += 1
            ctx.store.add_attempts(rows)  # one transaction: the chunk is stored whole or not at all


def _seed(*parts) -> int:
    return int.from_bytes(hashlib.sha256(repr(parts).encode()).digest()[:4], "little")


def _progress(ctx: Ctx) -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    TimeRemainingColumn(), console=ctx.console, disable=not ctx.progress, transient=True)


# ---------------------------------------------------------------------------
# Summaries
# ---------------------------------------------------------------------------

def round_summary(ctx: Ctx, r: int, timings: dict, seconds: float, get_policy) -> dict:
    cfg = ctx.cfg
    store = ctx.store
    heldout = metrics.heldout_metrics(store, r, k=cfg.eval.k)
    heldout["entropy"] = store.stage_info(r, "entropy").get("entropy")
    summary = {"round": r, "checkpoint": checkpoint_id(r), "heldout": heldout}
    if r < cfg.rounds:
        summary["pool"] = metrics.pool_stats(store, r)
        summary["admitted"] = store.stage_info(r, "select").get("admitted", 0)
        summary["contamination"] = metrics.contamination(store, r)
        summary["train"] = store.stage_info(r, "train")
    logprob_fn = None
    if get_policy is not None:
        from prover.sampling import sequence_logprob

        def logprob_fn(theorem_ids: list[str], proofs: list[str]) -> list[float]:
            model, tok = get_policy()
            return sequence_logprob(model, tok, [prompt_of(ctx, t) for t in theorem_ids], proofs)
    summary["lockin"] = metrics.lockin(store, r, logprob_fn=logprob_fn)
    summary["forgetting"] = metrics.forgetting(store, r)
    tokens, checked = store.db.execute("SELECT COALESCE(SUM(tokens),0), COUNT(*) FROM attempts WHERE round=?",
                                       (r,)).fetchone()
    calls, vsec = timings.get("proofs_verified", 0), timings.get("verify", 0.0)
    summary["cost"] = {"seconds": {k: round(timings.get(k, 0.0), 2) for k in ("sample", "verify", "train", "eval")},
                       # CPU seconds of this process and its descendants in each stage (loop.cputime)
                       "cpu_seconds": {k: round(timings.get("cpu_" + k, 0.0), 2)
                                       for k in ("sample", "verify", "train", "eval")},
                       "tokens_sampled": tokens, "proofs_checked": checked, "proofs_verified": calls,
                       "verify_per_s": round(calls / vsec, 2) if vsec > 0 else None}
    summary["seconds"] = round(seconds, 2)
    return summary


def write_summary(ctx: Ctx) -> dict:
    summary = {"name": ctx.cfg.name, "backend": ctx.backend, "backend_version": ctx.verifier.version(),
               "seed": ctx.cfg.seed, "config_hash": config_hash(ctx.cfg),
               "gate": ctx.cfg.gate.model_dump(), "rounds": ctx.store.round_summaries()}
    _write_json_atomic(ctx.out / "summary.json", summary)
    return summary


def print_round_table(ctx: Ctx) -> None:
    table = Table(title=f"{ctx.cfg.name}: held-out ({len(ctx.pools['heldout'])} theorems, judge={ctx.backend})")
    for col in ("round", "greedy pass@1", "pass@1", f"pass@{ctx.cfg.eval.k}", "entropy", "pool verified",
                "proved", "admitted", "contam.", "seconds"):
        table.add_column(col, justify="right")
    for s in ctx.store.round_summaries():
        h, p = s["heldout"], s.get("pool", {})
        table.add_row(str(s["round"]), _f(h.get("greedy_pass@1")), _f(h.get("pass@1")), _f(h.get("pass@k")),
                      _f(h.get("entropy")), str(p.get("verified", "-")), str(p.get("theorems_proved", "-")),
                      str(s.get("admitted", "-")), _f(s.get("contamination")), f"{s['seconds']:.0f}")
    ctx.console.print(table)


def _f(x) -> str:
    return "-" if x is None else f"{x:.3f}"
