"""`ratchet ablate --ray`: each arm runs as a Ray task instead of a local process.

``RayArms`` is called exactly like the local runner (``loop.ablate.runner._run_subprocess``)
and does the same thing somewhere else: the arm's config file is read and its run
function called (``loop.ablate.runner.arm_main``, the very code a local arm process
runs), with the arm's output appended to its log file. So the run directories,
and the CSV built from them, have the same form either way.

Each arm task asks Ray for ``cpus_per_arm`` CPUs (default: this machine's cores
divided by ``--jobs``, the share a local arm process gets) and runs with as
many torch threads (the thread count decides the order of float sums, so the
same count is what keeps the metrics digit for digit the local ones), in a worker process of
its own (``max_calls=1``: a fresh interpreter per arm, as a subprocess would be),
so Ray decides where and how many arms run at once; ``--jobs`` still caps how
many are submitted. On a multi-node cluster OUT must be on a file system every
node sees (the arms write their run directories there). An arm whose config has
``execution.kind: ray`` uses the same cluster for its verifier actors.
"""
from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path

from prover.distributed import connect, import_ray


def _run_arm(argv: list[str], log: str, threads: int) -> None:
    """The body of one arm task, in a fresh Ray worker process."""
    os.environ["PYTHONUNBUFFERED"] = "1"
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, str(threads))
    from loop.ablate.runner import arm_main as _arm_main

    with open(log, "a", buffering=1) as f, contextlib.redirect_stdout(f), contextlib.redirect_stderr(f):
        f.write(f"\n$ [ray task on {os.uname().nodename}, pid {os.getpid()}] python -m loop.ablate "
                f"{' '.join(argv)}\n")
        rc = _arm_main(argv)
    if rc != 0:
        raise RuntimeError(f"exited with status {rc}")


class RayArms:
    """Runs arms as Ray tasks; a context manager that joins (or starts) Ray and leaves it as it found it."""

    def __init__(self, address: str = "", cpus_per_arm: float | None = None):
        self.ray = import_ray()
        self.cpus_per_arm = cpus_per_arm
        self._owns_ray = connect(address)
        self._task = self.ray.remote(max_calls=1, max_retries=0)(_run_arm)
        self._refs: set = set()
        self._lock = threading.Lock()

    def __call__(self, arm, arm_yaml: Path, run_dir: Path, log: Path, resume: bool, target: str,
                 timeout_s: float | None, jobs: int, children) -> None:
        """Same arguments as ``loop.ablate.runner._run_subprocess``; ``children`` is unused (Ray owns the processes)."""
        argv = ["--target", target, str(Path(arm_yaml).resolve()), str(Path(run_dir).resolve())]
        if resume:
            argv.append("--resume")
        cpus = self.cpus_per_arm or max(1, (os.cpu_count() or 1) // jobs)  # as loop.ablate._child_env
        ref = self._task.options(num_cpus=cpus).remote(argv, str(Path(log).resolve()), max(1, int(cpus)))
        with self._lock:
            self._refs.add(ref)
        try:
            self.ray.get(ref, timeout=timeout_s)
        except self.ray.exceptions.GetTimeoutError:
            self.ray.cancel(ref, force=True)  # ends the worker process running the arm
            raise RuntimeError(f"timed out after {timeout_s:.0f}s and was cancelled") from None
        except self.ray.exceptions.RayTaskError as err:
            raise RuntimeError(str(err.cause) if err.cause is not None else str(err)) from None
        finally:
            with self._lock:
                self._refs.discard(ref)

    def cancel_all(self) -> None:
        with self._lock:
            refs = list(self._refs)
        for ref in refs:
            self.ray.cancel(ref, force=True)

    def close(self) -> None:
        self.cancel_all()
        if self._owns_ray:
            self.ray.shutdown()
            self._owns_ray = False

    def __enter__(self) -> "RayArms":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
