"""Verification on Ray actors against the local pool: same verdicts in order, and a killed actor loses nothing.

One local Ray instance (2 CPUs) serves the whole module; each actor owns a
one-worker Coq pool, so two actors fit on a two-core machine.
"""
from __future__ import annotations

import os
import signal
import time

import pytest

from prover.coq import CoqVerifier, coq_available
from prover.verdict import ProofTask, Status

ray = pytest.importorskip("ray")
from prover.distributed import RayVerifier, connect, header_of  # noqa: E402  (needs ray)
from prover.bench_ray import mixed_corpus  # noqa: E402

pytestmark = pytest.mark.skipif(not coq_available(), reason="coqtop is not installed")
SETTINGS = dict(workers=1, timeout_s=6.0, memory_mb=700)


@pytest.fixture(scope="module")
def cluster():
    owned = connect("", num_cpus=2)
    yield
    if owned:
        ray.shutdown()


def same(a, b) -> bool:
    return a.status is b.status and a.reason == b.reason


def local_verdicts(tasks):
    with CoqVerifier(**SETTINGS) as v:
        return v.verify(tasks)


def test_verdicts_equal_the_local_pool_in_order(cluster):
    tasks = mixed_corpus(60, seed=1)
    kinds = {t.meta["kind"] for t in tasks}
    assert {"valid", "wrong", "cheat", "hang", "killer"} <= kinds
    want = local_verdicts(tasks)
    done = []
    with RayVerifier("coq", actors=2, chunk_size=16, **SETTINGS) as rv:  # several chunks per actor
        got = rv.verify(tasks, progress=done.append)
        assert rv.version() == CoqVerifier().version()
        assert rv.stats["lost_calls"] == 0 and rv.stats["chunks"] > 2
    assert sum(done) == len(tasks)
    bad = [(t.id, t.proof, w, g) for t, w, g in zip(tasks, want, got) if not same(w, g)]
    assert not bad, bad[:3]
    statuses = {v.status for v in got}
    assert {Status.VERIFIED, Status.REJECTED, Status.TIMEOUT} <= statuses


def test_an_actor_killed_mid_batch_loses_and_duplicates_nothing(cluster):
    # chunks of 6: the first goes to actor 0, the second (with a hang: >= 6 s) to actor 1, which is
    # killed (SIGKILL of its process) the moment the first chunk's verdicts arrive.
    tasks = mixed_corpus(48, seed=2, hang_every=0)
    hang = ProofTask(id="hang", statement="True", proof="do 1000000000 idtac. exact I.")
    tasks[7] = hang
    want = local_verdicts(tasks)
    with RayVerifier("coq", actors=2, chunk_size=6, **SETTINGS) as rv:
        pids = ray.get([a.pid.remote() for a in rv.actors])
        killed: list[int] = []
        done: list[int] = []

        def on_done(k: int) -> None:
            done.append(k)
            if not killed:
                for a in rv.busy():
                    os.kill(pids[a], signal.SIGKILL)
                    killed.append(pids[a])

        got = rv.verify(tasks, progress=on_done)
        assert killed and rv.stats["lost_calls"] >= 1 and rv.stats["requeued"] >= 1
        assert rv.stats["unjudged"] == 0
        # the restarted actor is a new process and judges again
        assert all(p not in killed for p in ray.get([a.pid.remote() for a in rv.actors]))
        again = rv.verify(tasks[:3])
        assert [(v.status, v.reason) for v in again] == [(v.status, v.reason) for v in want[:3]]
    assert sum(done) == len(tasks)  # every verdict arrived once
    bad = [(t.id, w, g) for t, w, g in zip(tasks, want, got) if not same(w, g)]
    assert not bad, bad[:3]
    assert got[7].status is Status.TIMEOUT
    # the killed actor's coqtop (stuck in the hang) was adopted and killed by the raylet
    deadline = time.time() + 20
    while time.time() < deadline and _orphans(killed):
        time.sleep(0.5)
    assert not _orphans(killed)


def _orphans(parents: list[int]) -> list[int]:
    """coqtop processes still running that were started by one of ``parents`` (matched by session leader)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmd = f.read()
            with open(f"/proc/{entry}/environ", "rb") as f:
                env = f.read()
        except OSError:
            continue
        if b"coqtop" in cmd and any(f"RATCHET_ACTOR_PID={p}".encode() in env for p in parents):
            found.append(int(entry))
    return found


def test_headers_route_to_the_actor_that_holds_them(cluster):
    other = "Require Import Arith.\n"
    tasks = [ProofTask(id=str(i), statement="True", proof="exact I.") for i in range(16)]
    tasks += [_with_header(ProofTask(id=f"h{i}", statement="1 + 1 = 2", proof="reflexivity."), other)
              for i in range(16)]
    assert header_of(tasks[0]) is None and header_of(tasks[-1]) == other
    with RayVerifier("coq", actors=2, chunk_size=4, **SETTINGS) as rv:
        got = rv.verify(tasks)
        assert all(v.status is Status.VERIFIED for v in got), got
        assert set().union(*rv._held) == {None, other}


def test_an_idle_actor_takes_its_own_header_first_then_a_new_one_then_any():
    from collections import deque
    from types import SimpleNamespace

    from prover.distributed import _Chunk

    take = RayVerifier._take
    queue = deque([_Chunk("A", [0]), _Chunk("B", [1]), _Chunk("C", [2]), _Chunk("B", [3])])
    me = SimpleNamespace(_held=[{"B"}, {"A"}])
    assert take(me, queue, 0).indices == [1]  # its own header, though another is first in line
    assert take(me, queue, 0).indices == [3]
    assert take(me, queue, 0).indices == [2]  # a header no actor holds before one another actor holds
    assert take(me, queue, 0).indices == [0]  # and then whatever is left


def _with_header(task: ProofTask, header: str) -> ProofTask:
    object.__setattr__(task, "header", header)
    return task


def test_ratchet_verify_on_ray_gives_the_local_jsonl(cluster, tmp_path):
    import json

    from typer.testing import CliRunner

    from loop.cli import app

    lines = [{"id": "a", "statement": "1 + 1 = 2", "proof": "reflexivity."},
             {"id": "b", "statement": "False", "proof": "Admitted."},
             {"id": "c", "statement": "2 + 2 = 5", "proof": "lia."}]
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\nnot json\n")
    runner = CliRunner()
    outs = {}
    for execution in ("local", "ray"):
        res = runner.invoke(app, ["verify", str(path), "--backend", "coq", "--workers", "1", "--execution", execution])
        assert res.exit_code == 0, res.output
        outs[execution] = [{k: v for k, v in json.loads(x).items() if k != "seconds"}
                           for x in res.stdout.splitlines()]
    assert outs["ray"] == outs["local"]
    assert [o["verdict"] for o in outs["ray"]] == ["verified", "rejected", "rejected", "error"]
    bad = runner.invoke(app, ["verify", str(path), "--execution", "spark"])
    assert bad.exit_code == 2 and "expected local or ray" in bad.output


@pytest.mark.slow
def test_five_hundred_mixed_proofs_on_ray_match_the_local_pool(cluster):
    from prover.bench_ray import bench_ray

    result = bench_ray(500, [2], timeout_s=6.0, memory_mb=700, hang_every=50, killer_every=50)
    assert result["kinds"]["hang"] == 10 and result["kinds"]["killer"] == 10
    assert result["rows"][0]["agreement"] == 1.0, result["rows"][0]["disagreements"]
