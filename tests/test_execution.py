"""The execution config (local | ray) and the decision to sample on GPU actors."""
from __future__ import annotations

import pytest

from loop.config import ConfigError, load_config
from loop.ray_sampling import sampler_for, use_gpu_actors


def test_execution_defaults_to_local_and_names_a_bad_key():
    cfg = load_config(None)
    assert cfg.execution.kind == "local" and cfg.execution.address == "" and cfg.execution.actors is None
    cfg = load_config(None, ["execution.kind=ray", "execution.address=10.0.0.1:6379", "execution.actors=4"])
    assert (cfg.execution.kind, cfg.execution.address, cfg.execution.actors) == ("ray", "10.0.0.1:6379", 4)
    with pytest.raises(ConfigError, match="execution.kind"):
        load_config(None, ["execution.kind=dask"])
    with pytest.raises(ConfigError, match="execution.actors"):
        load_config(None, ["execution.actors=0"])
    with pytest.raises(ConfigError, match="execution.nodes: unknown key"):
        load_config(None, ["execution.nodes=3"])


@pytest.mark.parametrize("kind,resources,want", [
    ("ray", {"CPU": 64.0, "GPU": 8.0}, True),
    ("ray", {"CPU": 64.0, "GPU": 0.0}, False),
    ("ray", {"CPU": 2.0}, False),  # a CPU-only cluster: sampling stays in the run's process
    ("local", {"CPU": 64.0, "GPU": 8.0}, False),
])
def test_sampling_goes_to_gpu_actors_only_on_a_ray_cluster_with_gpus(kind, resources, want):
    assert use_gpu_actors(kind, resources) is want


def test_a_local_run_never_asks_for_a_gpu_sampler(tmp_path):
    assert sampler_for(load_config(None), tmp_path, tmp_path, None, 0) is None
