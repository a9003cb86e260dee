"""`ratchet bench verify`: the pooled Coq verifier against a fresh coqc process per proof.

Both sides judge the same corpus (by default a mixed one: reference proofs,
wrong tactics, known-false canaries, a few screen cheats; or any verify JSONL
given with ``--corpus``) with the same admission rule and the same parallelism
(``workers`` coqtop workers vs ``workers`` coqc processes at a time), in one
run. The pool's one-off start-up (loading the header into each worker) is
reported separately from its steady-state throughput, which is what a long
run sees.

A second baseline is the prover's own time: one ``coqc`` run over a single
file that holds, under the same header, every proof the pool verified, each
as a plain ``Theorem ... Qed.`` (no isolation, no statement check, no axiom
audit). Its CPU seconds against the pool's say what the pool's isolation and
audit cost on top of checking the proofs at all.
"""
from __future__ import annotations

import json
import random
import resource
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from prover.verdict import ProofTask, Status, Verdict

# Tactics that are wrong for most statements (or right by accident: both sides judge them alike).
WRONG_TACTICS = ("reflexivity.", "lia.", "intros. discriminate.", "auto.", "split.", "intros n. induction n; simpl; auto.",
                 "intros. ring.", "exact I.", "intros. exists 0. reflexivity.", "tauto.")
CHEATS = ("Admitted.", "admit.", "exact I. Qed. Axiom cheat : False.", "Unset Guard Checking. auto.")


def build_corpus(n: int, seed: int = 0) -> list[ProofTask]:
    """A deterministic mix: about half reference proofs, 4 in 10 wrong proofs, 1 in 20 cheats and canaries."""
    from prover.theorems import canary_theorems, generate_theorems

    families = ("lin", "ring", "compute", "prop", "exists", "induct")  # the measured corpus: fixed, not FAMILIES

    rng = random.Random(seed)
    per_family = max(1, -(-n // (2 * len(families))))
    theorems = generate_theorems(families, per_family, seed)
    rng.shuffle(theorems)
    canaries = canary_theorems(max(1, n // 20))
    tasks = []
    for i in range(n):
        th = theorems[i % len(theorems)]
        slot = i % 20
        if slot < 10:
            proof = rng.choice(th.reference_proofs("coq"))
            kind = "valid"
        elif slot < 18:
            other = theorems[(i * 7 + 3) % len(theorems)]
            proof = rng.choice(other.reference_proofs("coq") + list(WRONG_TACTICS))
            kind = "wrong"
        elif slot == 18:
            th = canaries[i % len(canaries)]
            proof = rng.choice(th.reference_proofs("coq") or list(WRONG_TACTICS))
            kind = "canary"
        else:
            proof = rng.choice(CHEATS)
            kind = "cheat"
        tasks.append(ProofTask(id=f"{i}:{th.id}", statement=th.statement("coq"), proof=proof, name=th.name,
                               meta={"kind": kind}))
    return tasks


def load_corpus(path: str) -> list[ProofTask]:
    """The tasks of a verify JSONL file (what ``ratchet verify`` reads); a malformed line is an error."""
    from prover.commands_verify import parse_line

    tasks = []
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            line = parse_line(number, raw.rstrip(b"\n"))
            if line.task is None:
                raise ValueError(f"{path}: {line.problem}")
            tasks.append(ProofTask(id=line.task.id, statement=line.task.statement, proof=line.task.proof,
                                   name=line.task.name, meta={"kind": "corpus"}))
    if not tasks:
        raise ValueError(f"{path}: no proofs")
    return tasks


def single_file(tasks: list[ProofTask], header: str, timeout_s: float, memory_mb: int) -> dict:
    """One coqc run over one file holding every task as a plain theorem: the prover's own cost."""
    from prover.coq.process import find_program, run_limited
    from prover.coq.worker import COQ_FLAGS

    text = header.rstrip("\n") + "\n" + "".join(
        f"Theorem ratchet__single_{k} : {t.statement}.\nProof.\n{t.proof}\nQed.\n" for k, t in enumerate(tasks))
    cpu0 = _children_cpu()
    with tempfile.TemporaryDirectory(prefix="ratchet-single-") as tmp:
        Path(tmp, "Single.v").write_text(text, encoding="utf-8")
        done = run_limited([find_program("coqc") or "coqc", *COQ_FLAGS, "Single.v"], cwd=tmp,
                           timeout_s=timeout_s * max(1, len(tasks)), memory_mb=memory_mb)
    ok = done.returncode == 0
    return {"single_file_proofs": len(tasks), "single_file_ok": ok, "single_file_seconds": round(done.seconds, 3),
            "single_file_cpu_s": round(_children_cpu() - cpu0, 3),
            "single_file_error": "" if ok else " ".join(done.stderr.split())[-300:]}


def _time_pool(tasks: list[ProofTask], workers: int, timeout_s: float, memory_mb: int,
               single_pass: bool) -> tuple[list[Verdict], float, float, float, str, str]:
    """(verdicts, steady seconds, start-up seconds, prover CPU seconds, version, header) of one pool."""
    from prover.coq import CoqVerifier

    cpu0 = _children_cpu()
    with CoqVerifier(workers=workers, timeout_s=timeout_s, memory_mb=memory_mb, single_pass=single_pass) as pool:
        version = pool.version()
        start = time.monotonic()
        pool.verify([ProofTask(id=f"warm{k}", statement="True", proof="exact I.") for k in range(workers)])
        startup = time.monotonic() - start
        start = time.monotonic()
        verdicts = pool.verify(tasks)
        seconds = time.monotonic() - start
    # The workers were reaped by close(): their CPU time is counted now.
    return verdicts, seconds, startup, _children_cpu() - cpu0, version, pool.header


def bench_verify(n: int = 200, workers: int = 2, timeout_s: float = 10.0, memory_mb: int = 2048,
                 seed: int = 0, corpus: str | None = None, fresh: bool = True, two_phase: bool = False) -> dict:
    """Time the pool against fresh coqc per proof and against one single-file coqc run.

    ``corpus``: a verify JSONL file to use instead of the generated mixed corpus (``n`` and
    ``seed`` are then unused). ``fresh=False`` skips the fresh-process baseline (the slow
    part; speedups are then None). ``two_phase``: also time the pool in its two-phase mode
    (``CoqVerifier(single_pass=False)``) on the same corpus, in the same run.
    """
    from prover.coq import fresh_verify

    tasks = build_corpus(n, seed) if corpus is None else load_corpus(corpus)
    n = len(tasks)
    pooled, pooled_s, startup, pooled_cpu, version, header = _time_pool(tasks, workers, timeout_s, memory_mb, True)
    extra: dict = {}
    if two_phase:
        legacy, legacy_s, legacy_startup, legacy_cpu, _, _ = _time_pool(tasks, workers, timeout_s, memory_mb, False)
        extra = {"two_phase_seconds": round(legacy_s, 3), "two_phase_startup_s": round(legacy_startup, 3),
                 "two_phase_cpu_s": round(legacy_cpu, 3),
                 "two_phase_agreement": round(sum(a.status is b.status for a, b in zip(pooled, legacy)) / n, 4)}
    if fresh:
        cpu1 = _children_cpu()
        start = time.monotonic()
        with ThreadPoolExecutor(max_workers=workers) as ex:
            fresh_out = list(ex.map(lambda t: fresh_verify(t, header=header, timeout_s=timeout_s,
                                                           memory_mb=memory_mb), tasks))
        fresh_s = time.monotonic() - start
        fresh_cpu = _children_cpu() - cpu1
    else:
        fresh_out, fresh_s, fresh_cpu = list(pooled), None, None
    same = [p.status is f.status for p, f in zip(pooled, fresh_out)]
    single = single_file([t for t, p in zip(tasks, pooled) if p.verified], header, timeout_s, memory_mb)
    if two_phase and single["single_file_ok"] and single["single_file_proofs"]:
        extra["two_phase_cpu_ratio_to_single_file"] = round(extra["two_phase_cpu_s"] / max(single["single_file_cpu_s"],
                                                                                           1e-9), 2)

    def ratio(a: float | None, b: float) -> float | None:
        return None if a is None else round(a / b, 2)

    return {
        "backend": "coq", "coq_version": version, "n": n, "workers": workers, "seed": seed,
        "corpus": corpus or "mixed",
        "pooled_seconds": round(pooled_s, 3), "pooled_startup_s": round(startup, 3),
        "fresh_seconds": None if fresh_s is None else round(fresh_s, 3),
        "pooled_per_s": round(n / pooled_s, 2),
        "pooled_cold_per_s": round(n / (pooled_s + startup), 2),
        "fresh_per_s": None if fresh_s is None else round(n / fresh_s, 2),
        "speedup": ratio(fresh_s, pooled_s),
        "speedup_cold": ratio(fresh_s, pooled_s + startup),
        # CPU seconds of the prover processes (start-up included for the pool): unlike wall
        # time, this does not depend on what else the machine is doing.
        "pooled_cpu_s": round(pooled_cpu, 3), "fresh_cpu_s": None if fresh_cpu is None else round(fresh_cpu, 3),
        "cpu_speedup": ratio(fresh_cpu, max(pooled_cpu, 1e-9)),
        **single, **extra,
        # The pool's prover CPU over the single file's: 1.0 would be isolation and audit for free.
        "cpu_ratio_to_single_file": round(pooled_cpu / max(single["single_file_cpu_s"], 1e-9), 2)
        if single["single_file_ok"] and single["single_file_proofs"] else None,
        "agreement": round(sum(same) / n, 4) if fresh else None,
        "disagreements_n": n - sum(same) if fresh else None,
        "pooled_verdicts": _counts(pooled), "fresh_verdicts": _counts(fresh_out) if fresh else None,
        "kinds": dict(Counter(t.meta["kind"] for t in tasks)),
        "disagreements": [{"id": t.id, "proof": t.proof, "pooled": p.reason, "fresh": f.reason}
                          for t, p, f, ok in zip(tasks, pooled, fresh_out, same) if not ok][:10],
    }


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _counts(verdicts: list[Verdict]) -> dict[str, int]:
    c = Counter(v.status.value for v in verdicts)
    return {s.value: c.get(s.value, 0) for s in Status}


def print_bench(result: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    from rich import box

    console = Console()
    table = Table(title=f"verify: {result['n']} proofs ({result['corpus']}), {result['workers']} at a time, "
                        f"Coq {result['coq_version']}", box=box.SIMPLE, padding=(0, 1))
    for col in ("path", "seconds", "CPU s", "proofs/s", *(s.value for s in Status)):
        table.add_column(col, justify="right" if col != "path" else "left")

    def counts(key: str) -> list[str]:
        return [str(result[key][s.value]) for s in Status] if result.get(key) else ["" for _ in Status]

    table.add_row("pooled", f"{result['pooled_seconds']:.2f}", f"{result['pooled_cpu_s']:.1f}",
                  f"{result['pooled_per_s']:.1f}", *counts("pooled_verdicts"))
    table.add_row("start-up", f"{result['pooled_startup_s']:.2f}", "", "", *counts(""))
    if "two_phase_seconds" in result:
        table.add_row("two-phase", f"{result['two_phase_seconds']:.2f}", f"{result['two_phase_cpu_s']:.1f}",
                      f"{result['n'] / result['two_phase_seconds']:.1f}", *counts(""))
    if result["fresh_seconds"] is not None:
        table.add_row("fresh coqc", f"{result['fresh_seconds']:.2f}", f"{result['fresh_cpu_s']:.1f}",
                      f"{result['fresh_per_s']:.1f}", *counts("fresh_verdicts"))
    table.add_row("single file", f"{result['single_file_seconds']:.2f}", f"{result['single_file_cpu_s']:.1f}",
                  "", *counts(""))
    console.print(table)
    ratio = result["cpu_ratio_to_single_file"]
    console.print(f"pooled prover CPU {result['pooled_cpu_s']:.1f}s vs one coqc run over a single file of the "
                  f"{result['single_file_proofs']} verified proofs {result['single_file_cpu_s']:.1f}s: "
                  + (f"{ratio:.2f}x" if ratio is not None else f"n/a ({result['single_file_error'] or 'no proofs'})"))
    if result.get("two_phase_cpu_ratio_to_single_file") is not None:
        console.print(f"two-phase pool CPU {result['two_phase_cpu_s']:.1f}s: "
                      f"{result['two_phase_cpu_ratio_to_single_file']:.2f}x the single file; verdicts agree "
                      f"{result['two_phase_agreement']:.4f}")
    if result["speedup"] is not None:
        console.print(f"speedup {result['speedup']:.1f}x steady ({result['speedup_cold']:.1f}x counting start-up), "
                      f"CPU {result['cpu_speedup']:.1f}x, agreement with fresh coqc {result['agreement']:.4f}; "
                      f"corpus {result['kinds']}")
    for d in result["disagreements"]:
        console.print(f"[red]disagree[/] {d['id']}: pooled={d['pooled']!r} fresh={d['fresh']!r}")
    print(json.dumps({k: v for k, v in result.items() if k != "disagreements"}), flush=True)
