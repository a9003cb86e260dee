"""`ratchet verify`, `ratchet check-policy` and `ratchet bench verify`.

Input is JSONL, one ``{"id": str, "statement": str, "proof": str}`` per line
(optionally ``"name"``, the theorem's identifier). Output is JSONL on stdout,
one line per input line in input order; a malformed line gets a verdict
``error`` naming its line number and the run goes on. Blank lines are skipped.
"""
from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import Iterator

import typer

from prover.verdict import ProofTask

BATCH = 256  # lines verified per call, so results stream out while a long file is checked


@dataclass(frozen=True)
class Line:
    number: int
    id: str | None
    task: ProofTask | None  # None when the line is malformed
    problem: str = ""


def _read_lines(path: str) -> Iterator[tuple[int, str]]:
    if path == "-":
        for number, text in enumerate(sys.stdin, start=1):
            yield number, text
        return
    try:
        handle = open(path, encoding="utf-8")
    except OSError as err:
        raise typer.BadParameter(f"cannot read {path}: {err.strerror}", param_hint="FILE") from None
    with handle:
        for number, text in enumerate(handle, start=1):
            yield number, text


def parse_line(number: int, text: str, need_statement: bool = True) -> Line:
    """One JSONL input line as a task, or the reason it is malformed (naming the line and field)."""
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as err:
        return Line(number, None, None, f"line {number}: not valid JSON ({err.msg})")
    if not isinstance(obj, dict):
        return Line(number, None, None, f"line {number}: expected a JSON object")
    ident = obj.get("id")
    shown_id = ident if isinstance(ident, str) else None
    fields = ("id", "statement", "proof") if need_statement else ("id", "proof")
    for key in fields:
        if key not in obj:
            return Line(number, shown_id, None, f"line {number}: missing field '{key}'")
        if not isinstance(obj[key], str):
            return Line(number, shown_id, None, f"line {number}: field '{key}' must be a string")
    name = obj.get("name", "ratchet_goal")
    if not isinstance(name, str):
        return Line(number, shown_id, None, f"line {number}: field 'name' must be a string")
    task = ProofTask(id=ident, statement=obj.get("statement", ""), proof=obj["proof"], name=name)
    return Line(number, ident, task)


def _input(path: str, need_statement: bool = True) -> Iterator[Line]:
    for number, text in _read_lines(path):
        if text.strip():
            yield parse_line(number, text, need_statement)


def _emit(obj: dict) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def _fail(message: str) -> None:
    typer.echo(f"ratchet: {message}", err=True)
    raise typer.Exit(2)


def verify_command(
    file: str = typer.Argument(..., help="JSONL file of {id, statement, proof}, or - for stdin"),
    backend: str = typer.Option("auto", help="coq | lean | auto (Lean when its project is built, else Coq)"),
    workers: int = typer.Option(2, min=1, help="prover processes checking proofs in parallel"),
    timeout: float = typer.Option(10.0, min=0.001, help="wall-clock seconds per proof"),
    memory_mb: int = typer.Option(2048, min=128, help="address-space limit per prover process (MiB)"),
    execution: str = typer.Option("local", help="local (pools in this process) | ray (one actor per node "
                                  "of a Ray cluster, each with such a pool; same verdicts)"),
    ray_address: str = typer.Option("", help="with --execution ray: a running cluster (host:port or auto); "
                                    "empty = start a local Ray instance"),
) -> None:
    """Check proofs with the pooled ground-truth verifier; one JSONL verdict per input line, in order."""
    from prover.backends import BackendUnavailable, make_verifier, resolve_backend

    try:
        name = resolve_backend(backend)
        if execution == "ray":
            from prover.distributed import RayUnavailable, make_verifier as make_ray_verifier

            try:
                verifier = make_ray_verifier(name, address=ray_address, workers=workers, timeout_s=timeout,
                                             memory_mb=memory_mb)
            except RayUnavailable as err:
                _fail(str(err))
        elif execution == "local":
            verifier = make_verifier(name, workers=workers, timeout_s=timeout, memory_mb=memory_mb)
        else:
            _fail(f"--execution: expected local or ray, got {execution!r}")
    except (ValueError, BackendUnavailable) as err:
        _fail(str(err))
    with _progress() as bar:
        try:
            batch: list[Line] = []
            for line in _input(file):
                batch.append(line)
                if len(batch) >= BATCH:
                    _verify_batch(verifier, batch, bar)
                    batch = []
            _verify_batch(verifier, batch, bar)
        finally:
            verifier.close()


def _verify_batch(verifier, batch: list[Line], bar) -> None:
    tasks = [line.task for line in batch if line.task is not None]
    bar.add(len(batch) - len(tasks), total=len(batch))  # malformed lines are done at once
    verdicts = iter(verifier.verify(tasks, progress=bar.advance) if tasks else [])
    for line in batch:
        if line.task is None:
            _emit({"id": line.id, "verdict": "error", "reason": f"malformed input: {line.problem}", "seconds": 0.0})
        else:
            v = next(verdicts)
            _emit({"id": line.id, "verdict": v.status.value, "reason": v.reason, "seconds": round(v.seconds, 4)})


def check_policy_command(
    file: str = typer.Argument(..., help="JSONL file of {id, proof}, or - for stdin"),
    backend: str = typer.Option("coq", help="coq | lean"),
) -> None:
    """The static admission policy only (no prover runs): {id, admissible, rule} per input line."""
    from prover.policy import check_policy

    if backend not in ("coq", "lean"):
        _fail(f"unknown backend {backend!r}: expected coq or lean")
    for line in _input(file, need_statement=False):
        if line.task is None:
            _emit({"id": line.id, "admissible": False, "rule": "malformed-input", "detail": line.problem})
            continue
        try:
            result = check_policy(backend, line.task.proof)
        except RuntimeError as err:  # the Lean policy module is not installed in this checkout
            _fail(str(err))
        _emit({"id": line.id, "admissible": result.admissible, "rule": result.rule, "detail": result.detail})


def bench_verify_command(
    backend: str = typer.Option("coq", help="only coq: the fresh-process baseline is coqc"),
    n: int = typer.Option(200, min=1, help="proofs in the mixed corpus"),
    workers: int = typer.Option(2, min=1, help="pool workers, and fresh processes run at once"),
    timeout: float = typer.Option(10.0, min=0.001, help="wall-clock seconds per proof"),
    memory_mb: int = typer.Option(2048, min=128, help="address-space limit per prover process (MiB)"),
    seed: int = typer.Option(0, help="corpus seed"),
) -> None:
    """Time the pooled verifier against a fresh prover process per proof, on the same corpus.

    Prints a table; the last line is JSON with pooled_per_s, fresh_per_s, speedup and agreement.
    """
    from prover.bench import bench_verify, print_bench

    if backend != "coq":
        _fail("bench verify supports --backend coq only (the fresh-process baseline is coqc)")
    print_bench(bench_verify(n=n, workers=workers, timeout_s=timeout, memory_mb=memory_mb, seed=seed))


class _progress:
    """A progress bar on stderr when it is a terminal; a no-op otherwise (pipes, tests)."""

    def __enter__(self) -> "_progress":
        self._bar = None
        if sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import Progress

            self._bar = Progress(console=Console(stderr=True), transient=True)
            self._bar.start()
            self._task = self._bar.add_task("verifying", total=0)
        return self

    def add(self, done: int, total: int) -> None:
        if self._bar is not None:
            self._bar.update(self._task, total=self._bar.tasks[0].total + total, advance=done)

    def advance(self, k: int) -> None:
        if self._bar is not None:
            self._bar.advance(self._task, k)

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            self._bar.stop()


def register(app: typer.Typer) -> None:
    """Add this module's commands to the `ratchet` app."""
    app.command("verify")(verify_command)
    app.command("check-policy")(check_policy_command)
    bench = typer.Typer(name="bench", help="Benchmarks.", no_args_is_help=True)
    bench.command("verify")(bench_verify_command)
    app.add_typer(bench, name="bench")
