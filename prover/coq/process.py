"""Owning a prover subprocess: process group, memory limit, bounded non-blocking reads, kill by pid.

A prover process runs untrusted input, so the parent never trusts it to end,
to stay small, or to print sensible amounts of text:

* it is started in a new session (its own process group), and killed with
  ``os.killpg`` on that group's id, which is the child's own pid;
* its address space is capped with ``ulimit -v`` by a tiny ``/bin/sh``
  wrapper that then ``exec``s the prover. That sets RLIMIT_AS before the prover
  runs, without a Python ``preexec_fn`` (which is unsafe in a threaded parent:
  the verifier starts replacement workers from worker threads);
* a reader thread drains its output into a queue, so a proof that prints a lot
  can never block the prover on a full pipe, and the consumer enforces both a
  wall-clock deadline and a cap on how much output it will hold.
"""
from __future__ import annotations

import os
import queue
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass

# "Coq < " and "<proof name> < " prompts are written to stderr without a newline,
# so they prefix whatever is printed next on the merged stream.
_PROMPTS = re.compile(r"^(?:[A-Za-z_][A-Za-z0-9_']* < )+")

_LIMIT_WRAPPER = 'ulimit -v "$1" || exit 111; shift; exec "$@"'
LIMIT_FAILED_RC = 111


def limited_argv(argv: list[str], memory_mb: int) -> list[str]:
    """``argv`` run under an address-space limit of ``memory_mb`` MiB (set before exec)."""
    return ["/bin/sh", "-c", _LIMIT_WRAPPER, "ratchet-limit", str(memory_mb * 1024), *argv]


class ProcessTimeout(Exception):
    """The deadline passed before the expected output arrived."""


class ProcessDied(Exception):
    """The process closed its output (it exited or was killed)."""

    def __init__(self, last_output: str):
        super().__init__(last_output)
        self.last_output = last_output


class OutputLimit(Exception):
    """The process printed more than the consumer is willing to hold."""


def strip_prompts(line: str) -> str:
    return _PROMPTS.sub("", line)


def _last_words(text: str) -> str:
    """The end of a dead process's stderr on one line, without its prompts."""
    words = " ".join(strip_prompts(ln + " ").strip() for ln in text.splitlines())
    return re.sub(r"(?:\s*[A-Za-z_][A-Za-z0-9_']* <)+\s*$", "", " ".join(words.split()))[-300:]


def kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL the process group that ``proc`` leads (started with start_new_session=True)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass  # already gone
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass  # a zombie we cannot reap right now; the group has been sent SIGKILL


class _Stream:
    """One output pipe of a process, drained by its own thread into a bounded backlog."""

    def __init__(self, pipe, name: str, max_bytes: int):
        self.pipe = pipe
        self.max_bytes = max_bytes
        self.chunks: queue.Queue[bytes] = queue.Queue()
        self.buffer = bytearray()
        self.eof = False
        self.flooded = threading.Event()  # the backlog passed max_bytes: the reader stopped reading
        self._backlog = 0
        self._lock = threading.Lock()
        threading.Thread(target=self._drain, name=name, daemon=True).start()

    def _drain(self) -> None:
        fd = self.pipe.fileno()
        while True:
            try:
                data = os.read(fd, 1 << 16)
            except OSError:
                data = b""
            with self._lock:
                self._backlog += len(data)
                over = self._backlog > self.max_bytes
            self.chunks.put(data)  # b"" marks the end of output
            if not data:
                return
            if over:
                # Stop reading: the process blocks on a full pipe, and the consumer reports a flood.
                self.flooded.set()
                return

    def take(self, timeout: float) -> bytes:
        data = self.chunks.get(timeout=timeout)
        with self._lock:
            self._backlog -= len(data)
        return data


class Interactive:
    """A long-lived process whose stdout and stderr are read line by line up to sentinel lines.

    The two streams are kept apart on purpose: coqtop writes errors to stderr
    and messages (including whatever a proof prints with ``idtac``) to stdout,
    so a proof can print error-looking text without it ever being read as an error.
    """

    def __init__(self, argv: list[str], memory_mb: int, max_output_bytes: int):
        self.max_output_bytes = max_output_bytes
        # A private working directory: coqtop writes files there (lia/nia certificate caches),
        # never into the caller's directory; it goes when the process does.
        self.workdir = tempfile.mkdtemp(prefix="ratchet-coqtop-")
        self.proc = subprocess.Popen(limited_argv(argv, memory_mb), cwd=self.workdir, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        pid = self.proc.pid
        self.streams = {"out": _Stream(self.proc.stdout, f"coq-out-{pid}", max_output_bytes),
                        "err": _Stream(self.proc.stderr, f"coq-err-{pid}", max_output_bytes)}

    def send(self, text: str) -> None:
        """Write without blocking the caller: a stuck prover with a full input pipe must not hang us."""
        data = text.encode("utf-8")

        def write() -> None:
            try:
                self.proc.stdin.write(data)
                self.proc.stdin.flush()
            except (BrokenPipeError, OSError, ValueError):
                pass  # the process died or was killed; the readers report that

        threading.Thread(target=write, name=f"coq-writer-{self.proc.pid}", daemon=True).start()

    def read_until(self, stream: str, sentinel: str, deadline: float, contains: bool = False) -> list[str]:
        """Lines of ``stream`` ("out" or "err"), prompts stripped, before the line equal to ``sentinel``
        (or, with ``contains``, the first line containing it).

        The sentinel line is consumed. Raises ProcessTimeout at the deadline,
        ProcessDied when the stream ends first, OutputLimit on a flood.
        """
        s = self.streams[stream]
        lines: list[str] = []
        size = 0
        while True:
            while (nl := s.buffer.find(b"\n")) >= 0:
                raw = bytes(s.buffer[:nl])
                del s.buffer[:nl + 1]
                line = strip_prompts(raw.decode("utf-8", "replace").rstrip("\r"))
                if line == sentinel or (contains and sentinel in line):
                    return lines
                lines.append(line)
                size += len(raw) + 1
                if size > self.max_output_bytes:
                    raise OutputLimit(f"more than {self.max_output_bytes} bytes on std{stream}")
            if len(s.buffer) > self.max_output_bytes:
                raise OutputLimit(f"a line longer than {self.max_output_bytes} bytes on std{stream}")
            if s.eof:
                if stream == "err":
                    tail = "\n".join(lines) + s.buffer.decode("utf-8", "replace")
                else:  # a dying coqtop explains itself on stderr ("Fatal error: out of memory")
                    tail = self._pending_text("err")
                raise ProcessDied(_last_words(tail))
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ProcessTimeout()
            try:
                chunk = s.take(timeout=min(remaining, 0.5))
            except queue.Empty:
                if s.flooded.is_set():
                    raise OutputLimit(f"more than {self.max_output_bytes} bytes unread on std{stream}") from None
                continue
            if chunk:
                s.buffer += chunk
            else:
                s.eof = True

    def _pending_text(self, stream: str) -> str:
        """Everything ``stream`` produced that nobody has read yet (used once the process is gone)."""
        s = self.streams[stream]
        pending = bytearray(s.buffer)
        while True:
            try:
                pending += s.chunks.get_nowait()
            except queue.Empty:
                break
        return pending.decode("utf-8", "replace")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        kill_group(self.proc)
        for pipe in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                pipe.close()
            except OSError:
                pass
        shutil.rmtree(self.workdir, ignore_errors=True)


@dataclass(frozen=True)
class Completed:
    returncode: int | None  # None when it was killed for the deadline
    stdout: str
    stderr: str
    timed_out: bool
    seconds: float


def run_limited(argv: list[str], cwd: str, timeout_s: float, memory_mb: int,
                max_output_bytes: int = 1_000_000) -> Completed:
    """Run a one-shot command under the same controls as an interactive worker."""
    start = time.monotonic()
    proc = subprocess.Popen(limited_argv(argv, memory_mb), cwd=cwd, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    captured: dict[str, bytearray] = {"out": bytearray(), "err": bytearray()}

    def drain(pipe, into: bytearray) -> None:
        while data := pipe.read1(1 << 16):
            if len(into) < max_output_bytes:  # keep reading past the cap so the child never blocks
                into += data

    readers = [threading.Thread(target=drain, args=(proc.stdout, captured["out"]), daemon=True),
               threading.Thread(target=drain, args=(proc.stderr, captured["err"]), daemon=True)]
    for r in readers:
        r.start()
    try:
        proc.wait(timeout=timeout_s)
        timed_out = False
    except subprocess.TimeoutExpired:
        kill_group(proc)
        timed_out = True
    for r in readers:
        r.join(timeout=10)
    proc.stdout.close()
    proc.stderr.close()
    return Completed(None if timed_out else proc.returncode, captured["out"].decode("utf-8", "replace"),
                     captured["err"].decode("utf-8", "replace"), timed_out, time.monotonic() - start)


def find_program(name: str) -> str | None:
    return shutil.which(name)
