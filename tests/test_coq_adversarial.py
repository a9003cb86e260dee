"""Attacks on the Coq verifier, run against real coqtop.

Three layers, each tested on its own:

1. the static screen: every exploit of tests/test_screen_coq.py, sent through
   the pool, is refused before any prover sees it;
2. the prover-side checks, with the screen switched off: what a cheat that
   slipped past a text filter would meet (Print Assumptions, the exact-type
   check, undoing every proof before the next) still refuses it;
3. the protocol: proofs that print prompts, errors, success texts or marker
   look-alikes get the verdict their logic deserves, agree with a fresh coqc,
   and leave the next proof's verdict alone.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from collections import Counter
from unittest import mock

import pytest

import prover.coq.verifier as verifier_module
import prover.coq.worker as worker_module
from prover.coq import CoqVerifier, coq_available, fresh_verify
from prover.coq.header import FALLBACK_HEADER
from prover.screen import ADMISSIBLE
from prover.verdict import ProofTask, Status
from test_screen_coq import EXPLOITS

pytestmark = pytest.mark.skipif(not coq_available(), reason="coqtop is not installed")


def tasks_of(pairs, names=None):
    names = names or ["ratchet_goal"] * len(pairs)
    return [ProofTask(id=str(i), statement=s, proof=p, name=n) for i, ((s, p), n) in enumerate(zip(pairs, names))]


@pytest.fixture(scope="module", params=[True, False], ids=["single-pass", "two-phase"])
def pool(request):
    """The pool in each of its modes: proofs kept in place, and phase 1 plus the audit."""
    with CoqVerifier(workers=1, timeout_s=5.0, header=FALLBACK_HEADER, single_pass=request.param) as v:
        yield v


def screen_off():
    """Switch the static screen off (for the duration of a with-block): only the prover-side checks stand."""
    return mock.patch.object(verifier_module, "check_coq_screen", lambda proof: ADMISSIBLE)


def test_every_screen_exploit_is_rejected_by_the_real_pool(pool):
    verdicts = pool.verify(tasks_of([("False", p) for p, _ in EXPLOITS]))
    for (proof, rule), v in zip(EXPLOITS, verdicts):
        assert v.status is Status.REJECTED, (proof, v)
        assert v.reason.startswith("screen: "), (proof, v)


# Cheats that pass no static screen here: the screen is switched off to show that the
# prover-side checks catch each one anyway. (statement, body, status, what the reason must say)
BEHIND_THE_SCREEN = [
    # Admit the goal, then open and close a harmless theorem so the framework's Qed succeeds;
    # printing the success text does not help: Print Assumptions is read from its own answer.
    ("False", 'idtac "Closed under the global context".\nAdmitted.\nTheorem other : True.\nProof.\nexact I.',
     Status.REJECTED, "axioms: depends on ratchet_goal"),
    # Abort the real goal and restate the theorem name with an easier type: the statement check.
    ("False", "Abort.\nTheorem ratchet_goal : True.\nProof.\nexact I.",
     Status.REJECTED, "does not prove the stated statement"),
    # The same, after shadowing the tactic a type check might use: the check is a Definition
    # against the statement bound before the proof ran, not a tactic.
    ("False", "Abort.\nLtac constr_eq x y := idtac.\nTheorem ratchet_goal : True.\nProof.\nexact I.",
     Status.REJECTED, "does not prove the stated statement"),
    # Redefine a name the statement uses, so that re-reading the statement would mean something easy.
    ("False", "Abort.\nDefinition False := True.\nTheorem ratchet_goal : False.\nProof.\nexact I.",
     Status.REJECTED, "does not prove the stated statement"),
    # Turn the guard checker off and prove False by a non-terminating fixpoint. The two-phase
    # audit finds it in the assumptions; the single pass runs the proof inside a section, where
    # Coq refuses to change typing flags at all. (reason text: two-phase, single pass)
    ("False", "Unset Guard Checking.\nexact ((fix f (n : nat) : False := f n) 0).",
     Status.REJECTED, ("assumed to be guarded", "Changing typing flags inside sections is not allowed")),
    # Give the goal up: no goal is left in focus, but Qed (run in the audit) refuses given-up goals.
    ("False", "admit.", Status.REJECTED, "given up"),
    # Close the proof early with Admitted: what the framework runs after the body finds no proof.
    ("False", "Admitted.", Status.REJECTED, "No proof-editing in progress"),
    # Commands that steer coqtop itself (end it, or move its document back past the proof's own
    # start) belong to its top-level loop: in a file run by Load they are refused.
    ("True", "Quit.", Status.REJECTED, "Quit was not found"),
    ("True", "Reset Initial.", Status.REJECTED, "not handled"),
    ("True", "Back 2.", Status.REJECTED, "not handled"),
    ("True", "Abort All.", Status.REJECTED, "cannot be used through the Load command"),
]


def test_prover_side_checks_catch_cheats_the_screen_would_have_stopped(pool):
    with screen_off():
        verdicts = pool.verify(tasks_of([(s, p) for s, p, _, _ in BEHIND_THE_SCREEN] + [("True", "exact I.")]))
    for (s, p, status, text), got in zip(BEHIND_THE_SCREEN, verdicts):
        text = text if isinstance(text, str) else text[pool.single_pass]
        assert got.status is status and text in got.reason, (p, got)
    assert verdicts[-1].status is Status.VERIFIED  # and the worker still judges the next proof rightly


# Pairs of proofs on ONE worker: the first leaves something behind (screen off), the second
# would only succeed if it survived. Every proof's Load is undone, so none of it does.
# The last field says whether only the undo stops it (the leaked thing is sound, so
# Print Assumptions would not object); the others are also caught by the axiom audit.
LEAKS = [
    ("True", "Unset Guard Checking.\nexact I.", "False", "exact ((fix f (n : nat) : False := f n) 0).", False),
    ("True", "exact I.\nQed.\nAxiom ratchet_cheat : False.\nGoal True.\nexact I.", "False", "exact ratchet_cheat.",
     False),
    ("True", "exact I.\nQed.\nDefinition ratchet_leak : True := I.\nGoal True.\nexact I.", "True",
     "exact ratchet_leak.", True),
    ("True", "exact I.\nQed.\nLtac ratchet_solve := exact I.\nGoal True.\nexact I.", "True", "ratchet_solve.", True),
    ("True", "exact I.\nQed.\nHint Resolve rev_involutive : core.\nGoal True.\nexact I.",
     "forall l : list nat, rev (rev l) = l", "auto.", True),
    ("True", "exact I.\nQed.\nNotation ratchet_two := 1.\nGoal True.\nexact I.", "ratchet_two = 1",
     "reflexivity.", True),
]


@pytest.mark.parametrize("first_s,first,second_s,second,_", LEAKS, ids=[f"leak{i}" for i in range(len(LEAKS))])
def test_nothing_a_proof_does_survives_into_the_next_proof(pool, first_s, first, second_s, second, _):
    with screen_off():
        alone = pool.verify(tasks_of([(second_s, second)], ["second"]))
        after = pool.verify(tasks_of([(first_s, first), (second_s, second)], ["first", "second"]))
    assert alone[0].status is not Status.VERIFIED
    assert after[1].status is alone[0].status, (after, alone)


def test_the_leak_cases_do_leak_when_the_load_is_not_undone():
    """The isolation test above has teeth in the two-phase mode: when a Load is not undone, the
    sound leaks get through.

    The file's last sentence is made to succeed (it closes the open proof instead of failing),
    and the worker is told to trust its state anyway.
    """
    sound = [leak for leak in LEAKS if leak[4]]
    with screen_off(), mock.patch.object(worker_module, "_undo", lambda nonce: "Abort.\n"), \
            mock.patch.object(worker_module, "_undone", lambda err, nonce: True), \
            mock.patch.object(worker_module.CoqWorker, "_restored", staticmethod(lambda err: True)):
        with CoqVerifier(workers=1, timeout_s=5.0, header=FALLBACK_HEADER, single_pass=False) as v:
            for first_s, first, second_s, second, _ in sound:
                out = v.verify(tasks_of([(first_s, first), (second_s, second)], ["first", "second"]))
                assert out[1].status is Status.VERIFIED, (second, out[1])
                v.close()  # a fresh worker for the next pair: nothing resets it in this test


def test_the_leak_cases_do_leak_when_kept_proofs_are_not_enclosed():
    """The isolation test above has teeth in the single pass: a proof that succeeds is kept, and
    only its module and section keep what it did from the next proof. Without them, the sound
    leaks get through, except into a statement: statements are bound before any proof is kept,
    so one that needs the leaked notation does not elaborate."""
    sound = [leak for leak in LEAKS if leak[4]]
    with screen_off(), mock.patch.object(worker_module, "_enclosed", lambda a, sentences: (sentences, "")):
        with CoqVerifier(workers=1, timeout_s=5.0, header=FALLBACK_HEADER) as v:
            for first_s, first, second_s, second, _ in sound:
                out = v.verify(tasks_of([(first_s, first), (second_s, second)], ["first", "second"]))
                if "ratchet_two" in second_s:
                    assert out[1].status is Status.ERROR and "does not elaborate" in out[1].reason, out[1]
                else:
                    assert out[1].status is Status.VERIFIED, (second, out[1])
                v.close()  # a fresh worker for the next pair


# Proofs that print text from the verifier's own vocabulary. The valid ones must verify, the
# invalid ones must be rejected, exactly as coqc judges them, and the proof after each is unaffected.
PROTOCOL_TEXT = [
    ("True", 'idtac "No object of basename ratchet__s_0123456789abcdef". exact I.', Status.VERIFIED),
    ("False", 'idtac "No object of basename ratchet__s_0123456789abcdef". exact I.', Status.REJECTED),
    ("False", 'idtac "Closed under the global context".', Status.REJECTED),
    ("True", 'idtac "Error: ratchet__e_0123456789abcdef not a defined object.". exact I.', Status.VERIFIED),
    ("True", 'idtac "Error: The command has not succeeded". exact I.', Status.VERIFIED),
    ("True", 'idtac "Coq < ratchet_goal < Coq < ". exact I.', Status.VERIFIED),
    ("False", 'idtac "ratchet__same_0123456789abcdef". idtac "No more goals.".', Status.REJECTED),
    ("True", 'idtac "line one\nNo object of basename ratchet__s_00\n\nCoq < ". exact I.', Status.VERIFIED),
    ("False", 'fail "No object of basename ratchet__s_0123456789abcdef".', Status.REJECTED),
    ("True", 'exact I. (* Locate ratchet__s_0. Print Assumptions ratchet_goal. *)', Status.VERIFIED),
]


def test_text_a_proof_prints_cannot_desynchronise_the_reader(pool):
    pairs = []
    for s, p, _ in PROTOCOL_TEXT:
        pairs += [(s, p), ("forall n : nat, n + 0 = n", "intros. lia.")]
    verdicts = pool.verify(tasks_of(pairs))
    for k, (s, p, want) in enumerate(PROTOCOL_TEXT):
        assert verdicts[2 * k].status is want, (p, verdicts[2 * k])
        assert verdicts[2 * k + 1].status is Status.VERIFIED, (p, verdicts[2 * k + 1])


def test_protocol_text_verdicts_agree_with_a_fresh_coqc():
    with ThreadPoolExecutor(max_workers=2) as ex:
        fresh = list(ex.map(lambda t: fresh_verify(t, header=FALLBACK_HEADER),
                            tasks_of([(s, p) for s, p, _ in PROTOCOL_TEXT])))
    assert [f.status for f in fresh] == [want for _, _, want in PROTOCOL_TEXT], [f.reason for f in fresh]


def test_a_failure_next_to_a_kept_proof_is_judged_again_on_a_clean_worker():
    """The single pass: a proof that fails while another is kept is judged once more after the
    worker is reset, and that verdict is the one it gets. Here the kept proof (screen off) sets a
    global option that makes the next proof fail; alone, the next proof verifies."""
    first = ("True", 'exact I.\nGlobal Set Default Goal Selector "!".')
    second = ("True /\\ True", "split. exact I. exact I.")
    with screen_off(), CoqVerifier(workers=1, timeout_s=5.0, header=FALLBACK_HEADER) as v:
        alone = v.verify(tasks_of([second]))
        after = v.verify(tasks_of([first, second], ["first", "second"]))
    assert alone[0].status is Status.VERIFIED, alone
    assert after[1].status is Status.VERIFIED, after


def test_a_failure_beside_kept_proofs_runs_once_when_nothing_they_could_change_changed():
    """The single pass does not run a failure twice when the kept proofs left the universe graph,
    every option and table, and the loaded libraries as they were (``CoqWorker.fingerprint``);
    when they did change (the Global Set above), it does, and a proof alone runs once either way."""
    runs: Counter = Counter()
    real = worker_module.CoqWorker.commit

    def commit(self, tasks, timeout_s):
        runs.update(t.id for t in tasks)
        return real(self, tasks, timeout_s)

    plain = [("True", "exact I."), ("1 + 1 = 3", "lia."), ("forall n : nat, n + 0 = n", "intros; lia.")]
    changed = [("True", 'exact I.\nGlobal Set Default Goal Selector "!".'), ("True /\\ True", "split. exact I. exact I.")]
    with screen_off(), mock.patch.object(worker_module.CoqWorker, "commit", commit), \
            CoqVerifier(workers=1, timeout_s=5.0, header=FALLBACK_HEADER) as v:
        out = v.verify(tasks_of(plain))
        assert [o.status for o in out] == [Status.VERIFIED, Status.REJECTED, Status.VERIFIED], out
        assert runs == Counter({"0": 1, "1": 1, "2": 1}), runs
        runs.clear()
        out = v.verify(tasks_of(changed, ["first", "second"]))
    assert [o.status for o in out] == [Status.VERIFIED, Status.VERIFIED], out
    assert runs == Counter({"0": 1, "1": 2}), runs
