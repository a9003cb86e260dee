"""Ends the prover processes a Ray verifier actor leaves behind when it is killed.

``python -m prover.actor_reaper PID`` is started by each actor (``PID`` is the
actor's own process). A killed actor cannot end its coqtop workers itself, and
a worker in the middle of a hanging proof does not notice that its stdin has
closed: it would run on for hours, orphaned. So this small process watches
the actor: every half second it notes the actor's children that lead their
own process group (the pool starts every prover that way), and once the actor
is gone (this process has been handed to another parent) it SIGKILLs those
groups, checking each leader's start time first so that a reused pid is never
touched. When the actor closes normally it ends this process itself.
"""
from __future__ import annotations

import os
import signal
import sys
import time

POLL_S = 0.5


def _stat(pid: int) -> tuple[int, int, str] | None:
    """(parent pid, process group, start time) of ``pid``, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()  # the name in parentheses may hold spaces
    return int(fields[1]), int(fields[2]), fields[19]


def group_leaders_under(parent: int) -> dict[int, str]:
    """Children of ``parent`` that lead their own process group, with their start times."""
    found = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            st = _stat(int(entry))
            if st is not None and st[0] == parent and st[1] == int(entry):
                found[int(entry)] = st[2]
    return found


def watch(actor: int) -> int:
    me = os.getpid()
    known: dict[int, str] = {}
    while os.getppid() == actor:
        known = {pid: start for pid, start in group_leaders_under(actor).items() if pid != me}
        time.sleep(POLL_S)
    killed = 0
    for pid, start in known.items():
        st = _stat(pid)
        if st is not None and st[2] == start:  # the same process, not a reused pid
            try:
                os.killpg(pid, signal.SIGKILL)
                killed += 1
            except ProcessLookupError:
                pass
    return killed


if __name__ == "__main__":
    watch(int(sys.argv[1]))
