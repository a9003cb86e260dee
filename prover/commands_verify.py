r"""`ratchet verify`, `ratchet check-screen` and `ratchet bench verify`.

Input is JSONL, one ``{"id": str, "statement": str, "proof": str}`` per line
(optionally ``"name"``, the theorem's identifier). Output is JSONL on stdout:
exactly one row per physical input line, in input order, each with its
``line`` number. A line that cannot be a task (empty, not UTF-8, not JSON,
nested too deeply, a missing or non-string field, a lone surrogate) gets a
verdict ``error`` whose reason names its line, and the run goes on.

Lines are split at ``\n`` only, as bytes: a carriage return inside a JSON
object is whitespace there, not a line end, and Unicode line separators
(U+2028, U+2029, U+0085) never split a line. They are written out escaped
(``\u2028``), as are lone surrogates, so that no consumer that splits on
Unicode line breaks sees one row as two.
"""
from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from typing import Iterator

import typer

from prover.exits import fail, terminate_as_interrupt
from prover.verdict import ProofTask, Status, Verdict

BATCH = 256  # lines verified per call, so results stream out while a long file is checked
_TASK_FIELDS = ("id", "statement", "proof", "name")
_SURROGATE = re.compile("[\ud800-\udfff]")
# What str.splitlines() breaks at beyond what json.dumps already escapes (it escapes every
# control character below U+0020), and lone surrogates, which UTF-8 cannot encode.
_UNSAFE_OUT = re.compile("[\x85\u2028\u2029\ud800-\udfff]")


@dataclass(frozen=True)
class Line:
    number: int
    id: str | None
    task: ProofTask | None  # None when the line is malformed
    problem: str = ""


def _read_lines(path: str) -> Iterator[tuple[int, bytes]]:
    """(physical line number, its bytes without the newline), split at b"\\n" only."""
    if path == "-":
        handle = sys.stdin.buffer
    else:
        try:
            handle = open(path, "rb")
        except OSError as err:
            raise typer.BadParameter(f"cannot read {path}: {err.strerror}", param_hint="FILE") from None
    try:
        for number, raw in enumerate(handle, start=1):  # binary files iterate at b"\n" and nowhere else
            yield number, raw[:-1] if raw.endswith(b"\n") else raw
    finally:
        if handle is not sys.stdin.buffer:
            handle.close()


def parse_line(number: int, text: bytes | str, need_statement: bool = True) -> Line:
    """One JSONL input line as a task, or the reason it is malformed (naming the line and field)."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as err:
            return Line(number, None, None, f"line {number}: not valid UTF-8 (byte 0x{text[err.start]:02x} at "
                                            f"byte {err.start + 1})")
    if number == 1:
        text = text.removeprefix("\ufeff")  # a byte-order mark some editors write
    if not text.strip():
        return Line(number, None, None, f"line {number}: empty line (each line must hold one JSON object)")
    try:
        obj = json.loads(text)
    except RecursionError:
        return Line(number, None, None, f"line {number}: not valid JSON (nested too deeply)")
    except ValueError as err:  # JSONDecodeError, and e.g. an integer too long to convert
        return Line(number, None, None, f"line {number}: not valid JSON ({getattr(err, 'msg', str(err))})")
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
    for key in _TASK_FIELDS:
        bad = _SURROGATE.search(obj[key]) if isinstance(obj.get(key), str) else None
        if bad:
            return Line(number, shown_id, None, f"line {number}: field '{key}' holds a lone surrogate "
                                                f"(\\u{ord(bad.group()):04x}), which is not a Unicode character")
    task = ProofTask(id=ident, statement=obj.get("statement", ""), proof=obj["proof"], name=name)
    return Line(number, ident, task)


def _input(path: str, need_statement: bool = True) -> Iterator[Line]:
    for number, raw in _read_lines(path):
        yield parse_line(number, raw, need_statement)


def _json_line(obj: dict) -> str:
    """``obj`` as one line of JSON that every reader sees as one line and UTF-8 can encode."""
    text = json.dumps(obj, ensure_ascii=False)
    # json.dumps puts such characters only inside strings, where an escape means the same.
    return _UNSAFE_OUT.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _emit(obj: dict) -> None:
    sys.stdout.write(_json_line(obj) + "\n")
    sys.stdout.flush()




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
                fail(str(err))
        elif execution == "local":
            verifier = make_verifier(name, workers=workers, timeout_s=timeout, memory_mb=memory_mb)
        else:
            fail(f"--execution: expected local or ray, got {execution!r}")
    except (ValueError, BackendUnavailable) as err:
        fail(str(err))
    with _progress() as bar, terminate_as_interrupt():  # SIGTERM, like Ctrl-C, runs the finally below
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
    verdicts = iter(_verdicts(verifier, tasks, bar) if tasks else [])
    for line in batch:
        if line.task is None:
            _emit({"line": line.number, "id": line.id, "verdict": "error",
                   "reason": f"malformed input: {line.problem}", "seconds": 0.0})
        else:
            v = next(verdicts)
            _emit({"line": line.number, "id": line.id, "verdict": v.status.value, "reason": v.reason,
                   "seconds": round(v.seconds, 4)})


def _verdicts(verifier, tasks: list[ProofTask], bar) -> list[Verdict]:
    """The verifier's verdicts; a task it refuses as misuse (ValueError) is an ``error`` of its own."""
    try:
        return verifier.verify(tasks, progress=bar.advance)
    except ValueError:
        pass  # one task is unusable: judge them one by one, so the others keep their verdicts
    out = []
    for task in tasks:
        try:
            out.extend(verifier.verify([task], progress=bar.advance))
        except ValueError as err:
            out.append(Verdict(Status.ERROR, f"error: {err}"))
            bar.advance(1)
    return out


def check_screen_command(
    file: str = typer.Argument(..., help="JSONL file of {id, proof}, or - for stdin"),
    backend: str = typer.Option("coq", help="coq | lean"),
) -> None:
    """The static admission screen only (no prover runs): {id, admissible, rule} per input line."""
    from prover.screen import check_screen

    if backend not in ("coq", "lean"):
        fail(f"unknown backend {backend!r}: expected coq or lean")
    for line in _input(file, need_statement=False):
        if line.task is None:
            _emit({"line": line.number, "id": line.id, "admissible": False, "rule": "malformed-input",
                   "detail": line.problem})
            continue
        try:
            result = check_screen(backend, line.task.proof)
        except RuntimeError as err:  # the Lean screen module is not installed in this checkout
            fail(str(err))
        _emit({"line": line.number, "id": line.id, "admissible": result.admissible, "rule": result.rule,
               "detail": result.detail})


def bench_verify_command(
    backend: str = typer.Option("coq", help="only coq: the fresh-process baseline is coqc"),
    n: int = typer.Option(200, min=1, help="proofs in the mixed corpus"),
    workers: int = typer.Option(2, min=1, help="pool workers, and fresh processes run at once"),
    timeout: float = typer.Option(10.0, min=0.001, help="wall-clock seconds per proof"),
    memory_mb: int = typer.Option(2048, min=128, help="address-space limit per prover process (MiB)"),
    seed: int = typer.Option(0, help="corpus seed"),
    corpus: str = typer.Option(None, help="a verify JSONL file to time instead of the mixed corpus"),
    fresh: bool = typer.Option(True, "--fresh/--no-fresh", metavar="",
                               help="time a fresh coqc per proof (the slow part; --no-fresh skips it)"),
    two_phase: bool = typer.Option(False, "--two-phase", metavar="",
                                   help="also time the pool's two-phase mode on the same corpus, side by side"),
) -> None:
    """Time the pooled verifier against a fresh prover process per proof, on the same corpus.

    Also times one coqc run over a single file of the proofs the pool verified (the prover's
    own cost). Prints a table; the last line is JSON with pooled_per_s, fresh_per_s, speedup,
    cpu_ratio_to_single_file and agreement.

    Examples: `ratchet bench verify` (the mixed corpus, 200 proofs);
    `ratchet bench verify --corpus r2.jsonl --no-fresh --two-phase` (a round's verified
    proofs against the single file, both pool modes).
    """
    from prover.bench import bench_verify, print_bench

    if backend != "coq":
        fail("bench verify supports --backend coq only (the fresh-process baseline is coqc)")
    try:
        result = bench_verify(n=n, workers=workers, timeout_s=timeout, memory_mb=memory_mb, seed=seed,
                              corpus=corpus, fresh=fresh, two_phase=two_phase)
    except (OSError, ValueError) as err:
        fail(f"--corpus: {err}")
    print_bench(result)


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
    app.command("check-screen")(check_screen_command)
    # The command's first name, kept so that scripts written for it still run.
    app.command("check-policy", hidden=True)(check_screen_command)
    bench = typer.Typer(name="bench", help="Benchmarks.", no_args_is_help=True)
    bench.command("verify")(bench_verify_command)
    app.add_typer(bench, name="bench")
