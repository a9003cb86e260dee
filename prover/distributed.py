"""Verification on a Ray cluster: actors that each own a local pool, with the local pool's verdicts.

The verdicts are the local pool's by construction: every actor runs the very
verifier a local run builds (``prover.coq.CoqVerifier`` or
``prover.lean.LeanVerifier``), so admission is still decided in one place per
backend. What this module adds is only where the proofs are checked:

* **Actors.** One per alive node by default (pinned to it with a soft node
  affinity, so a restarted actor may land elsewhere when its node is gone), or
  ``actors=N`` spread over the cluster. Each asks Ray for ``actor_cpus`` CPUs
  (default: one per prover process in its pool) so Ray never packs more pools
  on a node than it has cores for.
* **Headers.** A batch is cut into chunks of proofs that share a header
  (``ProofTask.header``, None for the backend's default). An idle actor takes
  the next chunk whose header it already holds warm; only when there is none
  does it take another (and then holds that header too), so a header is loaded
  on as few actors as keep all of them busy.
* **Lost actors.** Actors are created with ``max_restarts``. A chunk whose
  actor died (``RayActorError``: the process was killed, or its node was lost)
  goes back to the front of the queue for any actor, the restarted one
  included; its proofs are never recorded as rejected. A chunk that has lost
  its actor ``MAX_LOSSES`` times gets ``error`` verdicts (infra-error: not
  judged, which callers retry or report). Every verdict is filled exactly once,
  by the index of its task.

The driver only hands chunks to idle actors and waits on their results with
``ray.wait``; placement, restarts and data transfer (the object store) are Ray's.
"""
from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections import deque
from dataclasses import dataclass
from typing import Sequence

from prover.verdict import Progress, ProofTask, Status, Verdict

MAX_LOSSES = 3  # a chunk whose actor died this many times gets error verdicts
DEFAULT_MAX_RESTARTS = 4  # per actor: Ray restarts it in a fresh process this many times


class RayUnavailable(RuntimeError):
    """``ray`` is not installed here; the message says how to install it."""


def import_ray():
    try:
        import ray
    except ImportError:
        raise RayUnavailable("execution 'ray' needs the ray package: pip install 'ratchet[ray]' "
                             "(or pip install ray==2.60.0)") from None
    return ray


def header_of(task: ProofTask) -> str | None:
    """The header a task is checked under; None means the backend's default header."""
    return getattr(task, "header", None)  # ProofTask.header is optional (absent in older checkouts)


def connect(address: str = "", num_cpus: int | None = None) -> bool:
    """Join the Ray cluster at ``address``, or start a local Ray instance when it is empty.

    Returns True when this call started Ray (the caller then shuts it down). Inside a Ray
    worker (an ablation arm run as a Ray task) Ray is already up and is used as it is.
    """
    ray = import_ray()
    if ray.is_initialized():
        return False
    quiet = dict(include_dashboard=False, logging_level=logging.ERROR, log_to_driver=False)
    if address:
        ray.init(address=address, **quiet)
    else:
        # a local instance: its workers get the driver's environment (PYTHONPATH included)
        ray.init(num_cpus=num_cpus or os.cpu_count() or 1, **quiet)
    return True


def local_verifier(backend: str, header: str | None, settings: dict):
    """The local pool an actor owns for one header: the very verifier a local run builds."""
    if backend == "coq":
        from prover.coq import CoqVerifier

        return CoqVerifier(header=header, **settings)
    if backend == "lean":
        from prover.lean import LeanVerifier

        return LeanVerifier(header=header, **settings)
    raise ValueError(f"unknown backend {backend!r}: expected coq or lean")


class VerifierActor:
    """The body of one Ray actor: a local pool per header, built on first use, kept warm."""

    def __init__(self, backend: str, settings: dict):
        self.backend = backend
        self.settings = settings
        self.pools: dict[str | None, object] = {}
        os.environ["RATCHET_ACTOR_PID"] = str(os.getpid())  # inherited by its provers: whose they are
        # if this actor is killed, the reaper ends the provers it leaves (see prover.actor_reaper)
        self.reaper = subprocess.Popen([sys.executable, "-m", "prover.actor_reaper", str(os.getpid())],
                                       stdin=subprocess.DEVNULL, start_new_session=True)

    def _pool(self, header: str | None):
        if header not in self.pools:
            self.pools[header] = local_verifier(self.backend, header, self.settings)
        return self.pools[header]

    def verify(self, header: str | None, tasks: list[ProofTask]) -> list[Verdict]:
        return self._pool(header).verify(tasks)

    def warm(self, header: str | None) -> None:
        """Start the pool for ``header`` (benchmarks call this so start-up is timed apart)."""
        pool = self._pool(header)
        if self.backend == "coq":
            pool.verify([ProofTask(id=f"warm{k}", statement="True", proof="exact I.")
                         for k in range(pool.workers)])

    def version(self) -> str:
        return self._pool(None).version()

    def pid(self) -> int:
        return os.getpid()

    def close(self) -> None:
        for pool in self.pools.values():
            pool.close()
        self.pools.clear()
        self.reaper.kill()
        self.reaper.wait()


@dataclass
class _Chunk:
    header: str | None
    indices: list[int]
    losses: int = 0


class RayVerifier:
    """The Verifier protocol (``prover.verdict.Verifier``) over Ray actors; see the module docstring."""

    def __init__(self, backend: str, *, address: str = "", actors: int | None = None,
                 actor_cpus: float | None = None, workers: int = 2, timeout_s: float = 10.0,
                 memory_mb: int = 2048, recycle_after: int = 500, chunk_size: int | None = None,
                 max_restarts: int = DEFAULT_MAX_RESTARTS):
        """``actors`` None = one per alive node; ``workers`` etc. configure each actor's local pool;
        ``chunk_size`` None = a batch's share per actor (8 to 512 proofs)."""
        if backend not in ("coq", "lean"):
            raise ValueError(f"unknown backend {backend!r}: expected coq or lean (resolve 'auto' first)")
        if actors is not None and actors < 1:
            raise ValueError("actors must be >= 1 (or None: one per node)")
        ray = import_ray()
        self.backend = backend
        self.chunk_size = chunk_size
        self.cpus = float(actor_cpus if actor_cpus is not None else workers)
        settings = dict(workers=workers, timeout_s=timeout_s, memory_mb=memory_mb, recycle_after=recycle_after)
        need = int(-(-self.cpus * (actors or 1) // 1))
        self._owns_ray = connect(address, num_cpus=max(os.cpu_count() or 1, need))
        self.stats = {"chunks": 0, "lost_calls": 0, "requeued": 0, "unjudged": 0}
        remote = ray.remote(VerifierActor)
        base = dict(num_cpus=self.cpus, max_restarts=max_restarts, max_task_retries=0)
        if actors is None:
            from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

            nodes = [n["NodeID"] for n in ray.nodes() if n.get("Alive")]
            options = [dict(base, scheduling_strategy=NodeAffinitySchedulingStrategy(node, soft=True))
                       for node in nodes]
        else:
            options = [dict(base, scheduling_strategy="SPREAD") for _ in range(actors)]
        self.actors = [remote.options(**o).remote(backend, settings) for o in options]
        self._held: list[set] = [set() for _ in self.actors]  # headers each actor holds warm
        self._fails = [0] * len(self.actors)  # calls lost in a row, per actor
        self._version: str | None = None
        self._running: dict = {}

    # -- Verifier protocol ------------------------------------------------------------------------

    def version(self) -> str:
        """The prover's version, as an actor reports it (the same string a local pool gives)."""
        if self._version is None:
            self._version = import_ray().get(self.actors[0].version.remote())
        return self._version

    def verify(self, tasks: Sequence[ProofTask], progress: Progress | None = None) -> list[Verdict]:
        ray = import_ray()
        tasks = list(tasks)
        verdicts: list[Verdict | None] = [None] * len(tasks)
        queue = deque(self._chunks(tasks))
        idle = [a for a in range(len(self.actors)) if self._fails[a] < 2]
        running = self._running = {}  # ObjectRef -> (actor index, chunk)
        while queue or running:
            while idle and queue:
                a = idle.pop(0)
                chunk = self._take(queue, a)
                self._held[a].add(chunk.header)  # from now on it loads (or holds) this header
                ref = self.actors[a].verify.remote(chunk.header, [tasks[i] for i in chunk.indices])
                running[ref] = (a, chunk)
            if not running:  # every actor is gone: nothing left that could judge these proofs
                for chunk in queue:
                    self._unjudged(chunk, verdicts, "no verifier actor is left", progress)
                break
            (ref,), _ = ray.wait(list(running), num_returns=1)
            a, chunk = running.pop(ref)
            try:
                got = ray.get(ref)
            except (ray.exceptions.RayActorError, ray.exceptions.ObjectLostError, ray.exceptions.NodeDiedError) as err:
                # the actor died, or its node did (with the answer): the chunk was not judged
                self.stats["lost_calls"] += 1
                self._held[a].clear()  # a restarted actor starts with no warm pools
                chunk.losses += 1
                if chunk.losses >= MAX_LOSSES:
                    self._unjudged(chunk, verdicts, f"its verifier actor died {chunk.losses} times "
                                   f"({type(err).__name__})", progress)
                else:
                    self.stats["requeued"] += 1
                    queue.appendleft(chunk)
                self._fails[a] += 1
                if self._fails[a] < 2:  # Ray restarts it (max_restarts); calls made meanwhile wait for it
                    idle.append(a)
                continue  # an actor that failed twice in a row is out of restarts or on a lost node: retired
            self._fails[a] = 0
            if len(got) != len(chunk.indices):
                raise RuntimeError(f"actor {a} returned {len(got)} verdicts for {len(chunk.indices)} proofs")
            self.stats["chunks"] += 1
            for i, v in zip(chunk.indices, got):
                assert verdicts[i] is None, f"verdict {i} filled twice"
                verdicts[i] = v
            if progress:
                progress(len(got))
            idle.append(a)
        assert all(v is not None for v in verdicts)
        return verdicts  # type: ignore[return-value]

    def busy(self) -> list[int]:
        """Indices (into ``actors``) of the actors with a chunk in flight (tests kill one mid-batch)."""
        return sorted({a for a, _ in self._running.values()})

    def close(self) -> None:
        ray = import_ray()
        if not ray.is_initialized():
            return
        for actor in self.actors:
            try:
                ray.get(actor.close.remote(), timeout=60)
            except Exception:  # a dead or stuck actor: killing it below ends its pools' processes
                pass
            ray.kill(actor, no_restart=True)
        self.actors = []
        if self._owns_ray:
            ray.shutdown()
            self._owns_ray = False

    def __enter__(self) -> "RayVerifier":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- routing ----------------------------------------------------------------------------------

    def _chunks(self, tasks: list[ProofTask]) -> list[_Chunk]:
        """Tasks grouped by header (first-seen order), each group cut into chunks."""
        groups: dict[str | None, list[int]] = {}
        for i, t in enumerate(tasks):
            groups.setdefault(header_of(t), []).append(i)
        out = []
        for header, idx in groups.items():
            # One chunk per actor: each chunk is one verify call on the actor's pool, which prints the
            # assumptions of what it kept once per call (about 0.3 s), so smaller chunks cost more than
            # the tail they save. Measured, 600 proofs on 2 actors with the single-pass pool: two chunks
            # per actor gave 1.67x and 1.60x over one actor; one chunk each, see docs/distributed.md.
            size = self.chunk_size or min(512, max(8, -(-len(idx) // len(self.actors))))
            out += [_Chunk(header, idx[k:k + size]) for k in range(0, len(idx), size)]
        return out

    def _take(self, queue: deque, a: int) -> _Chunk:
        """The first chunk whose header actor ``a`` holds; else one whose header no actor holds; else the first."""
        held_anywhere = set().union(*self._held)
        for rule in (lambda c: c.header in self._held[a], lambda c: c.header not in held_anywhere):
            for chunk in queue:
                if rule(chunk):
                    queue.remove(chunk)
                    return chunk
        return queue.popleft()

    def _unjudged(self, chunk: _Chunk, verdicts: list, why: str, progress: Progress | None) -> None:
        self.stats["unjudged"] += len(chunk.indices)
        for i in chunk.indices:
            verdicts[i] = Verdict(Status.ERROR, f"error: not judged: {why}")
        if progress:
            progress(len(chunk.indices))


def make_verifier(backend: str, *, address: str = "", actors: int | None = None, actor_cpus: float | None = None,
                  workers: int = 2, timeout_s: float = 10.0, memory_mb: int = 2048,
                  recycle_after: int = 500) -> RayVerifier:
    """The Ray verifier for ``backend`` ("coq" or "lean"; resolve "auto" first): what `ratchet verify
    --execution ray` and a run with ``execution.kind: ray`` build."""
    return RayVerifier(backend, address=address, actors=actors, actor_cpus=actor_cpus, workers=workers,
                       timeout_s=timeout_s, memory_mb=memory_mb, recycle_after=recycle_after)
