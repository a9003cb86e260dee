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

from loop import metrics
from loop.config import ConfigError, RunConfig, dump_config, load_config
from loop.cputime import cpu_seconds
from loop.gates import make_gate
from loop.largek import expand, plan_chunks, plan_verification
from loop.selection import normalize, select_admitted
from loop.store import Attempt, Phase, Stage, Store
from loop.summary import (Cost, Forgetting, Heldout, Lockin, PoolStats, RoundSummary, RunSummary, StageSeconds,
                          TrainStats, VsBase, load_rounds)
from prover.proposer import DEFAULT_TACTICS, FixedProposer, HFProposer, Proposer
from prover.records import library_versions, write_json_atomic
from prover.verdict import ProofTask, Status, Verdict

CHUNK_THEOREMS = 48  # theorems sampled, verified and committed together; the unit a kill can lose
LIBRARIES = ("torch", "transformers", "peft", "tokenizers", "accelerate", "pydantic", "numpy")
ROOT = Path(__file__).resolve().parent.parent


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


def config_hash(cfg: RunConfig) -> str:
    """A digest of what the run computes: the config without ``execution`` (where it computes)."""
    from loop.execution import ExecutionConfig

    return hashlib.sha256(dump_config(cfg.model_copy(update={"execution": ExecutionConfig()})).encode()).hexdigest()[:16]


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
    prompter: object = None  # prover.prompting.Prompter: the run's prompt format and the base tokenizer
    vllm: object = None  # prover.vllm_engine.VllmProposer, built on first use when sampling.engine is vllm
    tracker: object = None  # loop.tracking: mirrors round summaries and the training loss (report_to)


def prepare_run_dir(cfg: RunConfig, out: Path, resume: bool) -> RunConfig:
    """Create ``out`` or reopen it for resume; returns the config the run uses."""
    cfg_path = out / "config.yaml"
    if cfg_path.exists():
        if not resume:
            raise RunDirError(f"{out} already holds a run; pass --resume to continue it or choose another --out")
        from loop.preflight import resumable_config

        stored = load_config(cfg_path)
        try:
            grown = resumable_config(stored, cfg, cfg_path)  # more rounds is the one change allowed
        except ConfigError as e:
            raise RunDirError(str(e)) from None
        if grown is None:
            return stored
        cfg_path.write_text(dump_config(grown))
        return grown
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
        "libraries": library_versions(LIBRARIES),
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
    write_json_atomic(path, manifest)


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

    from loop.preflight import describe_resume, preflight

    out = Path(out_dir)
    preflight(cfg)  # whatever can fail a start fails here, before the run directory is written
    backend = resolve_backend(cfg.backend)
    loaded = None
    if cfg.theorems.sources is not None:  # read (and fail on a malformed file) before anything is written
        from loop.sources import drop_ill_formed, read_sources, source_verifier
        loaded = read_sources(cfg, backend)
    console = console or Console(stderr=True)
    if resume and (found := describe_resume(out, cfg)):
        console.print(found, markup=False, soft_wrap=True)
    cfg = prepare_run_dir(cfg, out, resume)
    v = cfg.verifier
    ex = cfg.execution
    pool = dict(workers=v.workers, timeout_s=v.timeout_s, memory_mb=v.memory_for(backend),
                recycle_after=v.recycle_after)
    if loaded is None and ex.kind == "ray":  # the same verdicts, from actors that each own such a pool
        from prover.distributed import make_verifier as make_ray_verifier
        verifier = make_ray_verifier(backend, address=ex.address, actors=ex.actors, actor_cpus=ex.actor_cpus, **pool)
    elif loaded is None:
        verifier = make_verifier(backend, **pool)
    else:  # per-header pools and library contexts (prover.coq.contexts); local only for now
        verifier = source_verifier(cfg, backend, loaded, v.memory_for(backend))
    store = Store(out / "run.db")
    ctx = None
    try:
        if loaded is None:
            theorems, pools = build_theorem_pools(cfg)
        else:  # every source statement type-checked once; the ill-formed are reported and left out
            bad = drop_ill_formed(loaded, backend, verifier)
            store.set_meta("ill_formed", bad)
            if bad:
                console.print(f"ill-formed statements left out ({len(bad)}): " + ", ".join(sorted(bad)))
            theorems, pools = loaded.theorems, loaded.pools
        store.add_theorems(theorem_rows(theorems, pools, backend))
        store.set_meta("backend", backend)
        store.set_meta("backend_version", verifier.version())
        console.print(f"[bold]ratchet[/] run {cfg.name!r} → {out}  backend={backend} ({verifier.version()})  "
                      f"theorems: " + ", ".join(f"{k}={len(v)}" for k, v in pools.items()))
        ctx = Ctx(cfg, out, store, verifier, backend, theorems, pools, None, console, progress)
        write_manifest(ctx, finished=False)  # before the bootstrap, so started_at is the real start
        if PROPOSERS[cfg.model.kind].learns:  # a fixed proposer has no base model to build
            ctx.base_path = base_model(cfg, theorems, pools, backend, console, progress)
        ctx.prompter = make_prompter(cfg, ctx.base_path)
        from loop.tracking import make_tracker
        ctx.tracker = make_tracker(cfg.report_to, out, cfg.name, cfg.model_dump(mode="json"), cfg.wandb_mode)
        write_manifest(ctx, finished=False, new_session=False)
        _seed_verdict_cache(ctx)
        for r in range(cfg.rounds + 1):
            run_round(ctx, r)
        write_manifest(ctx, finished=True)
        return write_summary(ctx)
    finally:
        if ctx is not None and ctx.tracker is not None:
            ctx.tracker.close()
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
            if hasattr(th, "language"):  # a source theorem: one language, and where it was stated
                yield th.row(pool, backend)
                continue
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


# What proposes proof bodies, by model.kind. A proposer that does not learn skips the fine-tune stage.
PROPOSERS: dict[str, type] = {"hf": HFProposer, "fixed": FixedProposer}


def make_proposer(ctx: Ctx, r: int) -> Proposer:
    """The proposer of round r: the base model with round r-1's adapter merged, or the fixed tactic list."""
    cfg = ctx.cfg
    if cfg.model.kind == "fixed":
        return FixedProposer(cfg.model.tactics or DEFAULT_TACTICS[ctx.backend])
    from prover.model import load_policy, resolve_device
    adapter = adapter_dir(ctx, r - 1) if r > 0 else None
    model, tokenizer = load_policy(ctx.base_path, adapter, resolve_device(cfg.model.device), cfg.model.dtype)
    return HFProposer(model, tokenizer, cfg.sampling, prompter=ctx.prompter)


def run_round(ctx: Ctx, r: int) -> None:
    cfg = ctx.cfg
    # A finished round is skipped, unless it was the last round of a run since extended with more rounds:
    # then it still has to sample, select and train.
    if ctx.store.stage_done(r, Stage.SUMMARY) and (r == cfg.rounds or ctx.store.stage_done(r, Stage.FINETUNE)):
        return
    t0 = time.time()
    timings = ctx.store.timings(r)
    proposer = None

    def get_proposer() -> Proposer:  # loaded on first use: a resumed round may not need it
        nonlocal proposer
        if proposer is None:
            proposer = make_proposer(ctx, r)
        return proposer

    ctx.console.rule(f"round {r}  ({checkpoint_id(r)})")
    # 1. Held-out evaluation by the judge: greedy pass@1, then n samples for pass@1 / pass@k.
    if not ctx.store.stage_done(r, Stage.EVAL):
        if cfg.eval.greedy:
            sample_and_verify(ctx, r, Phase.GREEDY, ctx.pools["heldout"], get_proposer(), n=1, greedy=True,
                              timings=timings, sample_key="eval")
        sample_and_verify(ctx, r, Phase.EVAL, ctx.pools["heldout"], get_proposer(), n=cfg.eval.n, greedy=False,
                          timings=timings, sample_key="eval")
        ctx.store.mark_stage(r, Stage.EVAL, timings=timings)
    # 2. Policy entropy on the fixed probe set (cheap; recomputed on resume rather than stored).
    if not ctx.store.stage_done(r, Stage.ENTROPY):
        probe = ctx.pools["heldout"][: cfg.eval.probe_size]
        ent = get_proposer().entropy([prompt_of(ctx, t) for t in probe])
        ctx.store.mark_stage(r, Stage.ENTROPY, {"entropy": ent})
    if r < cfg.rounds:
        # 3. Sample the training pool; judge every proof and let the gate decide admission.
        if not ctx.store.stage_done(r, Stage.SAMPLE):
            pool = ctx.pools["train"] + ctx.pools.get("canary", [])
            sample_and_verify(ctx, r, Phase.TRAIN, pool, get_proposer(), n=cfg.sampling.k, greedy=False,
                              timings=timings, sample_key="sample")
            ctx.store.mark_stage(r, Stage.SAMPLE, timings=timings)
        # 4. Select the SFT set: final proof text only, gate-admitted, deduplicated, capped.
        if not ctx.store.stage_done(r, Stage.SELECT):
            rows = select_admitted(ctx.store, r, cfg.select, warmstart=warmstart_examples(ctx), seed=cfg.seed)
            ctx.store.set_admitted(r, [(x.theorem_id, x.proof, x.attempt_id) for x in rows])
            write_sft(ctx, r)
            ctx.store.mark_stage(r, Stage.SELECT, {"admitted": len(rows)})
        # 5. LoRA fine-tune on the SFT set: policy_{r+1}. A proposer that never learns skips it.
        if not ctx.store.stage_done(r, Stage.FINETUNE):
            s, cpu = time.time(), cpu_seconds()
            examples = sft_examples(ctx, r)
            if PROPOSERS[cfg.model.kind].learns:
                from prover.lora import train_lora
                from prover.model import resolve_device
                from prover.prompting import PromptFormat
                init = adapter_dir(ctx, r - 1) if (cfg.lora.init == "continue" and r > 0) else None
                ctx.console.print(f"training LoRA on {len(examples)} admitted proofs")
                stats = train_lora(ctx.base_path, examples, cfg.lora, adapter_dir(ctx, r), seed=cfg.seed + r,
                                   device=resolve_device(cfg.model.device), init_adapter=init,
                                   progress=ctx.progress, prompt_format=PromptFormat.from_config(cfg.model),
                                   on_loss=lambda step, loss: ctx.tracker.log_loss(r, step, loss))
            else:
                ctx.console.print(f"model.kind={cfg.model.kind} never learns: {len(examples)} admitted proofs, "
                                  "no fine-tune")
                stats = {"steps": 0, "examples": len(examples), "init": "none", "trainable_parameters": 0,
                         "skipped": f"model.kind={cfg.model.kind} never learns"}
            timings["train"] = timings.get("train", 0.0) + time.time() - s
            timings["cpu_train"] = timings.get("cpu_train", 0.0) + cpu_seconds() - cpu
            ctx.store.mark_stage(r, Stage.FINETUNE, stats, timings=timings)
    summary = round_summary(ctx, r, timings, time.time() - t0, get_proposer if r > 0 else None)
    ctx.store.set_round_summary(r, summary.to_json())
    ctx.tracker.log_round(r, summary.to_json())
    ctx.store.mark_stage(r, Stage.SUMMARY)
    write_summary(ctx)
    print_round_table(ctx)


def make_prompter(cfg: RunConfig, base_path: Path):
    """The run's prompt format bound to the base model's tokenizer (adapters do not change it)."""
    from transformers import AutoTokenizer

    from prover.model import hf_quiet
    from prover.prompting import PromptFormat, Prompter

    if base_path is None:  # a proposer with no model (model.kind: fixed) has no tokenizer
        return Prompter(PromptFormat.from_config(cfg.model))
    with hf_quiet():
        tok = AutoTokenizer.from_pretrained(base_path, local_files_only=True)
    return Prompter(PromptFormat.from_config(cfg.model), tok)


def prompt_input(ctx: Ctx, theorem_id: str):
    """What the prompt format may show about a theorem (families: the framework's header and declaration)."""
    from prover.prompting import theorem_input
    return theorem_input(ctx.theorems[theorem_id], ctx.backend)


def prompt_of(ctx: Ctx, theorem_id: str) -> str:
    return ctx.prompter.prompt(prompt_input(ctx, theorem_id))


def warmstart_examples(ctx: Ctx) -> list[tuple[str, str]]:
    """(theorem_id, proof) pairs of the warm-start pool, used by the `mix` selection mode."""
    return [(tid, proofs[0]) for tid in ctx.pools["warmstart"]
            if (proofs := ctx.theorems[tid].reference_proofs(ctx.backend))]  # a library lemma may have none


def sft_examples(ctx: Ctx, r: int) -> list[tuple[object, str]]:
    """(prompt input, proof) for the round's fine-tune: each admitted row ``copies`` times."""
    return [(prompt_input(ctx, row["theorem_id"]), row["proof"]) for row in ctx.store.sft_rows(r)]


def write_sft(ctx: Ctx, r: int) -> None:
    d = ctx.out / "rounds" / f"round-{r}"
    d.mkdir(parents=True, exist_ok=True)
    tmp = d / "sft.jsonl.tmp"
    with tmp.open("w") as f:
        for row in ctx.store.sft_rows(r):  # a row admitted `copies` times is written that many times
            f.write(json.dumps({"theorem_id": row["theorem_id"], "proof": row["proof"],
                                "attempt_id": row["attempt_id"]}) + "\n")
    os.replace(tmp, d / "sft.jsonl")


# ---------------------------------------------------------------------------
# Sampling and verification, in committed chunks
# ---------------------------------------------------------------------------

def _seed_verdict_cache(ctx: Ctx) -> None:
    """Judge verdicts already in the store are reused: the same proof of the same theorem is checked once."""
    for row in ctx.store.judged_verdicts():
        key = (row["theorem_id"], normalize(row["proof"]))
        ctx.verdict_cache[key] = Verdict(Status(row["judge"]), row["judge_reason"], (), row["seconds"])


def judge(ctx: Ctx, items: list[tuple[str, str]], on_done: Callable[[int], None] | None = None) -> list[Verdict]:
    """Ground-truth verdicts for (theorem_id, proof) pairs; duplicates and repeats are verified once.

    Infra errors are retried once; if they persist they are recorded as ``error`` (never as a failed proof).
    """
    plan = plan_verification(items, ctx.verdict_cache, key=lambda tid, p: (tid, normalize(p)))
    todo = plan.todo  # distinct proofs the cache does not know, with the text first sampled
    for attempt in range(2):
        pending = [k for k in todo if k not in ctx.verdict_cache]
        if not pending:
            break
        tasks = [_task(ctx, f"{k[0]}#{i}", k[0], todo[k]) for i, k in enumerate(pending)]
        verdicts = ctx.verifier.verify(tasks, progress=on_done if attempt == 0 else None)
        ctx.proofs_verified += len(tasks)
        for k, v in zip(pending, verdicts):
            if v.status is not Status.ERROR or attempt == 1:
                ctx.verdict_cache[k] = v
    return expand(plan, ctx.verdict_cache)


def _task(ctx: Ctx, task_id: str, theorem_id: str, proof: str) -> ProofTask:
    """The verifier's task: a source theorem brings its own header (or context) and Lean signature."""
    th = ctx.theorems[theorem_id]
    if not hasattr(th, "header_for"):
        return ProofTask(id=task_id, statement=th.statement(ctx.backend), proof=proof, name=th.name)
    return ProofTask(id=task_id, statement=th.statement(ctx.backend), proof=proof, name=th.name,
                     header=th.header_for(ctx.backend),
                     meta={"lean_signature": th.lean_signature, "lean_keyword": th.keyword})


def sample_and_verify(ctx: Ctx, r: int, phase: Phase, theorem_ids: list[str], proposer: Proposer, n: int,
                      greedy: bool,
                      timings: dict, sample_key: str) -> None:
    """Sample n proofs for each theorem, judge (and gate) them, store each chunk in one transaction.

    Adds generation seconds to ``timings[sample_key]``, verification seconds to ``timings["verify"]`` and
    prover calls to ``timings["proofs_verified"]``.
    """
    cfg = ctx.cfg
    done = ctx.store.done_theorems(r, phase.value)
    # at most CHUNK_THEOREMS theorems and largek.MAX_SAMPLES_PER_CHUNK samples: today's chunks for n <= 64
    chunks = plan_chunks(theorem_ids, n, chunk_theorems=CHUNK_THEOREMS)
    todo = [c for c in chunks if not set(c) <= done]
    if not todo:
        return
    gate = make_gate(cfg.gate, ctx.backend, cfg.seed) if phase == Phase.TRAIN else None
    from loop.ray_sampling import sampler_for  # GPU actors on a Ray cluster with GPUs; None = sample here
    gpu = sampler_for(cfg, ctx.out, ctx.base_path, adapter_dir(ctx, r - 1) if r > 0 else None, r)
    total = sum(len(c) for c in todo) * n
    with _progress(ctx) as bar:
        s_task = bar.add_task(f"r{r} {phase}: sample", total=total)
        v_task = bar.add_task(f"r{r} {phase}: verify", total=total)
        for ci, chunk in enumerate(chunks):
            if set(chunk) <= done:
                continue
            chunk_seed = _seed(cfg.seed, r, phase.value, ci)  # a plain str: the seed hashes its repr
            t0, c0 = time.time(), cpu_seconds()
            prompts = [prompt_of(ctx, t) for t in chunk]
            if gpu is not None:
                samples = gpu.sample(prompts, n, temperature=cfg.sampling.temperature, top_p=cfg.sampling.top_p,
                                     top_k=cfg.sampling.top_k, max_new_tokens=cfg.sampling.max_new_tokens,
                                     batch_size=cfg.sampling.batch_size, seed=chunk_seed, greedy=greedy)
            elif cfg.sampling.engine == "vllm":
                samples = vllm_samples(ctx, r, prompts, n, greedy, chunk_seed)
            else:
                samples = proposer.sample(prompts, n, seed=chunk_seed, greedy=greedy)
            t1, c1 = time.time(), cpu_seconds()
            bar.advance(s_task, len(chunk) * n)
            # Completion -> proof body (prover.extraction); a refused completion never reaches a prover.
            extracted = [ctx.prompter.extract(prompt_input(ctx, tid), s.raw, prompt)
                         for tid, prompt, ss in zip(chunk, prompts, samples) for s in ss]
            tids = [tid for tid, ss in zip(chunk, samples) for _ in ss]
            items = [(tid, e.body) for tid, e in zip(tids, extracted) if e.body is not None]
            calls_before = ctx.proofs_verified
            checked = iter(judge(ctx, items, on_done=lambda k: bar.advance(v_task, k)))
            verdicts = [next(checked) if e.body is not None else Verdict(Status.REJECTED, f"refused: {e.refused}")
                        for e in extracted]
            calls = ctx.proofs_verified - calls_before
            bar.advance(v_task, len(extracted) - calls)  # cache hits and refusals skip the verifier's callback
            timings[sample_key] = timings.get(sample_key, 0.0) + t1 - t0
            timings["verify"] = timings.get("verify", 0.0) + time.time() - t1
            timings["cpu_" + sample_key] = timings.get("cpu_" + sample_key, 0.0) + c1 - c0
            timings["cpu_verify"] = timings.get("cpu_verify", 0.0) + cpu_seconds() - c1
            timings["proofs_verified"] = timings.get("proofs_verified", 0) + calls
            rows, i = [], 0
            for tid, ss in zip(chunk, samples):
                for j, s in enumerate(ss):
                    v, body = verdicts[i], extracted[i].body
                    # A refused completion has no body for any gate to admit: its gate verdict is the refusal.
                    g = (gate.decide(tid, r, j, body, v) if body is not None else v) if gate else None
                    rows.append(Attempt(round=r, phase=phase.value, theorem_id=tid, sample_idx=j, proof=body or "",
                                        judge=v.status.value, judge_reason=v.reason,
                                        gate=g.status.value if g else None, gate_reason=g.reason if g else None,
                                        seconds=v.seconds, tokens=s.tokens, checkpoint=checkpoint_id(r),
                                        raw=s.raw if s.raw != body else None))
                    i += 1
            ctx.store.add_attempts(rows)  # one transaction: the chunk is stored whole or not at all


def vllm_samples(ctx: Ctx, r: int, prompts: list[str], n: int, greedy: bool, seed: int) -> list:
    """n samples per prompt from vLLM serving policy r (the base model + the adapter trained in round r-1)."""
    from prover.sampling import Sample
    from prover.vllm_engine import VllmProposer

    cfg = ctx.cfg
    if ctx.vllm is None:
        rank = next(k for k in (8, 16, 32, 64, 128, 256, 320, 512, cfg.lora.r) if k >= cfg.lora.r)
        ctx.vllm = VllmProposer(ctx.base_path, tokenizer=ctx.prompter.tokenizer, prompter=ctx.prompter,
                                dtype=cfg.model.dtype, max_lora_rank=rank, top_k=cfg.sampling.top_k,
                                gpu_memory_utilization=cfg.sampling.vllm_gpu_memory, stop=cfg.model.stop)
    ctx.vllm.set_adapter(adapter_dir(ctx, r - 1) if r > 0 else None)
    rows = ctx.vllm.generate(prompts, n, temperature=cfg.sampling.temperature, top_p=cfg.sampling.top_p,
                             max_new_tokens=cfg.sampling.max_new_tokens, seed=seed, greedy=greedy)
    return [[Sample(text=text.strip(), tokens=tokens, raw=text) for text, tokens in row] for row in rows]


def _seed(*parts) -> int:
    return int.from_bytes(hashlib.sha256(repr(parts).encode()).digest()[:4], "little")


def _progress(ctx: Ctx) -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    TimeRemainingColumn(), console=ctx.console, disable=not ctx.progress, transient=True)


# ---------------------------------------------------------------------------
# Summaries
# ---------------------------------------------------------------------------

def round_summary(ctx: Ctx, r: int, timings: dict, seconds: float,
                  get_proposer: Callable[[], Proposer] | None) -> RoundSummary:
    cfg = ctx.cfg
    store = ctx.store
    heldout = Heldout.model_validate(metrics.heldout_metrics(store, r, k=cfg.eval.k))
    heldout.entropy = store.stage_info(r, Stage.ENTROPY).get("entropy")
    heldout.vs_base = VsBase.model_validate(metrics.vs_base(store, r))
    summary = RoundSummary(round=r, checkpoint=checkpoint_id(r), heldout=heldout)
    if r < cfg.rounds:
        summary.pool = PoolStats.model_validate(metrics.pool_stats(store, r))
        summary.admitted = store.stage_info(r, Stage.SELECT).get("admitted", 0)
        summary.contamination = metrics.contamination(store, r)
        summary.train = TrainStats.model_validate(store.stage_info(r, Stage.FINETUNE))
    logprob_fn = None
    if get_proposer is not None:
        def logprob_fn(theorem_ids: list[str], proofs: list[str]) -> list[float]:
            targets = [ctx.prompter.target(prompt_input(ctx, t), p) for t, p in zip(theorem_ids, proofs)]
            return get_proposer().logprob([prompt_of(ctx, t) for t in theorem_ids], targets)
    summary.lockin = Lockin.model_validate(metrics.lockin(store, r, logprob_fn=logprob_fn))
    forgetting = metrics.forgetting(store, r)
    summary.forgetting = Forgetting.model_validate(forgetting) if forgetting is not None else None
    tokens, checked = store.round_volume(r)
    calls, vsec = timings.get("proofs_verified", 0), timings.get("verify", 0.0)
    stages = ("sample", "verify", "train", "eval")
    summary.cost = Cost(seconds=StageSeconds(**{k: round(timings.get(k, 0.0), 2) for k in stages}),
                        # CPU seconds of this process and its descendants in each stage (loop.cputime)
                        cpu_seconds=StageSeconds(**{k: round(timings.get("cpu_" + k, 0.0), 2) for k in stages}),
                        tokens_sampled=tokens, proofs_checked=checked, proofs_verified=calls,
                        verify_per_s=round(calls / vsec, 2) if vsec > 0 else None)
    summary.seconds = round(seconds, 2)
    return summary


def write_summary(ctx: Ctx) -> dict:
    summary = RunSummary(name=ctx.cfg.name, backend=ctx.backend, backend_version=ctx.verifier.version(),
                         seed=ctx.cfg.seed, config_hash=config_hash(ctx.cfg), gate=ctx.cfg.gate.model_dump(),
                         rounds=load_rounds(ctx.store.round_summaries())).to_json()
    write_json_atomic(ctx.out / "summary.json", summary)
    return summary


def print_round_table(ctx: Ctx) -> None:
    from loop.roundtable import interval_table, round_table

    title = f"{ctx.cfg.name}: held-out ({len(ctx.pools['heldout'])} theorems, judge={ctx.backend})"
    rows = ctx.store.round_summaries()
    ctx.console.print(round_table(rows, title, ctx.cfg.eval.k, ctx.console.width))
    if (intervals := interval_table(rows, ctx.cfg.eval.k, ctx.console.width)) is not None:
        ctx.console.print(intervals)
