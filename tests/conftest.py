"""Shared test set-up.

`prover` is imported first so that it sets OMP_WAIT_POLICY=PASSIVE before any test imports torch:
with busy-waiting OpenMP threads, tiny-model training on 2 shared cores runs 15-30x slower.
"""
import prover  # noqa: F401
