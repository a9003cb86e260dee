"""Verifier ablations: run a grid of experiments, then tabulate and plot what each arm did.

Three parts: ``spec`` (the ablation config -> validated arms), ``runner`` (the arms'
processes, resume, interrupts) and ``tables`` (CSV, markdown and plots from the arms'
summary.json). This module re-exports what callers use.

The ablation config (YAML)
--------------------------
::

    name: ablate-verifier            # optional; default: the file's stem
    base_config: quickstart.yaml     # optional; a run config, relative to this file
    base:                            # optional; RunConfig overrides on top of base_config
      rounds: 3
      sampling: {k: 4}               # nested sections or dotted keys ("sampling.k: 4") both work
    arms:                            # optional; explicit partial configs (dotted keys)
      - {gate.kind: judge}
      - {gate.kind: noisy, gate.fp: 0.3, label: noisy30}   # label: optional short name
    grid:                            # optional; dotted key -> list of values, crossed
      sampling.temperature: [0.7, 1.0]
      seed: [0, 1]
    arm_timeout_s: 3600              # optional; a run still going after this is killed

The arms of the ablation are every ``arms`` entry crossed with every point of
the ``grid`` (the cross product of its lists, in the order written). Without
``arms`` the grid alone; without ``grid`` the entries alone. ``arms`` exists so
that values that belong together (gate=noisy with fp=0.3) are not crossed with
every other gate. A key may appear in ``arms`` or in ``grid``, not both. Each
arm's config is the base with its values applied, validated like any run
config: a bad key or value fails before anything runs, and the message names
the key and where it came from.

Arm names are built from the values (``gate-noisy_fp-0.3_T-0.7_seed-0``; a
``label`` replaces the entry's part). Arms that differ only in ``seed`` form a
group: the report gives mean ± std over a group's seeds.

The output directory
--------------------
::

    DIR/ablation.yaml      the ablation config as given
    DIR/arms.json          arm names, groups and values (what the report reads)
    DIR/arms/<arm>.yaml    each arm's fully resolved run config
    DIR/runs/<arm>/        each arm's run directory (see the run-directory contract)
    DIR/logs/<arm>.log     each arm's output
    DIR/ablation.csv       one row per run × round, one column per metric
    DIR/ablation.md        final and per-round metrics, mean ± std over seeds, per group
    DIR/*.png              pass@1, entropy, unique proofs and contamination per round

Running
-------
Each arm runs in its own process (``python -m loop.ablate ARM_YAML RUN_DIR``,
which calls ``loop.run.run_experiment``), at most ``jobs`` at a time, each in
its own process group with its output in its log. A killed ablation resumes
with ``resume=True``: arms whose ``summary.json`` has every round are skipped,
the others continue their own run with ``resume``. Each child gets
``OMP_NUM_THREADS = cores // jobs`` (unless set) so that parallel arms do not
fight over the cores. Tests inject ``run_fn`` to run arms in-process instead.
"""
from __future__ import annotations

from loop.ablate.runner import AblationResult, Outcome, arm_finished, run_ablation, run_ablations
from loop.ablate.spec import Ablation, Arm, build_ablation, load_ablation
from loop.ablate.tables import collect_rows, flatten_round, write_report

__all__ = ["Ablation", "AblationResult", "Arm", "Outcome", "arm_finished", "build_ablation", "collect_rows",
           "flatten_round", "load_ablation", "run_ablation", "run_ablations", "write_report"]
