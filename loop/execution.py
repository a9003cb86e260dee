"""Where a run's work executes: this process's own pools (the default and the reference), or a Ray cluster.

``execution.kind: ray`` changes where proofs are checked, never what is decided:
the verdicts are the local pool's (see ``prover.distributed``). ``address``
names a running cluster (``ray start --head`` prints it); empty starts a Ray
instance inside this run and stops it at the end. docs/distributed.md says how
to start a cluster and what each actor asks for.
"""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class ExecutionConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    kind: Literal["local", "ray"] = Field("local", description="local = pools in this process; ray = actors on a "
                                          "Ray cluster (needs the `ray` extra: pip install 'ratchet[ray]')")
    address: str = Field("", description="a running Ray cluster (e.g. 10.0.0.1:6379 or auto); empty = start a "
                         "local Ray instance for this run and shut it down at the end")
    actors: int | None = Field(None, ge=1, description="verifier actors; null = one per alive node of the cluster")
    actor_cpus: float | None = Field(None, gt=0, description="CPUs each verifier actor asks Ray for; "
                                     "null = verifier.workers (one per prover process it runs)")
