"""`python -m prover.bench_ray`: Ray verification with 1, 2, ... actors against the local pool, in one run.

Every actor owns a one-worker Coq pool and asks Ray for one CPU, so N actors
use N cores. Each configuration judges the same corpus after its actors have
loaded the header (start-up is timed apart); the verdicts of every
configuration are compared, in order, with a local ``CoqVerifier``'s.

    python -m prover.bench_ray --n 200 --actors 1,2          # speed-up of two actors over one
    python -m prover.bench_ray --n 500 --hang-every 50 --killer-every 50 --timeout 3   # verdicts, with hangs
"""
from __future__ import annotations

import argparse
import json
import time
from collections import Counter

from prover.bench import build_corpus
from prover.verdict import ProofTask

HANG = "do 1000000000 idtac. exact I."  # a tactic loop that runs for hours: the timeout must end it
# builds a list of 10^8 units: the worker dies of its memory limit ("worker killer")
KILLER = "let x := eval vm_compute in (N.iter 100000000%N (cons tt) nil) in idtac. exact I."


def mixed_corpus(n: int, seed: int = 0, hang_every: int = 25, killer_every: int = 25) -> list[ProofTask]:
    """``prover.bench.build_corpus`` (valid, wrong, canaries, cheats) with hangs and worker killers mixed in."""
    tasks = build_corpus(n, seed)
    for i in range(n):
        if hang_every and i % hang_every == hang_every // 2:
            tasks[i] = ProofTask(id=f"{i}:hang", statement="True", proof=HANG, meta={"kind": "hang"})
        elif killer_every and i % killer_every == killer_every - 1:
            tasks[i] = ProofTask(id=f"{i}:killer", statement="True", proof=KILLER, meta={"kind": "killer"})
    return tasks


def bench_ray(n: int, actors: list[int], seed: int = 0, timeout_s: float = 10.0, memory_mb: int = 1024,
              hang_every: int = 0, killer_every: int = 0, address: str = "") -> dict:
    import ray

    from prover.coq import CoqVerifier
    from prover.distributed import RayVerifier, connect

    tasks = mixed_corpus(n, seed, hang_every, killer_every)
    settings = dict(workers=1, timeout_s=timeout_s, memory_mb=memory_mb)
    start = time.monotonic()
    with CoqVerifier(**settings) as local:
        want = local.verify(tasks)
    local_s = time.monotonic() - start
    owned = connect(address, num_cpus=max(actors))
    rows = []
    try:
        for k in actors:
            with RayVerifier("coq", actors=k, actor_cpus=1, **settings) as rv:
                start = time.monotonic()
                ray.get([a.warm.remote(None) for a in rv.actors])
                startup = time.monotonic() - start
                start = time.monotonic()
                got = rv.verify(tasks)
                seconds = time.monotonic() - start
            agree = sum(g.status is w.status and g.reason == w.reason for g, w in zip(got, want))
            rows.append({"actors": k, "seconds": round(seconds, 3), "startup_s": round(startup, 3),
                         "per_s": round(n / seconds, 2), "agreement": round(agree / n, 4),
                         "disagreements": [t.id for t, g, w in zip(tasks, got, want)
                                           if (g.status, g.reason) != (w.status, w.reason)][:10]})
    finally:
        if owned:
            ray.shutdown()
    for row in rows:
        row["speedup"] = round(rows[0]["seconds"] / row["seconds"], 2)
    return {"n": n, "seed": seed, "timeout_s": timeout_s, "local_1_worker_s": round(local_s, 3),
            "kinds": dict(Counter(t.meta["kind"] for t in tasks)),
            "local_verdicts": dict(Counter(v.status.value for v in want)), "rows": rows}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m prover.bench_ray", description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=200, help="proofs in the corpus")
    ap.add_argument("--actors", default="1,2", help="comma-separated actor counts, each run on the same corpus")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=10.0, help="wall-clock seconds per proof")
    ap.add_argument("--memory-mb", type=int, default=1024, help="address-space limit per coqtop (MiB)")
    ap.add_argument("--hang-every", type=int, default=0, help="one hanging proof in every N (0 = none)")
    ap.add_argument("--killer-every", type=int, default=0, help="one worker-killing proof in every N (0 = none)")
    ap.add_argument("--address", default="", help="a running Ray cluster; empty = a local instance")
    args = ap.parse_args(argv)
    actors = [int(a) for a in args.actors.split(",")]
    result = bench_ray(args.n, actors, args.seed, args.timeout, args.memory_mb, args.hang_every,
                       args.killer_every, args.address)
    print(f"{result['n']} proofs {result['kinds']}; local pool (1 worker) "
          f"{result['local_1_worker_s']:.2f}s, verdicts {result['local_verdicts']}")
    print(f"{'actors':>6} {'seconds':>8} {'start-up':>8} {'proofs/s':>8} {'speedup':>7} {'agree':>6}")
    for r in result["rows"]:
        print(f"{r['actors']:>6} {r['seconds']:>8.2f} {r['startup_s']:>8.2f} {r['per_s']:>8.1f} "
              f"{r['speedup']:>6.2f}x {r['agreement']:>6.4f}")
        for ident in r["disagreements"]:
            print(f"  disagree: {ident}")
    print(json.dumps(result))
    return 0 if all(r["agreement"] == 1.0 for r in result["rows"]) else 1


if __name__ == "__main__":
    raise SystemExit(main())
