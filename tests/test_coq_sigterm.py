"""A SIGTERM ends a verifying process's coqtop workers too, even ones busy on a diverging proof.

The workers lead their own process groups, so a signal to the parent's group does not reach
them, and an idle coqtop exits on its own when its stdin closes, but a busy one runs on. These
tests start a real verifier in a child process on proofs that never end, send the child
SIGTERM, and look at the coqtop processes it had started, by pid.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from prover.coq import coq_available

pytestmark = pytest.mark.skipif(not coq_available(), reason="coqtop not installed")

ROOT = Path(__file__).resolve().parents[1]

CHILD = textwrap.dedent("""
    import sys
    from prover.coq import CoqVerifier
    from prover.coq.contexts import Context, RoutingCoqVerifier
    from prover.exits import terminate_as_interrupt
    from prover.verdict import ProofTask

    HANG = "do 1000000000 idtac. exact I."  # a tactic loop that runs for hours in constant memory
    handler = sys.argv[1] == "handler"
    if sys.argv[2] == "contexts":  # two files, one cursor each: lemmas in their files' contexts
        files = [Context(f"F{k}.v", f"Definition one{k} := {k}.\\n") for k in range(2)]
        tasks = [ProofTask(id=str(i), statement="True", proof=HANG, name="g", header=files[i % 2].text)
                 for i in range(6)]
        verifier = RoutingCoqVerifier(workers=2, timeout_s=600, contexts=files)
    else:
        tasks = [ProofTask(id=str(i), statement="True", proof=HANG, name="g") for i in range(6)]
        verifier = CoqVerifier(workers=2, timeout_s=600, single_pass=sys.argv[2] == "single")
    try:
        if handler:
            with terminate_as_interrupt():
                verifier.verify(tasks)
        else:
            verifier.verify(tasks)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
    finally:
        verifier.close()
""")


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2:].split()
            if int(fields[1]) == pid and "coqtop" in (entry / "cmdline").read_bytes().decode(errors="replace"):
                out.append(int(entry.name))
    return out


def _running(pid: int) -> bool:
    """Alive and not a zombie (an orphan's zombie may wait here for a reaper that never comes)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] not in "ZX"


def _start(mode: str, pass_: str) -> tuple[subprocess.Popen, list[int]]:
    child = subprocess.Popen([sys.executable, "-c", CHILD, mode, pass_], cwd=ROOT, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    deadline = time.monotonic() + 60
    coqtops: list[int] = []
    while time.monotonic() < deadline and len(coqtops) < 2:
        time.sleep(0.2)
        coqtops = _children(child.pid)
    assert len(coqtops) == 2, "the verifier did not start its two workers"
    time.sleep(2.0)  # both are now deep in the diverging proof (statements bound, Load under way)
    return child, coqtops


@pytest.mark.parametrize("pass_", ["single", "two-phase", "contexts"])
def test_sigterm_ends_busy_workers(pass_):
    child, coqtops = _start("handler", pass_)
    try:
        child.send_signal(signal.SIGTERM)
        out, err = child.communicate(timeout=60)
        assert "interrupted" in out, err
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(_running(p) for p in coqtops):
            time.sleep(0.1)
        assert not any(_running(p) for p in coqtops), "a coqtop outlived its verifier"
        assert not _children(child.pid)
    finally:
        child.kill()
        for pid in coqtops:  # only what this test started, by pid
            if _running(pid):
                os.killpg(pid, signal.SIGKILL)


def test_without_the_handler_busy_workers_are_orphaned():
    """The control: Python's default SIGTERM skips the finally, and the busy workers run on."""
    child, coqtops = _start("default", "single")
    try:
        child.send_signal(signal.SIGTERM)
        child.communicate(timeout=60)
        assert child.returncode == -signal.SIGTERM
        time.sleep(1.0)
        assert all(_running(p) for p in coqtops)
    finally:
        child.kill()
        for pid in coqtops:
            if _running(pid):
                os.killpg(pid, signal.SIGKILL)
