"""Own the Lean REPL processes: start, talk, time out, kill, recycle, restart.

One ``ReplSession`` is one REPL process that has loaded the import header once;
every proof then runs in the header's environment (the REPL's ``env`` field),
so nothing a proof declares is visible to the next proof, and the header is
elaborated once per process instead of once per proof.

``ReplPool`` runs ``workers`` sessions on threads (the work is waiting on
child processes, so threads suffice) and returns results in input order.
Every child runs in its own process group with an address-space limit; on a
timeout the whole group is killed with SIGKILL (by the pid we started, never
by name) and the slot starts a fresh process for its next proof.

Faults are exceptions here (``ReplTimeout``, ``ReplCrashed``,
``ReplProtocolError``, ``ReplStartError``); the pool turns them into verdicts:
a timeout is ``timeout``; a process that prints out of protocol while checking
a proof is ``rejected`` (never ``verified``); a process that dies while
checking a proof is not believed at once: the proof is tried once more on a
fresh process, and only a second crash makes it ``rejected`` ("crashed
twice"); a process that cannot start or load the header is ``error``
(infrastructure, the proof was not judged).
"""
from __future__ import annotations

import os
import resource
import select
import signal
import subprocess
import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Generic, Mapping, Sequence, TypeVar

from prover.lean.protocol import (CommandResponse, ProtocolError, ReplResponse, ResponseFramer,
                                  encode_request, parse_block, parse_response)
from prover.verdict import Progress, Status, Verdict

MAX_BUFFERED_BYTES = 64 * 1024 * 1024  # a block this large is a flood, not a response
STDERR_TAIL_BYTES = 2000


class ReplFailure(Exception):
    """The REPL process, not the proof, went wrong."""


class ReplTimeout(ReplFailure):
    pass


class ReplCrashed(ReplFailure):
    pass


class ReplProtocolError(ReplFailure):
    pass


class ReplStartError(ReplFailure):
    """The process could not be started or could not load the header: an infrastructure error."""


@dataclass(frozen=True)
class LaunchSpec:
    """How to start one REPL process."""
    argv: tuple[str, ...]
    cwd: str | None = None
    env: Mapping[str, str] | None = None  # None: inherit ours


def _address_space_limit(memory_mb: int) -> Callable[[], None]:
    limit = memory_mb * 1024 * 1024

    def apply() -> None:  # runs in the child between fork and exec
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    return apply


def _exit_status_unreaped(pid: int) -> tuple[bool, int | None]:
    """(exited?, exit code or -signal) for our child ``pid``, without reaping it.

    While an exited child is not reaped it stays a zombie, so its pid (and the
    process-group id it leads) cannot be reused: a following killpg can only
    reach the processes we started.
    """
    try:
        info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return True, None
    if info is None:
        return False, None
    if info.si_code == os.CLD_EXITED:
        return True, info.si_status
    return True, -info.si_status


def _wait_unreaped(pid: int, timeout_s: float) -> tuple[bool, int | None]:
    deadline = time.monotonic() + timeout_s
    while True:
        exited, code = _exit_status_unreaped(pid)
        if exited or time.monotonic() >= deadline:
            return exited, code
        time.sleep(0.01)


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass  # the group is already gone


class ReplProcess:
    """One REPL child: a request goes in, exactly one response block comes out."""

    def __init__(self, spec: LaunchSpec, memory_mb: int) -> None:
        self._stderr = tempfile.TemporaryFile()
        try:
            self._proc = subprocess.Popen(
                list(spec.argv), cwd=spec.cwd, env=None if spec.env is None else dict(spec.env),
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr, bufsize=0,
                start_new_session=True, preexec_fn=_address_space_limit(memory_mb))
        except OSError as err:
            self._stderr.close()
            raise ReplStartError(f"cannot start {spec.argv[0]!r}: {err}") from None
        self.pid = self._proc.pid
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._in = self._proc.stdin.fileno()
        self._out = self._proc.stdout.fileno()
        os.set_blocking(self._in, False)
        os.set_blocking(self._out, False)
        self._framer = ResponseFramer()
        self._blocks: deque[str] = deque()
        self._buffered = 0
        self.closed = False

    # -- talking ---------------------------------------------------------------------------------

    def request(self, request: dict[str, Any], deadline: float) -> dict[str, Any]:
        self._check_in_sync()
        self._write(encode_request(request).encode("utf-8"), deadline)
        block = self._read_block(deadline)
        try:
            return parse_block(block)
        except ProtocolError as err:
            raise ReplProtocolError(str(err)) from None

    def _check_in_sync(self) -> None:
        # Output we did not ask for can only come from something a proof made Lean print;
        # after that, no later response on this stream can be trusted.
        if self._blocks or self._framer.pending():
            raise ReplProtocolError("unsolicited output before the request was sent")
        readable, _, _ = select.select([self._out], [], [], 0)
        if readable:
            try:
                data = os.read(self._out, 65536)
            except BlockingIOError:
                return
            if not data:
                raise ReplCrashed(self._death_note())
            raise ReplProtocolError(f"unsolicited output before the request was sent: {data[:120]!r}")

    def _write(self, data: bytes, deadline: float) -> None:
        view = memoryview(data)
        while view:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ReplTimeout("timed out writing the request")
            _, writable, _ = select.select([], [self._in], [], remaining)
            if not writable:
                continue
            try:
                written = os.write(self._in, view)
            except BlockingIOError:
                continue
            except (BrokenPipeError, ConnectionResetError):
                raise ReplCrashed(self._death_note()) from None
            view = view[written:]

    def _read_block(self, deadline: float) -> str:
        while not self._blocks:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ReplTimeout("timed out waiting for the response")
            readable, _, _ = select.select([self._out], [], [], remaining)
            if not readable:
                continue
            try:
                data = os.read(self._out, 65536)
            except BlockingIOError:
                continue
            if not data:
                raise ReplCrashed(self._death_note())
            self._buffered += len(data)
            if self._buffered > MAX_BUFFERED_BYTES:
                raise ReplProtocolError(f"more than {MAX_BUFFERED_BYTES} bytes without a response end")
            try:
                self._blocks.extend(self._framer.feed(data))
            except ProtocolError as err:
                raise ReplProtocolError(str(err)) from None
        block = self._blocks.popleft()
        self._buffered = 0
        if self._blocks:
            raise ReplProtocolError("more than one response block for one request")
        return block

    # -- ending ----------------------------------------------------------------------------------

    def stderr_tail(self) -> str:
        try:
            self._stderr.seek(0, os.SEEK_END)
            size = self._stderr.tell()
            self._stderr.seek(max(0, size - STDERR_TAIL_BYTES))
            return self._stderr.read().decode("utf-8", "replace").strip()
        except (OSError, ValueError):
            return ""

    def _death_note(self) -> str:
        exited, code = _wait_unreaped(self.pid, 2.0)
        if not exited or code is None:
            what = "closed its output"
        elif code < 0:
            what = f"was killed by signal {-code}"
        else:
            what = f"exited with code {code}"
        tail = self.stderr_tail()
        hint = " (memory limit?)" if "memory" in tail.lower() or code in (-signal.SIGKILL, -signal.SIGSEGV) else ""
        return f"REPL process {self.pid} {what}{hint}" + (f"; stderr: {tail[-400:]}" if tail else "")

    def kill(self) -> None:
        """SIGKILL the whole process group, then reap the child."""
        if self.closed:
            return
        _kill_group(self.pid)
        self._finish()

    def close(self, grace_s: float = 2.0) -> None:
        """End politely (EOF ends the REPL), then make sure the whole group is gone."""
        if self.closed:
            return
        try:
            self._proc.stdin.close()  # type: ignore[union-attr]
        except OSError:
            pass
        _wait_unreaped(self.pid, grace_s)
        _kill_group(self.pid)  # also takes any grandchildren (e.g. the REPL under `lake env`)
        self._finish()

    def _finish(self) -> None:
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass  # unkillable (D state); nothing more a user process can do
        for stream in (self._proc.stdin, self._proc.stdout):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass
        self._stderr.close()
        self.closed = True


class ReplSession:
    """A REPL process with the header loaded; ``header_env`` is the environment proofs run in."""

    def __init__(self, spec: LaunchSpec, header: str, memory_mb: int, startup_timeout_s: float) -> None:
        self.process = ReplProcess(spec, memory_mb)
        self.uses = 0
        try:
            response = self.command(header, None, time.monotonic() + startup_timeout_s)
        except ReplFailure as err:
            tail = self.process.stderr_tail()
            self.process.kill()
            raise ReplStartError(f"loading the header failed: {err}"
                                 + (f"; stderr: {tail[-400:]}" if tail and tail not in str(err) else "")) from None
        if not isinstance(response, CommandResponse) or response.env is None:
            self.process.kill()
            raise ReplStartError(f"loading the header failed: unexpected response {response}")
        if response.errors:
            self.process.kill()
            raise ReplStartError(f"the header does not compile: {response.errors[0].render()}")
        self.header_env: int = response.env

    @property
    def pid(self) -> int:
        return self.process.pid

    def command(self, cmd: str, env: int | None, deadline: float) -> ReplResponse:
        request: dict[str, Any] = {"cmd": cmd}
        if env is not None:
            request["env"] = env
        obj = self.process.request(request, deadline)
        try:
            return parse_response(obj)
        except ProtocolError as err:
            raise ReplProtocolError(str(err)) from None

    def close(self) -> None:
        self.process.close()

    def kill(self) -> None:
        self.process.kill()


T = TypeVar("T")
Judge = Callable[[ReplSession, T, float], Verdict]  # (session, item, deadline) -> verdict


@dataclass
class PoolStats:
    started: int = 0
    timeouts: int = 0
    crashes: int = 0
    protocol_errors: int = 0
    recycled: int = 0
    pids: list[int] = field(default_factory=list)  # every process this pool started, in order


class ReplPool(Generic[T]):
    """``workers`` REPL sessions for one header, judging items concurrently, in input order."""

    def __init__(self, spec: LaunchSpec, header: str, *, workers: int, timeout_s: float, memory_mb: int,
                 recycle_after: int, startup_timeout_s: float = 300.0, start_attempts: int = 2) -> None:
        if workers < 1 or recycle_after < 1 or timeout_s <= 0 or memory_mb < 1:
            raise ValueError("workers, recycle_after, timeout_s and memory_mb must be positive")
        self.spec = spec
        self.header = header
        self.workers = workers
        self.timeout_s = timeout_s
        self.memory_mb = memory_mb
        self.recycle_after = recycle_after
        self.startup_timeout_s = startup_timeout_s
        self.start_attempts = start_attempts
        self.stats = PoolStats()
        self._sessions: list[ReplSession | None] = [None] * workers
        self._broken: str | None = None
        self._map_lock = threading.Lock()
        self._stats_lock = threading.Lock()
        # close() adds one to _generation; a map's threads still running after it (the caller was
        # interrupted) see that their map's generation is over and start no new REPL process.
        self._generation = 0
        self._map_generation = 0

    def map(self, items: Sequence[T], judge: Judge, progress: Progress | None = None) -> list[Verdict]:
        with self._map_lock:
            self._broken = None  # each batch tries to start again after an earlier start failure
            self._map_generation = generation = self._generation
            results: list[Verdict | None] = [None] * len(items)
            queue = deque(range(len(items)))
            queue_lock = threading.Lock()
            failures: list[BaseException] = []

            def work(slot: int) -> None:
                while not failures and self._generation == generation:
                    with queue_lock:
                        if not queue:
                            return
                        index = queue.popleft()
                    try:
                        results[index] = self._judge_one(slot, items[index], judge)
                    except BaseException as err:  # a bug, not a proof outcome: stop and re-raise below
                        failures.append(err)
                        return
                    if progress is not None:
                        with queue_lock:
                            progress(1)

            threads = [threading.Thread(target=work, args=(slot,), name=f"lean-repl-{slot}", daemon=True)
                       for slot in range(min(self.workers, len(items)))]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            if failures:
                raise failures[0]
            if self._generation != generation:
                raise ReplStartError("the pool was closed while this batch ran")
            assert all(r is not None for r in results)
            return results  # type: ignore[return-value]

    def _judge_one(self, slot: int, item: T, judge: Judge, retry: bool = True) -> Verdict:
        started = time.monotonic()
        try:
            session = self._session(slot)
        except ReplStartError as err:
            return Verdict(Status.ERROR, f"Lean REPL unavailable: {err}", seconds=time.monotonic() - started)
        deadline = time.monotonic() + self.timeout_s  # header loading is not charged to the proof
        try:
            verdict = judge(session, item, deadline)
        except ReplTimeout:
            self._drop(slot, "timeouts")
            verdict = Verdict(Status.TIMEOUT, f"no answer within {self.timeout_s:g} s; "
                                              "the REPL process was killed and replaced")
        except ReplCrashed as err:
            self._drop(slot, "crashes")
            if not retry:
                raise
            # A crash says nothing about the proof until it happens again: once more, on a fresh process.
            try:
                verdict = self._judge_one(slot, item, judge, retry=False)
            except ReplCrashed as again:
                verdict = Verdict(Status.REJECTED, f"crashed twice: the REPL process died while checking "
                                                   f"this proof ({err}), and again on a fresh process ({again})")
        except ReplProtocolError as err:
            self._drop(slot, "protocol_errors")
            verdict = Verdict(Status.REJECTED, f"REPL output out of protocol while checking this proof "
                                               f"(worker replaced): {err}")
        else:
            session.uses += 1
            if session.uses >= self.recycle_after:
                self._sessions[slot] = None
                session.close()
                self._count("recycled")
        return replace(verdict, seconds=time.monotonic() - started)

    def _session(self, slot: int) -> ReplSession:
        if self._broken is not None:
            raise ReplStartError(self._broken)
        if self._map_generation != self._generation:
            raise ReplStartError("the pool was closed")
        session = self._sessions[slot]
        if session is not None:
            return session
        error: ReplStartError | None = None
        for _ in range(self.start_attempts):
            try:
                session = ReplSession(self.spec, self.header, self.memory_mb, self.startup_timeout_s)
            except ReplStartError as err:
                error = err
                continue
            with self._stats_lock:
                self.stats.started += 1
                self.stats.pids.append(session.pid)
            self._sessions[slot] = session
            if self._map_generation != self._generation:  # closed while it started: close() may have missed it
                self._sessions[slot] = None
                session.kill()
                raise ReplStartError("the pool was closed")
            return session
        assert error is not None
        self._broken = str(error)  # do not pay the start-up again for every remaining proof
        raise error

    def _drop(self, slot: int, counter: str) -> None:
        session = self._sessions[slot]
        self._sessions[slot] = None
        if session is not None:
            session.kill()
        self._count(counter)

    def _count(self, counter: str) -> None:
        with self._stats_lock:
            setattr(self.stats, counter, getattr(self.stats, counter) + 1)

    def live_pids(self) -> list[int]:
        return [s.pid for s in self._sessions if s is not None]

    def close(self) -> None:
        self._generation += 1  # before the lock: an interrupted map's threads stop taking items
        with self._map_lock:
            for slot, session in enumerate(self._sessions):
                self._sessions[slot] = None
                if session is not None:
                    session.close()


def run_limited(argv: Sequence[str], *, cwd: str | Path | None, env: Mapping[str, str] | None,
                timeout_s: float, memory_mb: int) -> tuple[int | None, str]:
    """Run one command to completion under the same limits as a REPL process.

    Returns (exit code, combined output); the code is None if it ran past
    ``timeout_s``, in which case its whole process group was killed.
    """
    with tempfile.TemporaryFile() as output:
        try:
            proc = subprocess.Popen(list(argv), cwd=cwd, env=None if env is None else dict(env),
                                    stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
                                    start_new_session=True, preexec_fn=_address_space_limit(memory_mb))
        except OSError as err:
            return 127, f"cannot start {argv[0]!r}: {err}"
        exited, _ = _wait_unreaped(proc.pid, timeout_s)
        _kill_group(proc.pid)  # leftovers of a finished run, or the whole run on a timeout
        final = proc.wait()
        output.seek(0)
        return (final if exited else None), output.read().decode("utf-8", "replace")
