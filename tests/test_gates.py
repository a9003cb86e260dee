"""Gates: the judge copy, admit-all, the seeded noisy flip and the documented weak check."""
from __future__ import annotations

import pytest

from loop.config import GateConfig
from loop.gates import check_coq, check_lean, make_gate
from prover.verdict import Status, Verdict

OK = Verdict(Status.VERIFIED, "Qed accepted")
NO = Verdict(Status.REJECTED, "Error: lia failed")
SLOW = Verdict(Status.TIMEOUT, "timeout after 10s")
BROKEN = Verdict(Status.ERROR, "worker died")


def test_judge_gate_copies_the_judge():
    g = make_gate(GateConfig(kind="judge"), "coq", 0)
    for v in (OK, NO, SLOW, BROKEN):
        d = g.decide("t", 0, 0, "lia.", v)
        assert d.status is v.status
        assert d.reason.startswith("gate=judge:") and v.reason in d.reason


def test_none_gate_admits_everything_judged_but_never_infra_errors():
    g = make_gate(GateConfig(kind="none"), "coq", 0)
    for v in (OK, NO, SLOW):
        assert g.decide("t", 0, 0, "garbage", v).status is Status.VERIFIED
    d = g.decide("t", 0, 0, "lia.", BROKEN)
    assert d.status is Status.ERROR and "infra error" in d.reason


def rates(gate, judge: Verdict, draws: int) -> float:
    return sum(gate.decide(f"thm{i % 97}", i // 97, i % 7, "p", judge).verified for i in range(draws)) / draws


def test_noisy_gate_rates_within_tolerance():
    g = make_gate(GateConfig(kind="noisy", fp=0.3, fn=0.1), "coq", seed=7)
    n = 20_000
    # binomial std at p=0.3, n=20k is 0.0032: 0.015 is more than 4 sigma
    assert rates(g, NO, n) == pytest.approx(0.3, abs=0.015)
    assert rates(g, SLOW, n) == pytest.approx(0.3, abs=0.015)  # a timeout is a failed proof
    assert 1 - rates(g, OK, n) == pytest.approx(0.1, abs=0.015)
    assert all(g.decide("t", r, i, "p", BROKEN).status is Status.ERROR for r in range(5) for i in range(20))


def test_noisy_gate_reproducible_and_order_independent():
    keys = [(f"t{i}", r, j) for i in range(30) for r in range(3) for j in range(4)]
    a = make_gate(GateConfig(kind="noisy", fp=0.5), "coq", seed=1)
    b = make_gate(GateConfig(kind="noisy", fp=0.5), "coq", seed=1)
    first = {k: a.decide(*k, "p", NO).status for k in keys}
    second = {k: b.decide(*k, "p", NO).status for k in reversed(keys)}
    assert first == second
    other_seed = make_gate(GateConfig(kind="noisy", fp=0.5), "coq", seed=2)
    assert first != {k: other_seed.decide(*k, "p", NO).status for k in keys}


def test_noisy_gate_false_positives_nest_across_rates():
    """Common random numbers: what fp=0.1 lets through, fp=0.3 lets through too."""
    low = make_gate(GateConfig(kind="noisy", fp=0.1), "coq", seed=3)
    high = make_gate(GateConfig(kind="noisy", fp=0.3), "coq", seed=3)
    keys = [(f"t{i}", 0, j) for i in range(200) for j in range(8)]
    admitted_low = {k for k in keys if low.decide(*k, "p", NO).verified}
    admitted_high = {k for k in keys if high.decide(*k, "p", NO).verified}
    assert admitted_low and admitted_low < admitted_high


def test_noisy_reasons_name_the_gate_and_the_flip():
    g = make_gate(GateConfig(kind="noisy", fp=1.0, fn=1.0), "coq", 0)
    assert g.decide("t", 0, 0, "p", NO).reason == "gate=noisy: false positive (judge said rejected)"
    assert g.decide("t", 0, 0, "p", OK).reason == "gate=noisy: false negative (judge said verified)"
    assert not g.decide("t", 0, 0, "p", OK).verified


@pytest.mark.parametrize("proof", [
    "lia.",
    "intros. lia.",
    "intros n; induction n; simpl; lia.",
    "induction n.\n- simpl. reflexivity.\n- simpl. rewrite IHn. reflexivity.",
    "split. { lia. } { auto. }",
    "Proof. intros. ring. Qed.",
    "exists 3. reflexivity.",
    "rewrite Nat.add_comm. reflexivity.",
    "intros; bogus_tactic (x).",  # only the first word of a sentence is checked
])
def test_weak_coq_accepts(proof):
    assert check_coq(proof) is None
    d = make_gate(GateConfig(kind="weak"), "coq", 0).decide("t", 0, 0, proof, NO)
    assert d.verified and d.reason.startswith("gate=weak:")


@pytest.mark.parametrize("proof,why", [
    ("", "empty"),
    ("   \n", "empty"),
    ("lia", "does not end with '.'"),
    ("intros. lia", "does not end with '.'"),
    ("apply (f x.", "unbalanced"),
    ("intros. lia.)", "unbalanced"),
    ("admit.", "forbidden word 'admit'"),
    ("intros; admit.", "forbidden word 'admit'"),
    ("Admitted.", "forbidden word"),
    ("hello world.", "sentence 1 does not start with a known tactic ('hello')"),
    ("intros. foo.", "sentence 2"),
    ("intros. . lia.", "sentence 2 is empty"),
    ("Proof. Qed.", "no tactic"),
    ("Theorem x : True. trivial.", "sentence 1"),
])
def test_weak_coq_refuses(proof, why):
    reason = check_coq(proof)
    assert reason is not None and why in reason
    d = make_gate(GateConfig(kind="weak"), "coq", 0).decide("t", 0, 0, proof, OK)
    assert d.status is Status.REJECTED and why in d.reason


@pytest.mark.parametrize("proof", [
    "omega",
    "intro n\ninduction n <;> simp",
    "constructor\n· exact h\n· norm_num",
    "rcases h with ⟨x, hx⟩; exact ⟨x, by omega⟩",
    "simp [Nat.add_comm]; ring",
])
def test_weak_lean_accepts(proof):
    assert check_lean(proof) is None


@pytest.mark.parametrize("proof,why", [
    ("", "empty"),
    ("sorry", "forbidden word 'sorry'"),
    ("simp; exact sorryAx _", "forbidden word"),
    ("exact (foo", "unbalanced"),
    ("theorem x : True := trivial", "step 1"),
    ("intro n\nfoo n", "step 2"),
    ("calc a = b := by rfl\n_ = c := by rfl", "step 2"),
])
def test_weak_lean_refuses(proof, why):
    reason = check_lean(proof)
    assert reason is not None and why in reason


def test_weak_gate_never_admits_infra_errors():
    d = make_gate(GateConfig(kind="weak"), "lean", 0).decide("t", 0, 0, "omega", BROKEN)
    assert d.status is Status.ERROR


def test_make_gate_needs_a_resolved_backend():
    with pytest.raises(ValueError, match="backend"):
        make_gate(GateConfig(), "auto", 0)
