"""The pooled Coq verifier: N persistent coqtop workers checking proofs concurrently.

Single pass (the default)
-------------------------
Each proof runs once, to ``Qed``, and what compiles and proves its statement
is kept on its worker (``prover.coq.worker``, "Single pass"); the kept proofs'
assumptions are printed together every ``keep_up_to`` proofs, and a proof
that failed while others were kept is judged again on a reset worker. The
admission rule is the one below, checked in one file per proof instead of
two phases: the static screen and the statement and name checks; the
statement elaborates under the header (else ``error``) and a theorem of that
name can be declared (else ``error``); every tactic runs, no goal is left,
``Qed`` succeeds; what the name denotes inhabits the statement as bound before
any proof was kept; ``Print Assumptions`` answers "Closed under the global
context". The single pass is about twice as cheap in prover CPU as the two
phases on a batch of correct proofs (which is what a round is once the
policy improves): their tactics run once, not twice.

Two-phase mode (``single_pass=False``, or a header that leaves a section open)
-----------------------------------------------------------------------------
Admission, in order (the first that fails decides the verdict):

1. the static screen (``prover.coq.screen``) on the body, and sanity checks
   on the statement and the theorem name: no prover process sees a refused proof;
2. phase 1 on a worker (see ``prover.coq.worker``), in the environment the
   header made and nothing else: the statement elaborates, a theorem of that
   name and statement can be declared (else ``error``: bad input, not a bad
   proof), every tactic of the body runs without error, and no goal is left;
3. phase 2, the audit: the proof is compiled again, this time to the end
   (``Qed``: the kernel checks the term), what the theorem name denotes must
   inhabit the statement as Coq elaborated it before the proof ran (a
   Definition, which no proof text can subvert), and ``Print Assumptions``
   must answer exactly "Closed under the global context".

Phase 1 judges every proof; the audit replays only the proofs that passed,
many in one file, so one ``Print Assumptions`` (the expensive command: it walks
every library proof the terms depend on) covers all of them. Each proof is
replayed in a module of its own, so a constant one proof's tactics declare is
out of reach of the proofs after it: a verdict never depends on the batch. If a group fails,
the proof that failed (or, for axioms, each half of the group) is audited
again on its own, so every verdict and reason is the one the proof would get alone.

Scheduling: phase 1 goes in small chunks that idle workers take from a shared
queue, so a few slow proofs do not hold one worker up while the other waits;
the audit groups are then cut so that their expected replay times (estimated
from phase-1 times by ``replay_cost``) are about equal.

Threads are enough for concurrency: each worker thread spends its time
waiting on its own coqtop, and coqtop does the work. A worker that times out,
dies or floods its output is killed (its whole process group) and replaced;
the proof it was checking gets ``timeout`` or ``rejected``, never ``verified``.
A crash is not a rejection: a proof under which coqtop died is tried once
more on a fresh worker, and only a second crash makes it ``rejected``, with a
reason that says it crashed twice and how.
"""
from __future__ import annotations

import re
import subprocess
import threading
import time
from collections import Counter, deque
from typing import Callable, Sequence

from prover.coq.header import default_header
from prover.coq.screen import check_coq_name, check_coq_screen, check_coq_statement
from prover.coq.process import OutputLimit, ProcessDied, ProcessTimeout, find_program
from prover.coq.worker import (Audit, CoqInfraError, CoqWorker, Kept, Phase1, axioms_reason, closed, first_error,
                               own_name)
from prover.verdict import Progress, ProofTask, Status, Verdict


def coq_version(coqtop: str = "coqtop") -> str:
    """The installed Coq's version, e.g. "8.16.1"; raises CoqInfraError when coqtop is missing."""
    path = find_program(coqtop)
    if path is None:
        raise CoqInfraError(f"{coqtop} not found on PATH; install Coq (Debian/Ubuntu: apt-get install coq)")
    out = subprocess.run([path, "-v"], capture_output=True, text=True, timeout=60).stdout
    for word in out.split():
        if word[:1].isdigit() and "." in word:
            return word.rstrip(",")
    raise CoqInfraError(f"cannot read a version from `{coqtop} -v`: {out.strip()[:200]!r}")


def coq_available(coqtop: str = "coqtop") -> bool:
    return find_program(coqtop) is not None


def precheck(task: ProofTask) -> Verdict | None:
    """The verdict for a task that must not reach a prover (bad name or statement, screen refusal)."""
    problem = check_coq_name(task.name) or check_coq_statement(task.statement)
    if problem:
        return Verdict(Status.ERROR, f"error: {problem}")
    screen = check_coq_screen(task.proof)
    if not screen.admissible:
        return Verdict(Status.REJECTED, screen.reason)
    return None


class _Slot:
    """One worker position in the pool: starts, recycles and replaces its coqtop."""

    def __init__(self, pool: "CoqVerifier"):
        self.pool = pool
        self.worker: CoqWorker | None = None
        # The pool's generation this slot's thread serves (``CoqVerifier._on_slots``); None outside one.
        # ``close()`` starts a new generation, so a thread still running after it starts no coqtop.
        self.generation: int | None = None

    def _closed(self) -> bool:
        return self.generation is not None and self.generation != self.pool._generation

    def ensure(self) -> CoqWorker:
        if self.worker is not None and (self.worker.uses >= self.pool.recycle_after
                                        or not self.worker.process.alive()):
            self.drop()
        if self.worker is None:
            if self._closed():
                raise CoqInfraError("the pool was closed")
            worker = CoqWorker(self.pool.header, self.pool.memory_mb, self.pool.max_output_bytes,
                               coqtop=self.pool.coqtop)
            self.worker = worker
            if self._closed():  # closed while it started: close() may have missed it
                self.drop()
                raise CoqInfraError("the pool was closed")
        return self.worker

    def drop(self) -> None:
        worker, self.worker = self.worker, None  # close() may drop it from another thread
        if worker is not None:
            worker.close()

    def phase1(self, tasks: list[ProofTask]) -> list[Phase1]:
        """Phase 1 for a prefix of ``tasks``, in order (all of them unless the worker had to be killed).

        The caller puts the rest back in the queue, where any worker may take them.
        """
        try:
            worker = self.ensure()
        except CoqInfraError as err:
            return [Phase1(Verdict(Status.ERROR, f"error: {err}"), 0.0)] * len(tasks)
        done, healthy = worker.check(tasks[:max(1, self.pool.recycle_after - worker.uses)], self.pool.timeout_s)
        if not healthy:
            self.drop()
        if done and done[-1].crashed:
            done[-1] = self._phase1_again(tasks[len(done) - 1], done[-1])
        return done

    def _phase1_again(self, task: ProofTask, first: Phase1) -> Phase1:
        """Phase 1 once more for a proof whose worker died under it, on a fresh worker.

        A crash says nothing about the proof until it happens again: only a second
        crash on the same proof makes it ``rejected``, and never ``verified``.
        """
        try:
            worker = self.ensure()  # the dead worker was dropped: this one is new
        except CoqInfraError as err:
            return Phase1(Verdict(Status.ERROR, f"error: {err}"), first.seconds)
        (again,), healthy = worker.check([task], self.pool.timeout_s)
        if not healthy:
            self.drop()
        if not again.crashed:
            return Phase1(again.verdict, again.seconds)
        return Phase1(_crashed_twice(first.verdict.reason, again.verdict.reason, first.seconds + again.seconds),
                      first.seconds + again.seconds)

    def audit(self, tasks: list[ProofTask], seconds: list[float], retry: bool = True) -> list[Verdict]:
        """Final verdicts for proofs that passed phase 1 (``seconds``: what phase 1 took for each).

        The group is replayed at once. If that fails, the proof it failed on is
        audited alone, and those around it as groups again; if the assumptions
        are not closed, each half is audited again. A proof audited alone is in
        the same environment as in phase 1, so its verdict is its own.
        """
        if not tasks:
            return []
        single = len(tasks) == 1
        # Alone, a proof gets the per-proof limit, as in phase 1. A group gets what its proofs took
        # in phase 1 twice over, plus that limit: a timeout only means "look closer".
        budget = self.pool.timeout_s if single else sum(seconds) * 2 + self.pool.timeout_s
        start = time.monotonic()
        try:
            result = self.ensure().audit(tasks, budget)
        except CoqInfraError as err:
            return [Verdict(Status.ERROR, f"error: {err}", seconds=s) for s in seconds]
        if result.outcome in ("timeout", "died", "output", "unknown"):
            self.drop()
        if single and result.outcome == "died" and retry:
            # The worker died under this one proof: try once more on a fresh worker.
            again = self.audit(tasks, seconds, retry=False)[0]
            if again.reason.startswith(_DIED):
                return [_crashed_twice(result.lines[0] if result.lines else _DIED, again.reason, again.seconds)]
            return [again]
        share = (time.monotonic() - start) / len(tasks)
        if result.outcome == "assumptions" and closed(result.lines):
            return [Verdict(Status.VERIFIED, "verified", seconds=s + share) for s in seconds]
        if not single:
            j = result.failed
            if j is not None:
                return (self.audit(tasks[:j], seconds[:j]) + self.audit([tasks[j]], [seconds[j]])
                        + self.audit(tasks[j + 1:], seconds[j + 1:]))
            half = len(tasks) // 2
            return self.audit(tasks[:half], seconds[:half]) + self.audit(tasks[half:], seconds[half:])
        return [_audit_verdict(tasks[0], result, seconds[0] + share, self.pool.timeout_s)]


_DIED = "rejected: coqtop died"


def _crashed_twice(first: str, second: str, seconds: float) -> Verdict:
    """The verdict for a proof under which coqtop died twice, on two workers."""
    what = first.removeprefix("rejected: ")
    later = second.removeprefix("rejected: ")
    return Verdict(Status.REJECTED, f"rejected: crashed twice: {what}" + ("" if later == what else f"; then {later}"),
                   seconds=seconds)


def _audit_verdict(task: ProofTask, result: Audit, seconds: float, timeout_s: float) -> Verdict:
    """The verdict for one proof whose audit did not end in "closed"."""
    lines = own_name(result.lines, task.name)  # the replay ran under an internal name: say the task's own
    err = first_error(lines)
    if result.outcome == "assumptions":
        return Verdict(Status.REJECTED, axioms_reason(lines), tuple(lines), seconds)
    if result.outcome == "compile":
        return Verdict(Status.REJECTED, f"rejected: {err or 'the proof did not compile'}", tuple(lines), seconds)
    if result.outcome == "check":
        return Verdict(Status.REJECTED, f"rejected: {task.name} does not prove the stated statement"
                       + (f" ({err})" if err else ""), tuple(lines), seconds)
    if result.outcome == "timeout":
        return Verdict(Status.TIMEOUT, f"timeout after {timeout_s:.1f}s", seconds=seconds)
    if result.outcome == "died":
        return Verdict(Status.REJECTED, lines[0] if lines else _DIED, seconds=seconds)
    if result.outcome == "output":
        return Verdict(Status.REJECTED, f"rejected: output limit ({lines[0] if lines else ''})", seconds=seconds)
    return Verdict(Status.REJECTED, "rejected: the audit gave no usable answer"
                   + (f" ({lines[0]})" if lines else ""), tuple(lines), seconds)


_VM_CHECKED = re.compile(r"\b(?:lia|nia|psatz|lra|nra|omega)\b")


def replay_cost(proof: str, phase1_s: float) -> float:
    """What replaying a proof in the audit is expected to cost, from what its tactics took in phase 1.

    The replay runs the tactics again and then Qed. For most proofs Qed is cheap; for the
    arithmetic deciders it re-runs their certificate check in the kernel's VM, which measured
    1 to 1.5 times the tactic's own time (Coq 8.16.1). About 3 ms per proof go to writing,
    loading, checking and binding it. Only the balance between workers depends on this.
    """
    return phase1_s * (2.5 if _VM_CHECKED.search(proof) else 1.0) + 0.003


def audit_groups(costs: list[float], groups: int) -> list[list[int]]:
    """Indices into ``costs`` cut into ``groups`` groups of about equal total cost.

    Longest first, each to the group with the least so far; each group keeps
    the original order. Empty groups are dropped.
    """
    load = [0.0] * groups
    members: list[list[int]] = [[] for _ in range(groups)]
    for i in sorted(range(len(costs)), key=lambda i: -costs[i]):
        g = min(range(groups), key=load.__getitem__)
        load[g] += costs[i]
        members[g].append(i)
    return [sorted(m) for m in members if m]


class CoqVerifier:
    """Pooled ground truth for Coq; see the module docstring for the admission rule."""

    backend = "coq"

    def __init__(self, workers: int = 2, timeout_s: float = 10.0, memory_mb: int = 2048,
                 recycle_after: int = 500, header: str | None = None, chunk_size: int = 128,
                 max_output_bytes: int = 1_000_000, coqtop: str = "coqtop", phase1_chunk: int = 8,
                 single_pass: bool = True, keep_up_to: int = 512):
        """``chunk_size`` caps an audit group (one ``Print Assumptions`` each); ``phase1_chunk`` is
        how many proofs a worker takes from the queue at a time. ``single_pass`` runs every
        proof once and keeps it in place (see the module docstring); False, or a header under
        which proofs cannot be kept in modules, runs phase 1 and the audit instead. ``keep_up_to``
        caps how many proofs a worker keeps before it prints their assumptions (one
        ``Print Assumptions`` each time, about 0.3 s, and what a killed worker loses)."""
        if workers < 1 or timeout_s <= 0 or memory_mb < 128 or recycle_after < 1 or chunk_size < 1 \
                or phase1_chunk < 1 or keep_up_to < 1:
            raise ValueError("workers, recycle_after, chunk_size, phase1_chunk and keep_up_to must be >= 1, "
                             "timeout_s > 0, memory_mb >= 128")
        self.workers = workers
        self.timeout_s = timeout_s
        self.memory_mb = memory_mb
        self.recycle_after = recycle_after
        self.header = default_header() if header is None else header
        self.chunk_size = chunk_size
        self.phase1_chunk = phase1_chunk
        self.max_output_bytes = max_output_bytes
        self.coqtop = coqtop
        self.single_pass = single_pass
        self.keep_up_to = keep_up_to
        self._slots = [_Slot(self) for _ in range(workers)]
        self._generation = 0  # close() adds one: see _Slot.generation
        self._version: str | None = None
        self._busy = threading.Lock()

    def version(self) -> str:
        if self._version is None:
            self._version = coq_version(self.coqtop)
        return self._version

    def verify(self, tasks: Sequence[ProofTask], progress: Progress | None = None) -> list[Verdict]:
        if not self._busy.acquire(blocking=False):
            raise RuntimeError("CoqVerifier.verify is not re-entrant; use one verifier per thread")
        try:
            return self._verify(list(tasks), progress)
        finally:
            self._busy.release()

    def _keeps(self) -> bool:
        """Whether this pool runs the single pass: asked for, and the header lets proofs be kept in modules."""
        if not self.single_pass:
            return False
        try:
            return self._slots[0].ensure().modules_ok()
        except (CoqInfraError, ProcessTimeout, ProcessDied, OutputLimit):
            self._slots[0].drop()
            return False  # the two-phase path reports what is wrong with the header, proof by proof

    def _verify(self, tasks: list[ProofTask], progress: Progress | None) -> list[Verdict]:
        if self._keeps():
            return _SinglePass(self, tasks, progress).run()
        verdicts: list[Verdict | None] = [precheck(t) for t in tasks]
        pending = deque(i for i, v in enumerate(verdicts) if v is None)
        if progress and len(pending) < len(tasks):
            progress(len(tasks) - len(pending))
        passed: list[tuple[int, float]] = []  # (task index, phase-1 seconds) of proofs the audit decides
        lock = threading.Lock()

        # Phase 1: small chunks from a shared queue, smaller still near its end, so that no worker is
        # left with a long chunk while the others wait. A killed worker puts the rest of its chunk back.
        def size() -> int:
            return min(self.phase1_chunk, max(1, len(pending) // (2 * self.workers)))

        def phase1(slot: _Slot, chunk: list[int]) -> list[int]:
            done = slot.phase1([tasks[i] for i in chunk])
            with lock:
                for i, p in zip(chunk, done):
                    if p.verdict is None:
                        passed.append((i, p.seconds))
                    else:
                        verdicts[i] = p.verdict
                if progress:
                    progress(sum(p.verdict is not None for p in done))
            return chunk[len(done):]

        self._on_slots(pending, size, phase1)

        # Phase 2: groups of about equal replay cost, at least one per worker, at most chunk_size each.
        passed.sort()
        groups = max(min(self.workers, len(passed)), -(-len(passed) // self.chunk_size))
        costs = [replay_cost(tasks[i].proof, s) for i, s in passed]
        queue = deque([passed[k] for k in g]
                      for g in sorted(audit_groups(costs, groups), key=lambda g: -sum(costs[k] for k in g)))

        def phase2(slot: _Slot, items: list[list[tuple[int, float]]]) -> list:
            (group,) = items
            got = slot.audit([tasks[i] for i, _ in group], [s for _, s in group])
            with lock:
                for (i, _), v in zip(group, got):
                    verdicts[i] = v
                if progress:
                    progress(len(got))
            return []

        self._on_slots(queue, lambda: 1, phase2)
        return verdicts  # type: ignore[return-value]  (every index was filled)

    def _on_slots(self, queue: deque, size: Callable[[], int], work,
                  own: Callable[[_Slot], bool] = lambda slot: False) -> None:
        """Run ``work(slot, items)`` on every slot's thread until ``queue`` is empty.

        Each call takes up to ``size()`` items and returns those it could not do,
        which go back to the front of the queue for any slot. A slot for which
        ``own(slot)`` is true has work of its own: when the queue has nothing for it,
        it calls ``work(slot, None)`` instead of waiting. The first exception raised
        on a slot's thread is raised here once all have stopped.
        """
        cond = threading.Condition()
        in_flight = 0  # calls running: one that returns items may refill an empty queue
        generation = self._generation
        failures: list[BaseException] = []

        def take(slot: _Slot) -> list | None:
            """The next items, or None for the slot's own work; waits while others are busy and
            might put work back; [] when all is done."""
            nonlocal in_flight
            with cond:
                while self._generation == generation and not queue and in_flight and not own(slot):
                    cond.wait()
                if self._generation != generation:  # closed under us (the caller was interrupted)
                    return []
                items = [queue.popleft() for _ in range(min(size(), len(queue)))]
                if not items and own(slot):
                    in_flight += 1
                    return None
                in_flight += bool(items)
                return items

        def serve(slot: _Slot) -> None:
            nonlocal in_flight
            slot.generation = generation
            try:
                while (items := take(slot)) is None or items:
                    back = items
                    try:
                        back = work(slot, items)
                    finally:
                        with cond:
                            queue.extendleft(reversed(back))
                            in_flight -= 1
                            cond.notify_all()
            except BaseException as err:  # re-raised in the caller's thread below
                failures.append(err)
            finally:
                slot.generation = None

        threads = [threading.Thread(target=serve, args=(s,), name=f"coq-slot-{k}")
                   for k, s in enumerate(self._slots)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        if failures:
            raise failures[0]

    def close(self) -> None:
        """End every worker. Slot threads still running (the caller was interrupted in a check)
        take no more work and start no new coqtop."""
        self._generation += 1
        for slot in self._slots:
            slot.drop()

    def __enter__(self) -> "CoqVerifier":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _SinglePass:
    """One ``verify`` call on the single pass (module docstring, "Single pass").

    Each slot takes chunks of proofs from a shared queue and commits them on its
    worker; the proofs that compile and prove their statement are kept there. When a
    slot holds ``keep_up_to`` kept proofs, or the queue has nothing for it, it flushes:
    one ``Print Assumptions`` over all it keeps (halves again only if that is not
    closed), a reset to the header's state, and then the failures that happened while
    something was kept are judged again on the clean worker, whose verdict is final.
    A worker that has to be killed loses what it kept: those proofs go back to the queue.
    """

    def __init__(self, pool: "CoqVerifier", tasks: list[ProofTask], progress: Progress | None):
        self.pool, self.tasks, self.progress = pool, tasks, progress
        self.verdicts: list[Verdict | None] = [precheck(t) for t in tasks]
        self.statements = list(dict.fromkeys(t.statement for t, v in zip(tasks, self.verdicts) if v is None))
        self.lock = threading.Lock()
        # Per slot: (task index, check name, seconds) of the proofs its worker keeps, and the
        # failures that ran while something was kept: (task index, verdict, the worker it ran on).
        self.kept: dict[int, list[tuple[int, str, float]]] = {id(s): [] for s in pool._slots}
        self.again: dict[int, list[tuple[int, Verdict, CoqWorker]]] = {id(s): [] for s in pool._slots}
        self.lost: Counter = Counter()  # how often a proof was lost with a worker while its assumptions were printed
        self._infra = ""

    def run(self) -> list[Verdict]:
        pending = deque(i for i, v in enumerate(self.verdicts) if v is None)
        if self.progress and len(pending) < len(self.tasks):
            self.progress(len(self.tasks) - len(pending))
        workers = self.pool.workers

        def size() -> int:
            return min(self.pool.phase1_chunk, max(1, len(pending) // (2 * workers)))

        self.pool._on_slots(pending, size, self.work, own=self.own)
        return self.verdicts  # type: ignore[return-value]  (every index was filled)

    def own(self, slot: "_Slot") -> bool:
        return bool(self.kept[id(slot)] or self.again[id(slot)])

    def _final(self, pairs: list[tuple[int, Verdict]]) -> None:
        with self.lock:
            for i, v in pairs:
                assert self.verdicts[i] is None, f"task {i} judged twice"
                self.verdicts[i] = v
            if self.progress and pairs:
                self.progress(len(pairs))

    def _ready(self, slot: "_Slot") -> CoqWorker | None:
        """The slot's worker with every statement of the batch bound; None if no worker can start."""
        try:
            if not self.kept[id(slot)]:
                worker = slot.ensure()  # recycles a worker that has judged enough, but never one that keeps proofs
            else:
                worker = slot.worker
                assert worker is not None
            if worker.kept == 0 and not worker.bind(self.statements, self.pool.timeout_s):
                slot.drop()
                worker = slot.ensure()
                if not worker.bind(self.statements, self.pool.timeout_s):
                    raise CoqInfraError("the statements could not be bound on a fresh worker")
            return worker
        except CoqInfraError as err:
            slot.drop()
            self._infra = str(err)
            return None

    def work(self, slot: "_Slot", items: list[int | None]) -> list[int]:
        """Commit a chunk from the queue (``items``), or flush what the slot holds (``items`` is None)."""
        if items is None:
            return self.flush(slot)
        worker = self._ready(slot)
        if worker is None:
            self._final([(i, Verdict(Status.ERROR, f"error: {self._infra}")) for i in items])
            return []
        bad = [(i, v) for i in items if isinstance(v := worker.statements.get(self.tasks[i].statement), Verdict)]
        self._final(bad)
        todo = [i for i in items if not isinstance(worker.statements.get(self.tasks[i].statement), Verdict)]
        back = self.commit(slot, worker, todo)
        if len(self.kept[id(slot)]) >= self.pool.keep_up_to:
            back += self.flush(slot)
        return back

    def commit(self, slot: "_Slot", worker: CoqWorker, todo: list[int]) -> list[int]:
        """Commit ``todo`` on ``worker``; returns what must go back to the queue."""
        if not todo:
            return []
        kept, again = self.kept[id(slot)], self.again[id(slot)]
        done, healthy = worker.commit([self.tasks[i] for i in todo], self.pool.timeout_s)
        final = []
        for i, r in zip(todo, done):
            dirty = bool(kept)  # something else was kept when this proof ran
            if r.check is not None:
                kept.append((i, r.check, r.seconds))
            elif r.crashed:
                continue  # handled below, once the worker is gone
            elif dirty:
                again.append((i, r.verdict, worker))
            else:
                final.append((i, r.verdict))
        self._final(final)
        back = todo[len(done):]
        if not healthy:
            slot.drop()
            back = [i for i, _, _ in kept] + back  # what the killed worker kept is lost: commit it again
            kept.clear()
        if done and done[-1].crashed:
            back += self.crashed(slot, todo[len(done) - 1], done[-1])
        return back

    def crashed(self, slot: "_Slot", i: int, first: Kept) -> list[int]:
        """A proof under which coqtop died: once more, alone, on a fresh worker (a second crash rejects it)."""
        worker = self._ready(slot)
        if worker is None:
            self._final([(i, Verdict(Status.ERROR, f"error: {self._infra}", seconds=first.seconds))])
            return []
        (again,), healthy = worker.commit([self.tasks[i]], self.pool.timeout_s)
        if again.check is not None:
            self.kept[id(slot)].append((i, again.check, first.seconds + again.seconds))
        elif again.crashed:
            self._final([(i, _crashed_twice(first.verdict.reason, again.verdict.reason,
                                            first.seconds + again.seconds))])
        else:
            self._final([(i, again.verdict)])  # the fresh worker kept nothing: the verdict is its own
        if not healthy:
            slot.drop()
            if again.check is not None:  # cannot happen (a kept proof leaves the worker healthy); be safe
                self.kept[id(slot)].clear()
                return [i]
        return []

    def flush(self, slot: "_Slot") -> list[int]:
        """Judge the assumptions of everything kept, reset, and settle the failures that ran beside it.

        A failure stands as it is if the worker it ran on is still here and what its kept
        proofs could have changed for it is as it was with nothing kept (``fingerprint``);
        otherwise it is judged again once the worker is reset, and that verdict is final.
        """
        back: list[int] = []
        while self.kept[id(slot)] or self.again[id(slot)]:
            kept, again = self.kept[id(slot)], self.again[id(slot)]
            worker = slot.worker
            if again and worker is not None and worker.pristine is not None \
                    and any(w is worker for _, _, w in again) and worker.fingerprint() == worker.pristine:
                self._final([(i, v) for i, v, w in again if w is worker])
                again[:] = [e for e in again if e[2] is not worker]
            if kept:
                group = list(kept)
                kept.clear()
                back += self.assumptions(slot, group)
                if slot.worker is not None and not slot.worker.reset():
                    slot.drop()
            if again and not kept:
                redo = [i for i, _, _ in again]
                again.clear()
                worker = self._ready(slot)
                if worker is None:
                    self._final([(i, Verdict(Status.ERROR, f"error: {self._infra}")) for i in redo])
                    continue
                back += self.commit(slot, worker, redo)  # the first runs on a clean worker: final
        return back

    def assumptions(self, slot: "_Slot", group: list[tuple[int, str, float]]) -> list[int]:
        """Final verdicts for kept proofs from ``Print Assumptions``; returns what must be committed again."""
        worker = slot.worker
        assert worker is not None
        start = time.monotonic()
        result = worker.assume([c for _, c, _ in group], self.pool.timeout_s + sum(s for _, _, s in group))
        share = (time.monotonic() - start) / len(group)
        if result.outcome != "assumptions":
            slot.drop()  # killed, or not to be trusted: what it kept is lost
            with self.lock:  # slots share the counter
                self.lost.update(i for i, _, _ in group)
                twice = [(i, s) for i, _, s in group if self.lost[i] >= 2]
                again = [i for i, _, _ in group if self.lost[i] < 2]
            for i, s in twice:  # lost twice: replay it alone, as the two-phase audit does, and believe that
                self._final([(i, slot.audit([self.tasks[i]], [s])[0])])
            return again
        if closed(result.lines):
            self._final([(i, Verdict(Status.VERIFIED, "verified", seconds=s + share)) for i, _, s in group])
            return []
        if len(group) == 1:
            (i, _, s), = group
            lines = own_name(result.lines, self.tasks[i].name)
            self._final([(i, Verdict(Status.REJECTED, axioms_reason(lines), tuple(lines), s + share))])
            return []
        half = len(group) // 2
        back = self.assumptions(slot, group[:half])
        if slot.worker is not worker:  # the first half killed the worker: the second half was lost with it
            return back + [i for i, _, _ in group[half:]]
        return back + self.assumptions(slot, group[half:])
