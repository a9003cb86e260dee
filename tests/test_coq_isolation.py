"""A proof's verdict never depends on what else is in its batch (issue 12), against real coqtop.

The audit replays many accepted proofs in one file. Each leak below is a pair:
the first proof declares a global constant from inside its proof, the second
fails alone (under the pool and under a fresh coqc) but would pass if it could
use that constant. Replayed in one group, on one worker, the second must get
the verdict it gets alone. The last test shows these pairs do leak when the
audit does not close each proof's module, so the test has teeth.
"""
from __future__ import annotations

from unittest import mock

import pytest

import prover.coq.verifier as verifier_module
import prover.coq.worker as worker_module
from prover.coq import CoqVerifier, coq_available, fresh_verify
from prover.coq.header import FALLBACK_HEADER
from prover.screen import ADMISSIBLE
from prover.verdict import ProofTask, Status

pytestmark = pytest.mark.skipif(not coq_available(), reason="coqtop is not installed")

PLUS0 = "forall n : nat, n + 0 = n"
# Passes phase 1 either way (Qed is not run there); only Qed tells the two branches apart.
USES = "first [exact {name} | fix f 1; intro n; exact (f n)]."

# (first statement, first proof, second statement, second proof): the first plants, the second uses.
LEAKS = {
    # The reproducer: a name given to transparent_abstract.
    "transparent-abstract-using": (PLUS0, "transparent_abstract (intro n; lia) using rt_tleak.",
                                   PLUS0, USES.format(name="rt_tleak")),
    # The same name planted for a different statement, used through a hypothesis.
    "transparent-abstract-other-goal": ("forall a b : nat, a + b = b + a",
                                        "transparent_abstract (intros a b; lia) using rt_comm.",
                                        "forall x y : nat, x + y = y + x",
                                        "first [exact rt_comm | fix f 1; intros x y; exact (f x y)]."),
    # Planted from inside a term, used by rewriting with it.
    "transparent-abstract-in-a-term": (PLUS0, "exact ltac:(transparent_abstract (intro n; lia) using rt_inner).",
                                       PLUS0, "first [intro n; rewrite rt_inner; reflexivity "
                                              "| fix f 1; intro n; exact (f n)]."),
    # Planted for a helper fact, used through a hypothesis inside a longer proof.
    "transparent-abstract-helper": ("forall a : nat, 0 + a = a",
                                    "assert (rt_h : forall n : nat, n + 0 = n) by "
                                    "(transparent_abstract (intro n; lia) using rt_helper). intro a. reflexivity.",
                                    PLUS0, "first [pose proof rt_helper as h; exact h | fix f 1; intro n; exact (f n)]."),
}


def tasks(*pairs):
    return [ProofTask(id=str(i), statement=s, proof=p) for i, (s, p) in enumerate(pairs)]


@pytest.fixture(scope="module", params=[True, False], ids=["single-pass", "two-phase"])
def pool(request):
    """The pool in each of its modes: proofs kept in place, and phase 1 plus the audit."""
    with CoqVerifier(workers=1, timeout_s=10.0, header=FALLBACK_HEADER, single_pass=request.param) as v:
        yield v


@pytest.mark.parametrize("leak", LEAKS, ids=list(LEAKS))
def test_a_constant_declared_by_one_proof_is_out_of_reach_of_the_next(pool, leak):
    first_s, first, second_s, second = LEAKS[leak]
    alone = pool.verify(tasks((second_s, second)))[0]
    fresh = fresh_verify(tasks((second_s, second))[0], header=FALLBACK_HEADER)
    assert alone.status is fresh.status is Status.REJECTED, (alone, fresh)
    batch = pool.verify(tasks((first_s, first), (second_s, second)))
    assert batch[0].status is fresh_verify(tasks((first_s, first))[0], header=FALLBACK_HEADER).status
    assert batch[1].status is Status.REJECTED and batch[1].reason == alone.reason, batch[1]
    # Order and company do not matter either: with valid proofs around it, and after it twice.
    many = pool.verify(tasks(("True", "exact I."), (first_s, first), (first_s, first), (second_s, second),
                             (PLUS0, "intro n. lia.")))
    assert [v.status for v in many] == [Status.VERIFIED, batch[0].status, batch[0].status, Status.REJECTED,
                                        Status.VERIFIED]


def test_a_lemma_planted_with_abstract_is_out_of_reach_even_past_the_screen(pool):
    """The screen refuses abstract; with the screen off, the audit alone still keeps its lemma private."""
    with mock.patch.object(verifier_module, "check_coq_screen", lambda proof: ADMISSIBLE):
        alone = pool.verify(tasks((PLUS0, USES.format(name="rt_aleak"))))[0]
        batch = pool.verify(tasks((PLUS0, "abstract (intro n; lia) using rt_aleak."),
                                  (PLUS0, USES.format(name="rt_aleak"))))
    assert alone.status is Status.REJECTED
    assert batch[0].status is Status.REJECTED  # Load declares abstract's lemma without a body: an axiom
    assert batch[1].status is Status.REJECTED and batch[1].reason == alone.reason


def test_the_leaks_get_through_when_the_proofs_are_replayed_without_modules():
    """Replayed side by side at the top level, as before issue 12, every pair above leaks."""
    leaky = mock.patch.object(worker_module, "_in_module", lambda module, theorem, text: (theorem, text))
    with leaky, CoqVerifier(workers=1, timeout_s=10.0, header=FALLBACK_HEADER, single_pass=False) as v:
        for first_s, first, second_s, second in LEAKS.values():
            out = v.verify(tasks((first_s, first), (second_s, second)))
            assert out[1].status is Status.VERIFIED, out


def test_the_leaks_get_through_when_kept_proofs_are_not_enclosed():
    """The single pass keeps a proof that succeeds; without its module and section, every pair leaks."""
    leaky = mock.patch.object(worker_module, "_enclosed", lambda a, sentences: (sentences, ""))
    with leaky, CoqVerifier(workers=1, timeout_s=10.0, header=FALLBACK_HEADER) as v:
        for first_s, first, second_s, second in LEAKS.values():
            out = v.verify([ProofTask(id="0", statement=first_s, proof=first, name="first"),
                            ProofTask(id="1", statement=second_s, proof=second, name="second")])
            assert out[1].status is Status.VERIFIED, out
            v.close()  # a fresh worker for the next pair


def test_transparent_abstract_is_judged_as_coqc_judges_it(pool):
    cases = tasks((PLUS0, "intro n. transparent_abstract lia."),
                  (PLUS0, "transparent_abstract (intro n; lia) using rt_named."),
                  ("1 + 1 = 3", "transparent_abstract lia."))
    got = pool.verify(cases)
    assert [v.status for v in got] == [fresh_verify(t, header=FALLBACK_HEADER).status for t in cases] \
        == [Status.VERIFIED, Status.VERIFIED, Status.REJECTED]


def test_two_proofs_that_give_their_lemma_the_same_name_both_verify_as_each_does_alone(pool):
    same = "transparent_abstract (intro n; lia) using rt_same."
    got = pool.verify(tasks((PLUS0, same), (PLUS0, same), (PLUS0, USES.format(name="rt_same"))))
    assert [v.status for v in got] == [Status.VERIFIED, Status.VERIFIED, Status.REJECTED], got


@pytest.mark.parametrize("statement,proof,what", [
    (PLUS0, "intro n. abstract lia.", "'abstract' is not supported"),
    (PLUS0, "abstract (intro n; lia) using rt_named.", "'abstract' is not supported"),
    ("True", "exact ltac:(abstract exact I).", "'abstract' is not supported"),
    ("True /\\ True", "split. par: exact I.", "'par:' is not supported"),
    ("True /\\ True", "split.\n- par : exact I.\n- exact I.", "'par:' is not supported"),
])
def test_what_load_cannot_judge_is_refused_saying_so_not_called_axioms(pool, statement, proof, what):
    verdict = pool.verify(tasks((statement, proof)))[0]
    assert verdict.status is Status.REJECTED
    assert verdict.reason.startswith("screen: ") and what in verdict.reason, verdict
    assert "axioms" not in verdict.reason and "Anomaly" not in verdict.reason
