"""Coq proofs in their own environments: one warm pool per header, one cursor per library file.

``RoutingCoqVerifier`` is a ``Verifier`` that reads each task's ``header``:

* ``None``: the default pool (``CoqVerifier`` with the framework's header),
  exactly what a run without theorem sources uses;
* a header that is a prefix of a registered context file (a library lemma's
  context: the file up to the lemma): that file's cursor;
* any other header (a JSONL theorem's own imports): a ``CoqVerifier`` for
  that header, kept warm for the next batch.

A cursor is one coqtop that reads its file from the top, one stretch at a
time, and checks the candidate proofs of each lemma when it reaches the
lemma's first character: the environment is then exactly the file up to the
lemma, with its sections open, its variables declared and every proof before
it replayed as written. Proofs are checked with the same worker as the
default pool (``CoqWorker.check`` then ``CoqWorker.audit``: each proof a
``Load`` that always fails, so coqtop undoes it), so nothing a candidate does
survives it, and the cursor moves on by replaying the file's own text. Tasks
are served in file order; a task earlier in the file than the cursor starts a
fresh coqtop (a run lists each pool in file order, so that happens once per
pass). Replaying a whole file costs what compiling it does (List.v, 3400
lines: about 2.5 s).

Admission is the default pool's rule, with one difference that a context
needs: inside a section, ``Print Assumptions`` lists the section variables
(and hypotheses) the proof uses under "Section Variables:". Those are the
lemma's context, declared by the file, not axioms: a proof cannot add one (a
``Variable`` sentence is refused by the policy), so a proof whose only
assumptions are section variables is closed. Anything else listed
(``Axioms:`` and the rest) rejects it as in the default pool.
"""
from __future__ import annotations

import re
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Iterable, Sequence

from prover.coq.verifier import CoqVerifier, coq_version, precheck
from prover.coq.worker import CLOSED, CoqInfraError, CoqWorker, axioms_reason, first_error, own_name
from prover.coq.process import OutputLimit, ProcessDied, ProcessTimeout
from prover.verdict import Progress, ProofTask, Status, Verdict

_HEADING = re.compile(r"^[A-Z][A-Za-z ]*:$")
REPLAY_TIMEOUT_S = 600.0  # replaying a stretch of a library file (the whole of List.v takes seconds)


def closed_in_context(lines: list[str]) -> bool:
    """``Print Assumptions`` said "closed", or listed section variables and nothing else."""
    kept = [ln.strip() for ln in lines if ln.strip()]
    if kept == [CLOSED]:
        return True
    headings = [ln for ln in kept if _HEADING.match(ln)]
    return bool(kept) and kept[0] == "Section Variables:" and headings == ["Section Variables:"]


@dataclass(frozen=True)
class Context:
    """A file whose prefixes are contexts: ``key`` names it (e.g. "Lists/List.v")."""
    key: str
    text: str


def _nonce() -> str:
    return secrets.token_hex(8)


def run_sentences(worker: CoqWorker, text: str, timeout_s: float) -> str | None:
    """Send ``text`` to the worker as it is (its effects stay); the first error, or None."""
    return _send(worker, text, timeout_s)[1]


def _send(worker: CoqWorker, text: str, timeout_s: float) -> tuple[list[str], str | None]:
    n = _nonce()
    worker.process.send(f"{text}\nLocate ratchet__adv_{n}.\nSet Ratchet_adv_{n}.\n")
    deadline = time.monotonic() + timeout_s
    out = worker.process.read_until("out", f"No object of basename ratchet__adv_{n}", deadline)
    err = worker.process.read_until("err", f'"Ratchet_adv_{n}".', deadline, contains=True)
    return out, first_error(err)


def check_in_place(worker: CoqWorker, statements: list[str], timeout_s: float) -> list[str | None]:
    """For each statement, None if it elaborates as a type where the worker is, else Coq's error.

    Each check is a file run with ``Load`` that ends in a sentence that always fails,
    so coqtop undoes it whatever the statement was.
    """
    out: list[str | None] = []
    for statement in statements:
        n = _nonce()
        path = worker.files / f"wf_{n}.v"
        path.write_text(f"Definition ratchet__wf_{n} : Type := ({statement}).\nCheck ratchet__undo_{n}.\n",
                        encoding="utf-8")
        try:
            err = run_sentences(worker, f'Load "{path}".', timeout_s)
        finally:
            path.unlink(missing_ok=True)
        undo = f"Error: The reference ratchet__undo_{n} was not found in the current environment."
        out.append(None if err == undo else (err or "no answer"))
    return out


class _Cursor:
    """One coqtop walking through one file; see the module docstring."""

    def __init__(self, owner: "RoutingCoqVerifier", context: Context):
        self.owner = owner
        self.context = context
        self.worker: CoqWorker | None = None
        self.pos = 0
        self.replays = 0  # how many times the file was started from the top (tests and logs)
        # The worker's audit term applies @pair to explicit arguments, which breaks under the
        # file's own "Set Implicit Arguments" (List.v has it): while proofs are checked it is
        # unset, and set again before the file's text goes on (later declarations need it).
        self.implicit_unset = False
        # The owner's generation the thread judging on this cursor serves (``_files``); None outside.
        # The owner's ``close()`` starts a new one, so a thread still running after it starts no coqtop.
        self.generation: int | None = None

    def _closed(self) -> bool:
        return self.generation is not None and self.generation != self.owner._generation

    def close(self) -> None:
        worker, self.worker = self.worker, None  # the owner's close() may run on another thread
        if worker is not None:
            worker.close()
        self.implicit_unset = False

    def at(self, end: int) -> CoqWorker:
        """The worker, with the file replayed up to offset ``end``."""
        if self.worker is not None and (self.pos > end or not self.worker.process.alive()):
            self.close()
        if self.worker is None:
            o = self.owner
            if self._closed():
                raise CoqInfraError(f"{self.context.key}: the verifier was closed")
            self.worker = CoqWorker("", o.memory_mb, o.max_output_bytes, coqtop=o.coqtop)
            if self._closed():  # closed while it started: the owner's close() may have missed it
                self.close()
                raise CoqInfraError(f"{self.context.key}: the verifier was closed")
            self.pos = 0
            self.replays += 1
        if end > self.pos:
            try:
                if self.implicit_unset:
                    run_sentences(self.worker, "Set Implicit Arguments.", REPLAY_TIMEOUT_S)
                    self.implicit_unset = False
                err = run_sentences(self.worker, self.context.text[self.pos:end], REPLAY_TIMEOUT_S)
            except (ProcessTimeout, ProcessDied, OutputLimit) as exc:
                self.close()
                raise CoqInfraError(f"{self.context.key}: replaying the file up to offset {end} failed "
                                    f"({type(exc).__name__})") from None
            if err:
                self.close()
                raise CoqInfraError(f"{self.context.key}: the file's own text failed before offset {end}: {err}")
            self.pos = end
        return self.worker

    def checking(self, end: int) -> CoqWorker:
        """``at(end)``, ready to check proofs: Implicit Arguments off (see __init__)."""
        worker = self.at(end)
        if not self.implicit_unset:
            try:
                out, _ = _send(worker, "Test Implicit Arguments.", REPLAY_TIMEOUT_S)
                if "Implicit Arguments is on" in out:
                    run_sentences(worker, "Unset Implicit Arguments.", REPLAY_TIMEOUT_S)
                    self.implicit_unset = True
            except (ProcessTimeout, ProcessDied, OutputLimit) as exc:
                self.close()
                raise CoqInfraError(f"{self.context.key}: the worker stopped answering ({type(exc).__name__})") \
                    from None
        return worker

    def judge(self, end: int, tasks: list[ProofTask]) -> list[Verdict]:
        """Verdicts for tasks whose context is the file up to ``end``."""
        o = self.owner
        verdicts: list[Verdict | None] = [precheck(t) for t in tasks]
        todo = [i for i, v in enumerate(verdicts) if v is None]
        passed: list[tuple[int, float]] = []
        while todo:
            try:
                worker = self.checking(end)
            except CoqInfraError as err:
                for i in todo:
                    verdicts[i] = Verdict(Status.ERROR, f"error: {err}")
                return verdicts  # type: ignore[return-value]
            done, healthy = worker.check([tasks[i] for i in todo], o.timeout_s)
            for i, p in zip(todo, done):
                if p.verdict is None:
                    passed.append((i, p.seconds))
                else:
                    verdicts[i] = p.verdict
            todo = todo[len(done):]
            if not healthy:
                self.close()
        if passed:
            for i, v in zip([i for i, _ in passed], self._audit(end, [tasks[i] for i, _ in passed],
                                                                [s for _, s in passed])):
                verdicts[i] = v
        return verdicts  # type: ignore[return-value]

    def _audit(self, end: int, tasks: list[ProofTask], seconds: list[float]) -> list[Verdict]:
        """Replay the passed proofs together; if that is not closed in context, each alone."""
        o = self.owner
        single = len(tasks) == 1
        budget = o.timeout_s if single else sum(seconds) * 2 + o.timeout_s
        start = time.monotonic()
        try:
            result = self.checking(end).audit(tasks, budget)
        except CoqInfraError as err:
            return [Verdict(Status.ERROR, f"error: {err}", seconds=s) for s in seconds]
        if result.outcome in ("timeout", "died", "output", "unknown"):
            self.close()
        share = (time.monotonic() - start) / len(tasks)
        if result.outcome == "assumptions" and closed_in_context(result.lines):
            return [Verdict(Status.VERIFIED, "verified", seconds=s + share) for s in seconds]
        if not single:
            return [v for t, s in zip(tasks, seconds) for v in self._audit(end, [t], [s])]
        return [_failed_audit(tasks[0], result, seconds[0] + share, o.timeout_s)]


def _failed_audit(task: ProofTask, result, seconds: float, timeout_s: float) -> Verdict:
    lines = own_name(result.lines, task.name)
    err = first_error(lines)
    if result.outcome == "assumptions":
        return Verdict(Status.REJECTED, axioms_reason(lines), tuple(lines), seconds)
    if result.outcome == "timeout":
        return Verdict(Status.TIMEOUT, f"timeout after {timeout_s:.1f}s", seconds=seconds)
    if result.outcome == "check":
        return Verdict(Status.REJECTED, f"rejected: {task.name} does not prove the stated statement"
                       + (f" ({err})" if err else ""), tuple(lines), seconds)
    return Verdict(Status.REJECTED, f"rejected: {err or result.outcome + ' in the audit'}", tuple(lines), seconds)


class RoutingCoqVerifier:
    """The Coq ``Verifier`` for runs with theorem sources: routes each task by its header."""

    backend = "coq"

    def __init__(self, workers: int = 2, timeout_s: float = 10.0, memory_mb: int = 2048,
                 recycle_after: int = 500, contexts: Iterable[Context] = (), coqtop: str = "coqtop",
                 max_output_bytes: int = 1_000_000, max_pools: int = 8):
        """``max_pools``: header pools kept warm at once (each holds ``workers`` coqtops); the least
        recently used is closed beyond that."""
        self.workers, self.timeout_s, self.memory_mb = workers, timeout_s, memory_mb
        self.recycle_after, self.coqtop, self.max_output_bytes = recycle_after, coqtop, max_output_bytes
        self.max_pools = max_pools
        self.contexts = {c.key: c for c in contexts}
        self._cursors = {key: _Cursor(self, c) for key, c in self.contexts.items()}
        self._pools: dict[str | None, CoqVerifier] = {}
        self._generation = 0  # close() adds one: see _Cursor.generation
        self._version: str | None = None

    def version(self) -> str:
        if self._version is None:
            self._version = coq_version(self.coqtop)
        return self._version

    # -- routing ----------------------------------------------------------------------------------

    def route(self, header: str | None) -> tuple[str, str | None]:
        """("file", key) for a context of a registered file, else ("pool", header)."""
        if header:  # an empty header is a prefix of every file, and a context of none
            for key, c in self.contexts.items():
                if c.text.startswith(header):
                    return "file", key
        return "pool", header

    def _pool(self, header: str | None) -> CoqVerifier:
        pool = self._pools.pop(header, None)
        if pool is None:
            pool = CoqVerifier(workers=self.workers, timeout_s=self.timeout_s, memory_mb=self.memory_mb,
                               recycle_after=self.recycle_after, header=header, coqtop=self.coqtop,
                               max_output_bytes=self.max_output_bytes)
        self._pools[header] = pool  # most recently used last
        while len(self._pools) > self.max_pools:
            self._pools.pop(next(iter(self._pools))).close()
        return pool

    @property
    def pools(self) -> dict[str | None, CoqVerifier]:
        return self._pools

    @property
    def cursors(self) -> dict[str, _Cursor]:
        return self._cursors

    # -- Verifier protocol ------------------------------------------------------------------------

    def verify(self, tasks: Sequence[ProofTask], progress: Progress | None = None) -> list[Verdict]:
        verdicts: list[Verdict | None] = [None] * len(tasks)
        by_pool: dict[str | None, list[int]] = {}
        by_file: dict[str, list[int]] = {}
        for i, t in enumerate(tasks):
            kind, key = self.route(t.header)
            (by_file if kind == "file" else by_pool).setdefault(key, []).append(i)
        for header, indices in by_pool.items():
            for i, v in zip(indices, self._pool(header).verify([tasks[i] for i in indices], progress)):
                verdicts[i] = v
        self._files(tasks, by_file, verdicts, progress)
        return verdicts  # type: ignore[return-value]

    def _files(self, tasks, by_file: dict[str, list[int]], verdicts: list, progress: Progress | None) -> None:
        """Each file's tasks in file order on its cursor; up to ``workers`` files at once."""
        lock = threading.Lock()
        queue = sorted(by_file, key=lambda k: -len(by_file[k]))
        failures: list[BaseException] = []
        generation = self._generation

        def serve() -> None:
            while True:
                with lock:
                    if not queue or failures or self._generation != generation:  # the last: closed under us
                        return
                    key = queue.pop(0)
                cursor = self._cursors[key]
                cursor.generation = generation
                try:
                    indices = sorted(by_file[key], key=lambda i: len(tasks[i].header))
                    k = 0
                    while k < len(indices):
                        end = len(tasks[indices[k]].header)
                        group = [i for i in indices[k:] if len(tasks[i].header) == end]
                        for i, v in zip(group, cursor.judge(end, [tasks[i] for i in group])):
                            verdicts[i] = v
                        k += len(group)
                        if progress:
                            with lock:
                                progress(len(group))
                except BaseException as err:  # re-raised in the caller's thread
                    failures.append(err)
                    return
                finally:
                    cursor.generation = None

        threads = [threading.Thread(target=serve, name=f"coq-cursor-{k}")
                   for k in range(min(self.workers, len(queue)))]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        if failures:
            raise failures[0]

    def check_statements(self, items: Sequence[tuple[str, str | None]]) -> list[str | None]:
        """For each (statement, header): None if the statement elaborates in its environment, else why not.

        Library lemmas are checked on their file's cursor in file order; other headers on one
        fresh coqtop per header.
        """
        reasons: list[str | None] = [None] * len(items)
        by_file: dict[str, list[int]] = {}
        by_header: dict[str | None, list[int]] = {}
        for i, (_, header) in enumerate(items):
            kind, key = self.route(header)
            (by_file if kind == "file" else by_header).setdefault(key, []).append(i)
        for header, indices in by_header.items():
            from prover.coq.header import default_header
            worker = CoqWorker(default_header() if header is None else header, self.memory_mb,
                               self.max_output_bytes, coqtop=self.coqtop)
            try:
                for i, r in zip(indices, check_in_place(worker, [items[i][0] for i in indices], self.timeout_s)):
                    reasons[i] = r
            finally:
                worker.close()
        for key, indices in by_file.items():
            cursor = self._cursors[key]
            for i in sorted(indices, key=lambda i: len(items[i][1] or "")):
                (reasons[i],) = check_in_place(cursor.checking(len(items[i][1] or "")), [items[i][0]], self.timeout_s)
        return reasons

    def close(self) -> None:
        """End every worker. Threads still judging (the caller was interrupted) start no new coqtop."""
        self._generation += 1
        for pool in self._pools.values():
            pool.close()
        self._pools.clear()
        for cursor in self._cursors.values():
            cursor.close()

    def __enter__(self) -> "RoutingCoqVerifier":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
