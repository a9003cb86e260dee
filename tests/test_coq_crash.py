"""A crash is not a rejection (issue 13, item 5), against real coqtop.

The tests kill a real worker (SIGKILL to its process group) just as a chosen
proof is handed to it, in phase 1 or in the audit. Killed once, the proof is
tried again on a fresh worker and gets the verdict it deserves; killed every
time, it ends ``rejected`` with a reason that says it crashed twice. It is
never ``verified`` by a crash.
"""
from __future__ import annotations

import os
import re
import signal
from unittest import mock

import pytest

import prover.coq.worker as worker_module
from prover.coq import CoqVerifier, coq_available
from prover.coq.header import FALLBACK_HEADER
from prover.verdict import ProofTask, Status

pytestmark = pytest.mark.skipif(not coq_available(), reason="coqtop is not installed")

MEMORY_BOMB = "let x := eval vm_compute in (N.iter 100000000%N (cons tt) nil) in idtac. exact I."
_MARK = re.compile(r"\(\* kill-me-(\d+) \*\)")


def mark(k: int) -> str:
    return f"(* kill-me-{k} *)"


# Where a worker is killed: in the two-phase mode's phase 1 ("check") or audit ("audit"), or in
# the single pass as it runs a proof ("commit"). The single pass prints assumptions of kept
# proofs only, with no proof text in that file: see the test of a kill there below.
PHASES = ["check", "audit", "commit"]


def pool(phase: str, **kw) -> CoqVerifier:
    return CoqVerifier(header=FALLBACK_HEADER, single_pass=phase == "commit", **kw)


def killing(phase: str, every_time: bool = False):
    """Patch CoqWorker._load to SIGKILL the worker as it is given a file, in ``phase`` (see PHASES),
    that holds a marked proof: once per mark, or ``every_time``. Returns (patch, pids killed)."""
    kills: list[int] = []
    used: set[str] = set()
    real = worker_module.CoqWorker._load

    def load(self, text):
        loaded = real(self, text)
        fresh = [m for m in _MARK.findall(text) if every_time or m not in used]
        if fresh and ("Print Assumptions" in text) == (phase == "audit"):
            used.add(fresh[0])
            kills.append(self.process.proc.pid)
            os.killpg(self.process.proc.pid, signal.SIGKILL)
        return loaded

    return mock.patch.object(worker_module.CoqWorker, "_load", load), kills


def batch(*proofs):
    return [ProofTask(id=str(i), statement=s, proof=p) for i, (s, p) in enumerate(proofs)]


@pytest.mark.parametrize("phase", PHASES)
@pytest.mark.parametrize("workers", [1, 2])
def test_killed_once_the_proof_is_retried_on_a_fresh_worker_and_judged(phase, workers):
    patch, kills = killing(phase)
    tasks = batch(("True", "exact I."), ("forall a b : nat, a + b = b + a", f"{mark(1)} intros. lia."),
                  ("1 + 1 = 3", f"{mark(2)} lia."), ("True", "exact I."))
    with patch, pool(phase, workers=workers, timeout_s=20.0) as v:
        out = v.verify(tasks)
    # Phase 1 and the single pass kill under both marked proofs; the audit only sees the one that
    # passed phase 1.
    assert len(kills) == (1 if phase == "audit" else 2) == len(set(kills))
    for pid in kills:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)  # really killed, and gone
    assert [o.status for o in out] == [Status.VERIFIED, Status.VERIFIED, Status.REJECTED, Status.VERIFIED], out
    assert "Tactic failure" in out[2].reason and "crash" not in out[2].reason


@pytest.mark.parametrize("phase", PHASES)
@pytest.mark.parametrize("proof,status", [("intros. lia.", Status.VERIFIED),
                                          ("first [exact (fun n => eq_refl) | fix f 1; intro n; exact (f n)].",
                                           Status.REJECTED)])
def test_killed_once_under_a_proof_alone_the_retry_gives_its_verdict(phase, proof, status):
    """One proof, so in the audit it is alone: the retry there is the single-proof path."""
    patch, kills = killing(phase)
    with patch, pool(phase, workers=1, timeout_s=20.0) as v:
        (out,) = v.verify(batch(("forall n : nat, n + 0 = n", f"{mark(1)} {proof}")))
    assert len(kills) == 1
    assert out.status is status and "crash" not in out.reason, out


@pytest.mark.parametrize("phase", PHASES)
def test_a_proof_that_kills_every_worker_is_rejected_as_crashed_twice(phase):
    patch, kills = killing(phase, every_time=True)
    tasks = batch(("True", f"{mark(1)} exact I."), ("True", "exact I."))
    with patch, pool(phase, workers=1, timeout_s=20.0) as v:
        out = v.verify(tasks)
    assert out[0].status is Status.REJECTED
    assert out[0].reason.startswith("rejected: crashed twice: coqtop died"), out[0]
    assert out[1].status is Status.VERIFIED
    assert len(set(kills)) == len(kills) >= 2  # each try had a worker of its own


@pytest.mark.parametrize("workers", [1, 2])
def test_a_worker_killed_as_it_prints_the_assumptions_of_kept_proofs_loses_nothing(workers):
    """The single pass: what a killed worker kept is committed again, and every verdict arrives once."""
    kills: list[int] = []
    real = worker_module.CoqWorker._load

    def load(self, text):
        loaded = real(self, text)
        if "Print Assumptions" in text and not kills:
            kills.append(self.process.proc.pid)
            os.killpg(self.process.proc.pid, signal.SIGKILL)
        return loaded

    tasks = batch(("True", "exact I."), ("forall a b : nat, a + b = b + a", "intros. lia."),
                  ("1 + 1 = 3", "lia."), ("True", "exact I."), ("False", "idtac."))
    with mock.patch.object(worker_module.CoqWorker, "_load", load), pool("commit", workers=workers,
                                                                          timeout_s=20.0) as v:
        out = v.verify(tasks)
    assert len(kills) == 1
    assert [o.status for o in out] == [Status.VERIFIED, Status.VERIFIED, Status.REJECTED, Status.VERIFIED,
                                       Status.REJECTED], out
    assert all("crash" not in o.reason for o in out)


def test_a_proof_that_runs_coqtop_out_of_memory_each_time_is_rejected_naming_it():
    with CoqVerifier(workers=1, timeout_s=30.0, memory_mb=700, header=FALLBACK_HEADER) as v:
        out = v.verify(batch(("True", MEMORY_BOMB), ("True", "exact I.")))
    assert out[0].status is Status.REJECTED
    assert out[0].reason.startswith("rejected: crashed twice: coqtop died") and "out of memory" in out[0].reason
    assert out[1].status is Status.VERIFIED


def test_the_fresh_coqc_baseline_also_runs_a_killed_coqc_once_more():
    import prover.coq.fresh as fresh_module

    real = fresh_module.run_limited
    calls: list[list[str]] = []

    def killed_first(argv, **kw):
        calls.append(argv)
        if len(calls) == 1:  # the first coqc is killed under the proof
            return real(["/bin/sh", "-c", "kill -9 $$"], **kw)
        return real(argv, **kw)

    task = ProofTask(id="a", statement="forall n : nat, n + 0 = n", proof="intro n. lia.")
    with mock.patch.object(fresh_module, "run_limited", killed_first):
        verdict = fresh_module.fresh_verify(task, header=FALLBACK_HEADER)
    assert len(calls) == 2 and verdict.status is Status.VERIFIED, verdict
    bomb = fresh_module.fresh_verify(ProofTask(id="b", statement="True", proof=MEMORY_BOMB), header=FALLBACK_HEADER,
                                     memory_mb=700, timeout_s=30)
    assert bomb.status is Status.REJECTED and bomb.reason.startswith("rejected: crashed twice: coqc died")
    assert "out of memory" in bomb.reason


def test_kept_proofs_lost_twice_with_their_worker_are_replayed_alone():
    """The single pass: if printing kept proofs' assumptions kills the worker every time, each
    proof lost twice is judged by the two-phase audit alone, never committed forever."""
    kills: list[int] = []
    real = worker_module.CoqWorker._load

    def load(self, text):
        loaded = real(self, text)
        if "Print Assumptions" in text and "@sigT Type" in text:  # the single pass's list, not the audit
            kills.append(self.process.proc.pid)
            os.killpg(self.process.proc.pid, signal.SIGKILL)
        return loaded

    tasks = batch(("True", "exact I."), ("forall a b : nat, a + b = b + a", "intros. lia."), ("1 + 1 = 3", "lia."))
    with mock.patch.object(worker_module.CoqWorker, "_load", load), pool("commit", workers=1, timeout_s=20.0) as v:
        out = v.verify(tasks)
    assert len(kills) == 2  # the group, then its two proofs once more
    assert [o.status for o in out] == [Status.VERIFIED, Status.VERIFIED, Status.REJECTED], out
    assert all("crash" not in o.reason for o in out)
