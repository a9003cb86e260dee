"""CPU seconds used by this run on this machine, so a round summary can say where its time went.

``cpu_seconds()`` is the sum of

* this process (``RUSAGE_SELF``: every thread, so torch's sampling and
  training threads and the verifier's driver threads);
* its children that have ended and been reaped (``RUSAGE_CHILDREN``, which
  also holds what those children had reaped from their own children);
* its descendants that are still running, read from ``/proc/<pid>/stat``
  (their own time plus what they reaped). A pooled coqtop worker lives for
  hundreds of proofs and shows up in ``RUSAGE_CHILDREN`` only once it is
  recycled or closed, so without this term its CPU time would land in
  whichever stage happened to reap it.

A process moves from the third term to the second when it is reaped, so the
sum does not jump. The difference across a stage is that stage's CPU time.
What it cannot see: processes that are not descendants of this one, i.e. the
actors of a Ray cluster started elsewhere (``execution.address``). A Ray
instance started by the run itself is a descendant, and is counted in full,
its own overhead included.
"""
from __future__ import annotations

import os
import resource

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _live_descendants_cpu(root: int) -> float:
    children: dict[int, list[int]] = {}
    ticks: dict[int, int] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return 0.0  # not Linux: only the reaped children are counted
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                text = f.read()
        except OSError:
            continue  # ended while we looked
        fields = text[text.rindex(")") + 2:].split()
        pid, ppid = int(entry), int(fields[1])
        children.setdefault(ppid, []).append(pid)
        ticks[pid] = sum(int(x) for x in fields[11:15])  # utime, stime, cutime, cstime
    total, stack = 0, list(children.get(root, []))
    while stack:
        pid = stack.pop()
        total += ticks.get(pid, 0)
        stack.extend(children.get(pid, []))
    return total / _TICK


def cpu_seconds() -> float:
    """User + system CPU seconds of this process and all its descendants, ended or running."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    reaped = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (own.ru_utime + own.ru_stime + reaped.ru_utime + reaped.ru_stime
            + _live_descendants_cpu(os.getpid()))
