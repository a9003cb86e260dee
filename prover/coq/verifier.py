"""The pooled Coq verifier: N persistent coqtop workers checking proofs concurrently.

Admission, in order (the first that fails decides the verdict):

1. the static policy (``prover.coq.policy``) on the body, and sanity checks
   on the statement and the theorem name: no prover process sees a refused proof;
2. phase 1 on a worker (see ``prover.coq.worker``): the theorem compiles with
   no error, and what the theorem name denotes inhabits the statement as Coq
   elaborated it before the proof ran (a Definition, which no proof text can subvert);
3. phase 2: ``Print Assumptions`` answers exactly "Closed under the global
   context" for it.

Threads are enough for concurrency: each worker thread spends its time
waiting on its own coqtop, and coqtop does the work. A worker that times out,
dies or floods its output is killed (its whole process group) and replaced;
the proof it was checking gets ``timeout`` or ``rejected``, never ``verified``.
"""
from __future__ import annotations

import re
import subprocess
import threading
import time
from collections import deque
from typing import Sequence

from prover.coq.header import default_header
from prover.coq.policy import check_coq_name, check_coq_policy, check_coq_statement
from prover.coq.process import find_program
from prover.coq.worker import CoqInfraError, CoqWorker, axioms_reason, closed
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
    """The verdict for a task that must not reach a prover (bad name or statement, policy refusal)."""
    problem = check_coq_name(task.name) or check_coq_statement(task.statement)
    if problem:
        return Verdict(Status.ERROR, f"error: {problem}")
    policy = check_coq_policy(task.proof)
    if not policy.admissible:
        return Verdict(Status.REJECTED, policy.reason)
    return None


class _Slot:
    """One worker position in the pool: starts, recycles and replaces its coqtop."""

    def __init__(self, pool: "CoqVerifier"):
        self.pool = pool
        self.worker: CoqWorker | None = None

    def ensure(self) -> CoqWorker:
        if self.worker is not None and (self.worker.uses >= self.pool.recycle_after
                                        or not self.worker.process.alive()):
            self.drop()
        if self.worker is None:
            self.worker = CoqWorker(self.pool.header, self.pool.memory_mb, self.pool.max_output_bytes,
                                    coqtop=self.pool.coqtop)
        return self.worker

    def drop(self) -> None:
        if self.worker is not None:
            self.worker.close()
            self.worker = None

    def run(self, tasks: list[ProofTask]) -> list[Verdict]:
        """Verdicts for a prefix of ``tasks``, in order (all of them unless the worker had to be killed).

        The caller puts the rest back in the queue, where any worker may take them.
        """
        try:
            worker = self.ensure()
        except CoqInfraError as err:
            return [Verdict(Status.ERROR, f"error: {err}")] * len(tasks)
        done, healthy = worker.check(tasks[:max(1, self.pool.recycle_after - worker.uses)], self.pool.timeout_s)
        if not healthy:
            self.drop()
        verdicts: list[Verdict | None] = [p.verdict for p in done]
        passed = [i for i, v in enumerate(verdicts) if v is None]
        for i, v in zip(passed, self._audit([tasks[i] for i in passed], [done[i].seconds for i in passed])):
            verdicts[i] = v
        return verdicts  # type: ignore[return-value]  (every slot is filled by now)

    def _audit(self, tasks: list[ProofTask], seconds: list[float]) -> list[Verdict]:
        """Verdicts from ``Print Assumptions`` for proofs that passed phase 1.

        The whole chunk is audited at once. If the answer is not "closed" (or
        the worker fails), the chunk is halved and each half audited again, so
        the proofs to blame are found in a few audits and each gets its own reason.
        """
        if not tasks:
            return []
        # Each replay already compiled within the timeout in phase 1; allow the same again plus slack.
        start = time.monotonic()
        try:
            out = self._audit_once(tasks, sum(seconds) * 2 + self.pool.timeout_s)
        except CoqInfraError as err:
            return [Verdict(Status.ERROR, f"error: {err}", seconds=s) for s in seconds]
        share = (time.monotonic() - start) / len(tasks)
        if out is not None and closed(out):
            return [Verdict(Status.VERIFIED, "verified", seconds=s + share) for s in seconds]
        if len(tasks) > 1:
            half = len(tasks) // 2
            return self._audit(tasks[:half], seconds[:half]) + self._audit(tasks[half:], seconds[half:])
        took = seconds[0] + share
        if out is None:
            return [Verdict(Status.REJECTED, "rejected: the axiom check did not complete", seconds=took)]
        # The replay ran under a fresh internal name: say the task's own name instead.
        reason = axioms_reason([re.sub(r"ratchet__(?:pa|chk|acc)_[0-9a-f]+(?:_\d+)?", tasks[0].name, ln)
                                for ln in out])
        return [Verdict(Status.REJECTED, reason, tuple(out), took)]

    def _audit_once(self, tasks: list[ProofTask], budget: float) -> list[str] | None:
        """What Print Assumptions said for ``tasks``, or None if the worker failed (and was dropped)."""
        out = self.ensure().audit(tasks, budget)
        if out is None:
            self.drop()
        return out


class CoqVerifier:
    """Pooled ground truth for Coq; see the module docstring for the admission rule."""

    backend = "coq"

    def __init__(self, workers: int = 2, timeout_s: float = 10.0, memory_mb: int = 2048,
                 recycle_after: int = 500, header: str | None = None, chunk_size: int = 128,
                 max_output_bytes: int = 1_000_000, coqtop: str = "coqtop"):
        if workers < 1 or timeout_s <= 0 or memory_mb < 128 or recycle_after < 1 or chunk_size < 1:
            raise ValueError("workers, recycle_after and chunk_size must be >= 1, timeout_s > 0, memory_mb >= 128")
        self.workers = workers
        self.timeout_s = timeout_s
        self.memory_mb = memory_mb
        self.recycle_after = recycle_after
        self.header = default_header() if header is None else header
        self.chunk_size = chunk_size
        self.max_output_bytes = max_output_bytes
        self.coqtop = coqtop
        self._slots = [_Slot(self) for _ in range(workers)]
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

    def _verify(self, tasks: list[ProofTask], progress: Progress | None) -> list[Verdict]:
        verdicts: list[Verdict | None] = [precheck(t) for t in tasks]
        pending = deque(i for i, v in enumerate(verdicts) if v is None)
        if progress and len(pending) < len(tasks):
            progress(len(tasks) - len(pending))
        # One chunk per worker when the batch is small, chunk_size when it is large: each chunk pays
        # one Print Assumptions, so fewer, larger chunks are cheaper; equal ones keep workers busy alike.
        size = min(self.chunk_size, max(1, -(-len(pending) // self.workers)))
        cond = threading.Condition()
        in_flight = 0  # chunks being checked: a worker that is killed puts the rest of its chunk back
        failures: list[BaseException] = []

        def take() -> list[int]:
            """The next chunk; waits while others are busy and might put work back; [] when all is done."""
            nonlocal in_flight
            with cond:
                while not pending and in_flight:
                    cond.wait()
                chunk = [pending.popleft() for _ in range(min(size, len(pending)))]
                in_flight += bool(chunk)
                return chunk

        def serve(slot: _Slot) -> None:
            nonlocal in_flight
            try:
                while chunk := take():
                    got: list[Verdict] = []
                    try:
                        got = slot.run([tasks[i] for i in chunk])
                    finally:
                        with cond:
                            for i, v in zip(chunk, got):
                                verdicts[i] = v
                            pending.extendleft(reversed(chunk[len(got):]))  # after a kill: back to the queue
                            in_flight -= 1
                            cond.notify_all()
                            if progress:
                                progress(len(got))
            except BaseException as err:  # re-raised in the caller's thread below
                failures.append(err)

        threads = [threading.Thread(target=serve, args=(s,), name=f"coq-slot-{k}")
                   for k, s in enumerate(self._slots)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        if failures:
            raise failures[0]
        return verdicts  # type: ignore[return-value]  (every index was filled)

    def close(self) -> None:
        for slot in self._slots:
            slot.drop()

    def __enter__(self) -> "CoqVerifier":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
