"""The static Coq screen: every exploit refused by the rule named beside it; real proof styles admitted.

Pure text checks, no prover. The same exploit list is run through the real
coqtop pool in tests/test_coq_adversarial.py.
"""
from __future__ import annotations

import pytest

from prover.coq.lexer import LexError, mask, sentences
from prover.coq.screen import MAX_PROOF_CHARS, check_coq_name, check_coq_screen, check_coq_statement
from prover.screen import check_screen

# (proof body, rule that must refuse it). One attack per line; the comment says what it tries.
EXPLOITS: list[tuple[str, str]] = [
    ("Admitted.", "vernacular"),  # give up and declare the theorem as an axiom
    ("exact I.\nQed.\nAxiom cheat : False.", "vernacular"),  # close early, then add an axiom at top level
    ("Abort.", "vernacular"),  # drop the goal; the framework's Qed would then act on nothing
    ("Abort All.", "vernacular"),  # same, for every open proof
    ("exact I. Defined.", "vernacular"),  # close the proof inside the body
    ("Axiom cheat : False. exact (False_ind _ cheat).", "vernacular"),  # an axiom, used at once
    ("Parameter p : False. exact (False_ind _ p).", "vernacular"),  # the same with Parameter
    ("Unset Guard Checking. exact I.", "vernacular"),  # allow non-terminating fixpoints (proofs of False)
    ("Unset Universe Checking. exact I.", "vernacular"),  # allow Type : Type (Girard's paradox)
    ("Local Unset Guard Checking. exact I.", "vernacular"),  # the option change behind a locality prefix
    ("#[local] Set Nested Proofs Allowed. exact I.", "attribute"),  # attribute syntax before a command
    ("Reset Initial.", "vernacular"),  # wipe the environment, including the framework's marker
    ("Back 2.", "vernacular"),  # step the document back under the framework's feet
    ("BackTo 1.", "vernacular"),  # same, by state number
    ("Quit.", "vernacular"),  # end the prover process mid-request
    ("Drop.", "vernacular"),  # leave the Coq toplevel for the OCaml one
    ('Load "/tmp/evil.v".', "vernacular"),  # run commands from a file the model chose
    ('Redirect "/tmp/out" Print Assumptions ratchet_goal.', "vernacular"),  # write files; hide output
    ('Cd "/tmp".', "vernacular"),  # change the prover's working directory
    ("Require Import Classical. apply classic.", "vernacular"),  # load a library that brings axioms
    ("From Coq Require Import Classical.", "vernacular"),  # the same, qualified
    ('Notation "\'ok\'" := I. exact ok.', "vernacular"),  # change how later text parses or prints
    ("Hint Resolve I : core. auto.", "vernacular"),  # leave a hint behind for the next proof
    ('Declare ML Module "evil".', "vernacular"),  # load native code into the prover
    ('Extract Constant nat => "int".', "vernacular"),  # extraction commands write files
    ("Ltac cheat := exact I. cheat.", "vernacular"),  # define a tactic that outlives the proof
    ("Module M. End M. exact I.", "vernacular"),  # open a module: names and scopes change
    ("Section S. Variable v : False. End S.", "vernacular"),  # section variables are assumptions
    ("Print Assumptions ratchet_goal. exact I.", "vernacular"),  # print the framework's success text
    ("Fail idtac. exact I.", "vernacular"),  # control prefixes turn errors into successes
    ("Timeout 1 exact I.", "vernacular"),  # control prefix
    ("Time exact I.", "vernacular"),  # control prefix
    ("Proof. exact I.", "vernacular"),  # a nested Proof command
    ("Goal False. Admitted.", "vernacular"),  # start another goal
    ("Set Printing All. exact I.", "vernacular"),  # change printing: could alter what the checks read
    ("Opaque Nat.add. exact I.", "vernacular"),  # global reduction-strategy change
    ("Unshelve. exact I.", "vernacular"),  # capitalised proof-mode command (refused, harmless)
    ("Add LoadPath \"/tmp\" as Evil.", "vernacular"),  # make a directory of files loadable
    ("admit.", "forbidden-tactic"),  # closes the goal with a hole
    ("give_up.", "forbidden-tactic"),  # same
    ("intros. try admit.", "forbidden-tactic"),  # hidden inside a tactical
    ("exact ltac:(admit).", "forbidden-tactic"),  # hidden inside a term
    ("exact_no_check I.", "forbidden-tactic"),  # skips the tactic-level type check
    ("vm_cast_no_check (eq_refl 4).", "forbidden-tactic"),  # same, for VM casts
    ("change_no_check True. exact I.", "forbidden-tactic"),  # conversion without check
    ("native_compute. exact I.", "forbidden-tactic"),  # compiles and runs OCaml outside the kernel
    ("exact I. (*", "unterminated-comment"),  # swallow the framework's "Qed." into a comment
    ("exact I. (* (* *)", "unterminated-comment"),  # nested: only one of two comments closed
    ('idtac "abc. exact I.', "unterminated-string"),  # swallow the framework's text into a string
    ('exact I. (* " *)', "unterminated-string"),  # Coq lexes strings inside comments: this never closes
    ("exact I. *) Admitted.", "stray-comment-close"),  # text a naive reader takes for a comment's end
    ('exact I. "(*" Admitted. "*)" exact I.', "not-a-tactic"),  # strings that look like comment delimiters
    ("exact I", "unterminated-sentence"),  # merges with the framework's "Qed." into one sentence
    ("exact I. Admitted", "unterminated-sentence"),  # a command without its period
    ("exact I.(* x *)Admitted.", "ambiguous-period"),  # period glued to a comment: is it a sentence end?
    ("exact I...", "ambiguous-period"),  # the deprecated "..." terminator
    ("exact I.\u00a0Admitted.", "non-ascii"),  # a no-break space after the period
    ("\u0410dmitted.", "non-ascii"),  # Cyrillic A: looks like Admitted
    ("exact I.\x00Admitted.", "control-character"),  # NUL in the input stream
    ("exact I.\x1b[2K", "control-character"),  # terminal escape sequence
    ("- Admitted.", "vernacular"),  # a command hidden behind a bullet
    ("{ Admitted. }", "vernacular"),  # behind a brace
    ("1: Admitted.", "vernacular"),  # behind a goal selector
    ("all: Abort.", "vernacular"),  # behind the all selector
    ("@I.", "not-a-tactic"),  # a term where a tactic should be
    ("_.", "not-a-tactic"),  # not a tactic
    ("", "empty-proof"),  # nothing: the framework would close an unproved goal
    ("(* just a comment *)", "empty-proof"),  # only a comment
    ("idtac. " * (MAX_PROOF_CHARS // 7 + 1), "too-long"),  # unbounded input
]

VALID: list[str] = [
    "exact I.",
    "(* a comment *) exact I. (* another (* nested *) one *)",
    'exact I. (* a comment with a string "*)" inside it *)',  # the "*)" is inside a string: still a comment
    "(* (* nested *) Admitted. *) exact I.",  # a commented-out command is not a command
    "intros n.\ninduction n as [|k IH].\n- reflexivity.\n- simpl. rewrite IH. reflexivity.",
    "split.\n+ exact I.\n+ split.\n  * exact I.\n  * exact I.",
    "split.\n{ exact I. }\n{ exact I. }",
    "split; [exact I | exact I].",
    "intros a b.\nassert (H : a + b = b + a) by lia.\nexact H.",
    "intros [|n]; simpl; auto.",
    "destruct b; reflexivity.",
    "2: { exact I. } exact I.",
    "all: exact I.",
    "rewrite Nat.add_comm. reflexivity.",  # qualified names keep their periods
    'idtac "a string. with periods."; exact I.',
    "exact (conj I I).",
    "match goal with |- True => exact I end.",
    "let x := constr:(0) in exact I.",
    "[> exact I | exact I ].",
    "exists 3. reflexivity.",
    "intros; lia.\n",
    "\n\n  exact I.  \n\n",
]


@pytest.mark.parametrize("proof,rule", EXPLOITS, ids=[f"{i}-{r}" for i, (_, r) in enumerate(EXPLOITS)])
def test_exploit_is_refused_by_its_rule(proof, rule):
    result = check_coq_screen(proof)
    assert not result.admissible
    assert result.rule == rule, result
    assert result.reason.startswith("screen: ")


def test_the_suite_has_at_least_thirty_distinct_exploits():
    assert len({p for p, _ in EXPLOITS}) == len(EXPLOITS) >= 30
    assert len({r for _, r in EXPLOITS}) >= 10  # many different rules, not one rule thirty times


@pytest.mark.parametrize("proof", VALID)
def test_real_proof_styles_are_admitted(proof):
    result = check_coq_screen(proof)
    assert result.admissible, result
    assert result.rule is None


def test_refusal_names_the_command():
    assert check_coq_screen("exact I. Admitted.").reason == "screen: vernacular command 'Admitted'"
    assert check_coq_screen("intros. give_up.").reason == "screen: forbidden tactic 'give_up'"


def test_dispatch_through_check_screen():
    assert check_screen("coq", "Admitted.").rule == "vernacular"
    assert check_screen("coq", "exact I.").admissible
    with pytest.raises(ValueError, match="unknown backend"):
        check_screen("isabelle", "exact I.")


def test_mask_follows_coq_comment_and_string_rules():
    text = 'a (* b "*)" (* c *) d *) "e (* f" g'
    m = mask(text)
    assert len(m) == len(text)
    assert m.split() == ["a", '"______"', "g"]  # one comment, one string, kept the same length


def test_mask_string_escape_is_doubled_quote():
    assert mask('"a""b" c') == '"____" c'


@pytest.mark.parametrize("text,rule", [("(* *", "unterminated-comment"), ('"abc', "unterminated-string"),
                                       ("a *) b", "stray-comment-close"), ('(* "a *)', "unterminated-string")])
def test_mask_errors(text, rule):
    with pytest.raises(LexError) as err:
        mask(text)
    assert err.value.rule == rule


def test_sentences_split_bullets_braces_and_selectors():
    parts = sentences("intros.\n- split.\n  + exact I.\n  + { exact I. }\n2: { auto. }\nall: auto.")
    assert [(p.kind, p.text.strip()) for p in parts] == [
        ("tactic", "intros."), ("bullet", "-"), ("tactic", "split."), ("bullet", "+"), ("tactic", "exact I."),
        ("bullet", "+"), ("brace", "{"), ("tactic", "exact I."), ("brace", "}"), ("brace", "2: {"),
        ("tactic", "auto."), ("brace", "}"), ("tactic", "all: auto.")]


def test_qualified_names_do_not_end_sentences():
    parts = sentences("rewrite Nat.add_comm. exact I.")
    assert [p.text.strip() for p in parts] == ["rewrite Nat.add_comm.", "exact I."]


@pytest.mark.parametrize("statement,ok", [
    ("forall n : nat, n + 0 = n", True),
    ("True", True),
    ("(* a comment. *) True", True),
    ("True. Axiom cheat : False", False),  # a second sentence smuggled into the statement
    ("True.", False),
    ("(* open comment", False),
    ('"open string', False),
    ("", False),
])
def test_statement_check(statement, ok):
    assert (check_coq_statement(statement) is None) == ok


@pytest.mark.parametrize("name,ok", [("ratchet_goal", True), ("t_lin_0123abcd", True), ("x'", True),
                                     ("1abc", False), ("a b", False), ("a.b", False), ("ratchet__marker", False)])
def test_name_check(name, ok):
    assert (check_coq_name(name) is None) == ok
