"""The pooled Coq verifier against real coqtop: verdicts, order, timeouts, deaths, limits, recycling."""
from __future__ import annotations

import os
import time

from unittest import mock

import pytest

import prover.coq.verifier as verifier_module
from prover.coq import CoqVerifier, coq_available, fresh_verify
from prover.coq.header import FALLBACK_HEADER
from prover.screen import ADMISSIBLE
from prover.verdict import ProofTask, Status

pytestmark = pytest.mark.skipif(not coq_available(), reason="coqtop is not installed")

# Proof styles the screen must admit and Coq must verify: comments, bullets, braces,
# assert, destruct, induction, selectors, nested goals.
VALID = [
    ("True", "exact I."),
    ("True", "(* a comment *) exact I. (* another (* nested *) one *)"),
    ("True", 'exact I. (* a string "*)" inside a comment *)'),
    ("forall n : nat, n + 0 = n", "intros n.\ninduction n as [|k IH].\n- reflexivity.\n- simpl. rewrite IH. reflexivity."),
    ("True /\\ (True /\\ True)", "split.\n+ exact I.\n+ split.\n  * exact I.\n  * exact I."),
    ("True /\\ True", "split.\n{ exact I. }\n{ exact I. }"),
    ("forall a b : nat, a + b = b + a", "intros a b.\nassert (H : a + b = b + a) by lia.\nexact H."),
    ("forall b : bool, negb (negb b) = b", "destruct b; reflexivity."),
    ("True /\\ True", "split. 2: { exact I. } exact I."),
    ("forall n m : nat, n + m = m + n", "intros. rewrite Nat.add_comm. reflexivity."),
    ("exists n : nat, n * n = 9", "exists 3. reflexivity."),
    ("forall l : list nat, l ++ [] = l", "intros l. induction l as [|x l IH]; simpl.\n- reflexivity.\n- rewrite IH. reflexivity."),
    ("(2 * 3 + 4 = 10)%Z", "reflexivity."),
    ("True /\\ True", "split; [exact I | exact I]."),
    ("True", "match goal with |- True => exact I end."),
    ("(True /\\ True) /\\ (True /\\ True)", "split.\n- split.\n  + exact I.\n  + exact I.\n- split; [ exact I | ].\n  exact I."),
    ("forall x y : Z, (x + y = y + x)%Z", "intros. ring."),
]

HANG = "do 1000000000 idtac. exact I."  # a tactic loop that runs for hours in constant memory
# vm_compute building a list of 10^8 units: the worker dies ("Fatal error: out of memory") under the limit
MEMORY_BOMB = "let x := eval vm_compute in (N.iter 100000000%N (cons tt) nil) in idtac. exact I."


def task(i, statement, proof, name="ratchet_goal"):
    return ProofTask(id=str(i), statement=statement, proof=proof, name=name)


@pytest.fixture(scope="module", params=[True, False], ids=["single-pass", "two-phase"])
def pool(request):
    """The pool in each of its modes: proofs kept in place, and phase 1 plus the audit."""
    with CoqVerifier(workers=2, timeout_s=10.0, header=FALLBACK_HEADER, single_pass=request.param) as v:
        yield v


def pids(v: CoqVerifier) -> list[int | None]:
    return [s.worker.process.proc.pid if s.worker else None for s in v._slots]


def test_version_is_read_from_coqtop(pool):
    major, minor = pool.version().split(".")[:2]
    assert int(major) >= 8 and minor.isdigit()


def test_valid_proof_styles_verify(pool):
    verdicts = pool.verify([task(i, s, p) for i, (s, p) in enumerate(VALID)])
    assert [v.status for v in verdicts] == [Status.VERIFIED] * len(VALID), [v.reason for v in verdicts]


def test_wrong_proofs_are_rejected_with_coqs_message(pool):
    verdicts = pool.verify([task(0, "1 + 1 = 3", "lia."), task(1, "forall n : nat, n = 0", "intros. reflexivity."),
                            task(2, "True", "exact I. exact I.")])
    assert [v.status for v in verdicts] == [Status.REJECTED] * 3
    assert verdicts[0].reason.startswith("rejected: Error:") and "witness" in verdicts[0].reason
    assert verdicts[2].reason == "rejected: Error: No such goal."


def test_a_later_tactic_cannot_paper_over_an_error(pool):
    # coqtop carries on after a failed sentence; coqc would stop. The pool must agree with coqc.
    verdicts = pool.verify([task(0, "True", "no_such_tactic_here. exact I.")])
    assert verdicts[0].status is Status.REJECTED


# Proofs whose tactics all succeed, which only Qed (or the kernel behind it) refuses. Phase 1 runs
# the tactics only; these must be caught by the audit's replay, even in the middle of a group.
ONLY_QED_REFUSES = [
    # the fix tactic does not check the guard condition; the kernel does, at Qed
    ("forall n : nat, n + 0 = n", "fix f 1. intros n. apply f.", "Recursive definition of f is ill-formed"),
    # the first bullet's goal is solved and the second is never focused: nothing is left in focus
    ("True /\\ True", "split.\n- exact I.", "(in proof ratchet_goal): Attempt to save an incomplete proof"),
]


def test_what_only_qed_refuses_is_found_by_the_audit_in_a_group(pool):
    good = [("forall a b : nat, a + b = b + a", "intros. lia."), ("forall a : nat, a <= a + 1", "intros. lia.")]
    cases = [good[0], *[(s, p) for s, p, _ in ONLY_QED_REFUSES], good[1], ("True", "exact I.")]
    tasks = [task(i, s, p) for i, (s, p) in enumerate(cases)]
    with CoqVerifier(workers=1, timeout_s=10.0, header=FALLBACK_HEADER) as one:
        verdicts = one.verify(tasks)  # one worker: all five go to one audit group
    assert [v.status for v in verdicts] == [Status.VERIFIED, Status.REJECTED, Status.REJECTED,
                                            Status.VERIFIED, Status.VERIFIED], [v.reason for v in verdicts]
    for (_, _, text), v in zip(ONLY_QED_REFUSES, verdicts[1:3]):
        assert text in v.reason and "ratchet__" not in v.reason, v  # reasons name the task, not the replay
    assert [fresh_verify(t, header=FALLBACK_HEADER).status for t in tasks] == [v.status for v in verdicts]


def test_a_qed_that_hangs_times_out_in_the_audit():
    # exact_no_check skips the tactic-level type check, so phase 1 passes at once and the kernel's
    # conversion check at Qed (in the audit's replay) runs for minutes. The screen refuses
    # exact_no_check; it is switched off here to reach the audit's own timeout.
    slow_qed = "exact_no_check (eq_refl (Nat.pow 2 100))."
    with mock.patch.object(verifier_module, "check_coq_screen", lambda proof: ADMISSIBLE), \
            CoqVerifier(workers=1, timeout_s=2.0, header=FALLBACK_HEADER) as v:
        start = time.monotonic()
        out = v.verify([task(0, "Nat.pow 2 100 = Nat.pow 2 100 * 1", slow_qed), task(1, "True", "exact I.")])
    assert [o.status for o in out] == [Status.TIMEOUT, Status.VERIFIED], out
    assert time.monotonic() - start < 20


def test_results_come_back_in_input_order_with_one_or_two_workers(pool):
    mixed = []
    for i in range(12):
        mixed.append(task(i, f"{i} + 1 = S {i}", "reflexivity.") if i % 3 else task(i, f"{i} = S {i}", "lia."))
    want = [Status.VERIFIED if i % 3 else Status.REJECTED for i in range(12)]
    assert [v.status for v in pool.verify(mixed)] == want
    with CoqVerifier(workers=1, timeout_s=10.0, header=FALLBACK_HEADER) as one:
        assert [v.status for v in one.verify(mixed)] == want


def test_bad_statement_and_name_are_infra_errors_not_rejections(pool):
    verdicts = pool.verify([task(0, "no_such_constant = 0", "reflexivity."),
                            task(1, "True. Axiom cheat : False", "exact I."),
                            task(2, "True", "exact I.", name="not an identifier")])
    assert [v.status for v in verdicts] == [Status.ERROR] * 3
    assert "statement does not elaborate" in verdicts[0].reason
    assert "sentence end" in verdicts[1].reason
    assert "identifier" in verdicts[2].reason


# Statements and names that cannot head a theorem: bad input (error), never a rejected proof (issue 12).
BAD_INPUT = [
    ("True) -> (True", "ratchet_goal", "unbalanced ')'"),
    ("(True -> True", "ratchet_goal", "unclosed '('"),
    ("[True", "ratchet_goal", "unclosed '['"),
    ("True \ud800", "ratchet_goal", "lone surrogate"),
    ("True", "double", "the theorem cannot be stated: Error: double already exists"),  # the header took it
    ("True", "Nat_double", None),  # free: a valid name, the proof verifies
    ("True", "fun", "a word Coq reserves"),
    ("True", "_", "a word Coq reserves"),
    ("True", "Type", "a word Coq reserves"),
    ("True", "forall", "a word Coq reserves"),
]


def test_a_statement_or_name_that_cannot_head_a_theorem_is_an_error_as_under_coqc():
    header = FALLBACK_HEADER + "Definition double (n : nat) := n + n.\n"
    tasks = [task(i, s, "intros. exact I.", name=n) for i, (s, n, _) in enumerate(BAD_INPUT)]
    with CoqVerifier(workers=1, timeout_s=10.0, header=header) as v:
        verdicts = v.verify(tasks)
    for t, (_, _, why), got in zip(tasks, BAD_INPUT, verdicts):
        fresh = fresh_verify(t, header=header)
        if why is None:
            assert got.status is fresh.status is Status.VERIFIED, (got, fresh)
        else:
            assert got.status is fresh.status is Status.ERROR, (t, got, fresh)
            assert why in got.reason and why in fresh.reason, (got, fresh)


def test_hanging_proof_times_out_and_its_worker_is_replaced():
    with CoqVerifier(workers=1, timeout_s=2.0, header=FALLBACK_HEADER) as v:
        v.verify([task(0, "True", "exact I.")])
        before = pids(v)[0]
        start = time.monotonic()
        out = v.verify([task(1, "True", HANG), task(2, "True", "exact I.")])
        assert [o.status for o in out] == [Status.TIMEOUT, Status.VERIFIED]
        assert out[0].reason == "timeout after 2.0s"
        assert time.monotonic() - start < 15
        assert pids(v)[0] != before
        with pytest.raises(ProcessLookupError):
            os.kill(before, 0)  # the old worker's process is gone, not left running


def test_worker_killed_by_memory_is_rejected_never_verified():
    with CoqVerifier(workers=1, timeout_s=30.0, memory_mb=700, header=FALLBACK_HEADER) as v:
        out = v.verify([task(0, "True", MEMORY_BOMB), task(1, "True", "exact I.")])
    assert out[0].status is Status.REJECTED, out[0]
    assert "coqtop died" in out[0].reason and "out of memory" in out[0].reason
    assert out[1].status is Status.VERIFIED


def test_output_flood_is_cut_off_and_rejected():
    with CoqVerifier(workers=1, timeout_s=20.0, max_output_bytes=20_000, header=FALLBACK_HEADER) as v:
        out = v.verify([task(0, "True", 'do 20000 idtac "flood flood flood flood". exact I.'),
                        task(1, "True", "exact I.")])
    assert out[0].status is Status.REJECTED and "output limit" in out[0].reason
    assert out[1].status is Status.VERIFIED


def test_workers_run_in_their_own_process_group_under_the_memory_limit():
    with CoqVerifier(workers=1, memory_mb=1500, header=FALLBACK_HEADER) as v:
        v.verify([task(0, "True", "exact I.")])
        pid = pids(v)[0]
        assert os.getpgid(pid) == pid
        limits = open(f"/proc/{pid}/limits").read()
        line = next(ln for ln in limits.splitlines() if ln.startswith("Max address space"))
        assert line.split()[3] == str(1500 * 1024 * 1024)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # close() killed it


def test_workers_are_recycled_after_n_proofs():
    with CoqVerifier(workers=1, recycle_after=2, header=FALLBACK_HEADER) as v:
        seen = set()
        for i in range(3):
            assert [o.status for o in v.verify([task(2 * i, "True", "exact I."),
                                                task(2 * i + 1, "True", "exact I.")])] == [Status.VERIFIED] * 2
            seen.add(pids(v)[0])
        assert len(seen) == 3


def test_header_that_fails_to_load_is_an_infra_error():
    with CoqVerifier(workers=1, header="Require Import NoSuchLibraryAnywhere.\n") as v:
        out = v.verify([task(0, "True", "exact I."), task(1, "True", "Admitted.")])
    assert out[0].status is Status.ERROR and "header failed to load" in out[0].reason
    assert out[1].status is Status.REJECTED  # the screen still answers without a prover


def test_missing_coqtop_is_an_infra_error():
    with CoqVerifier(workers=1, coqtop="ratchet-no-such-coqtop") as v:
        out = v.verify([task(0, "True", "exact I.")])
    assert out[0].status is Status.ERROR and "not found on PATH" in out[0].reason


def test_fresh_coqc_agrees_with_the_pool(pool):
    tasks = [task(0, "True", "exact I."), task(1, "1 + 1 = 3", "lia."), task(2, "True", "Admitted."),
             task(3, "forall a b : nat, a + b = b + a", "intros. lia."),
             task(4, "True", 'idtac "Error: looks bad". exact I.')]
    fresh = [fresh_verify(t, header=FALLBACK_HEADER) for t in tasks]
    assert [f.status for f in fresh] == [v.status for v in pool.verify(tasks)]
    assert [f.status for f in fresh] == [Status.VERIFIED, Status.REJECTED, Status.REJECTED, Status.VERIFIED,
                                         Status.VERIFIED]


def test_workers_write_nothing_into_the_callers_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with CoqVerifier(workers=1, header=FALLBACK_HEADER) as v:
        assert v.verify([task(0, "forall a b : nat, a + b = b + a", "intros. lia.")])[0].verified
        workdir = v._slots[0].worker.process.workdir
        assert os.path.isdir(workdir)  # lia keeps its certificate cache here, not in the caller's directory
    assert list(tmp_path.iterdir()) == []
    assert not os.path.exists(workdir)
