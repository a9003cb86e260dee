"""Sampling shards on GPU actors, when a run executes on a Ray cluster that has GPUs.

Used only when ``execution.kind`` is ``ray`` *and* ``ray.cluster_resources()``
reports ``GPU > 0`` (``use_gpu_actors`` decides; everything else samples in the
run's own process, as before). Then each round's policy is loaded once on
every GPU actor (one actor per GPU, each asking Ray for ``num_gpus=1``), and a
chunk's prompts are cut into one contiguous shard per actor. Every shard is
sampled with the chunk's seed: a sample's random draws are a function of
(seed, prompt, index) only (``prover.sampling``), so sharding changes nothing
about which proofs are drawn, beyond the GPU's own arithmetic.

The base model and the round's adapter are read by path, so on a cluster the
run directory and model cache must be on a file system the GPU nodes see.

Not exercised on a machine without GPUs beyond the dispatch decision
(tests/test_execution.py): say so when you rely on it.
"""
from __future__ import annotations

from pathlib import Path


def use_gpu_actors(kind: str, resources: dict) -> bool:
    """Sampling goes to GPU actors only on Ray, and only when the cluster has at least one GPU."""
    return kind == "ray" and float(resources.get("GPU", 0) or 0) > 0


class SamplerActor:
    """The body of one GPU actor: one round's policy, loaded on its GPU."""

    def __init__(self, base: str, adapter: str | None, dtype: str):
        from prover.model import load_policy

        self.model, self.tok = load_policy(base, adapter, "cuda", dtype)

    def sample(self, prompts: list[str], n: int, kwargs: dict) -> list:
        from prover.sampling import sample_proofs

        return sample_proofs(self.model, self.tok, prompts, n, progress=False, **kwargs)


class ShardedSampler:
    """``sample(prompts, n, **kw)`` like ``prover.sampling.sample_proofs``, over one actor per GPU."""

    def __init__(self, base: Path, adapter: Path | None, dtype: str, gpus: int):
        import ray

        remote = ray.remote(num_gpus=1, max_restarts=2, max_task_retries=2)(SamplerActor)
        self.actors = [remote.remote(str(base), str(adapter) if adapter else None, dtype) for _ in range(gpus)]

    def sample(self, prompts: list[str], n: int, **kwargs) -> list:
        import ray

        k = len(self.actors)
        size = -(-len(prompts) // k)
        shards = [prompts[i:i + size] for i in range(0, len(prompts), size)]
        refs = [a.sample.remote(s, n, kwargs) for a, s in zip(self.actors, shards)]
        return [row for part in ray.get(refs) for row in part]

    def close(self) -> None:
        import ray

        for a in self.actors:
            ray.kill(a)
        self.actors = []


_current: dict = {}  # (run dir, round) -> ShardedSampler: one round's policy at a time


def sampler_for(cfg, out: Path, base: Path, adapter: Path | None, r: int) -> ShardedSampler | None:
    """The GPU sampler for round ``r`` of the run in ``out``, or None to sample locally."""
    if cfg.execution.kind != "ray":
        return None
    import ray

    if not ray.is_initialized() or not use_gpu_actors(cfg.execution.kind, ray.cluster_resources()):
        return None
    key = (str(out), r)
    if key not in _current:
        for old in _current.values():
            old.close()
        _current.clear()
        _current[key] = ShardedSampler(base, adapter, cfg.model.dtype, int(ray.cluster_resources()["GPU"]))
    return _current[key]
