"""The Coq admission screen: a proof body may contain tactic sentences only.

The framework writes ``Theorem <name> : <statement>.`` / ``Proof.`` / body /
``Qed.`` itself; the model supplies the body. Everything dangerous in Coq is a
vernacular command (``Admitted``, ``Axiom``, ``Unset Guard Checking``,
``Reset``, ``Drop``, ``Load``, ...), and every vernacular command starts with a
capitalised keyword or an attribute (``#[...]``), while tactic sentences start
with a lower-case tactic name, a goal selector, ``(`` or ``[``. So the rule is a
whitelist on the first word of each sentence, found with Coq's own lexical
rules (``prover.coq.lexer``), plus a short list of tactics that are unsound or
escape the kernel's check. The rule ids below are what ``ratchet check-screen``
reports and what the README's "Trusting the verifier" section explains.

Rules, in the order they are checked:

  too-long             body longer than MAX_PROOF_CHARS (bounds prover time and memory)
  control-character    NUL, escape or other control characters (only tab/newline/CR allowed),
                       and lone surrogates (not characters: the proof cannot be written as UTF-8)
  unterminated-comment a "(*" without its "*)": would swallow the framework's "Qed."
  unterminated-string  a '"' without its closing quote: same
  stray-comment-close  "*)" outside a comment: comment tricks that hide code from a reader
  non-ascii            non-ASCII characters in code (outside comments and strings): Unicode
                       blanks and look-alike letters could make Coq and the screen disagree
  ambiguous-period     a "." that neither ends a sentence nor joins a qualified name
  unterminated-sentence text after the last "." (it would merge with the framework's "Qed.")
  empty-proof          no sentence at all
  vernacular           a sentence starting with a capitalised word: a vernacular command
                       (Admitted, Qed, Abort, Axiom, Set/Unset, Reset, Print, Fail, Time...)
  attribute            a sentence starting with "#[" or "#": attributes such as #[local]
  not-a-tactic         any other sentence head that is not a tactic
  forbidden-tactic     admit, give_up, exact_no_check and friends, native_compute, anywhere
  unsupported          valid Coq that this verifier cannot judge the way coqc does, refused
                       with a reason that says so (see UNSUPPORTED below)
"""
from __future__ import annotations

import re

from prover.coq.lexer import LexError, mask, sentences
from prover.screen import ADMISSIBLE, ScreenResult, refuse

MAX_PROOF_CHARS = 20_000

# Tactics that close goals without a checked proof, skip the kernel's check at
# the tactic level, or leave the prover process (native_compute compiles and
# runs OCaml code; `external` ran programs in older Coq). Refused wherever they
# appear outside comments and strings, even as a part of a qualified name.
FORBIDDEN_TACTICS = frozenset({
    "admit",  # closes a goal with an axiom-like hole (Qed would refuse; Admitted would not)
    "give_up",  # same as admit
    "exact_no_check",  # skips type checking at the tactic level
    "vm_cast_no_check",
    "native_cast_no_check",
    "change_no_check",
    "native_compute",  # runs ocamlfind/ocamlopt on demand: outside the proof checker's sandbox
    "external",  # old Coq: ran an external program as a tactic
})

# Valid Coq that the verifier cannot judge as coqc would, because the pool runs every proof
# with ``Load`` (see ``prover.coq.worker``) and Coq 8.16 treats these differently there.
# Refused anywhere outside comments and strings, each with the reason it is given.
UNSUPPORTED = {
    # Inside Load, Coq 8.16 declares the lemma that abstract makes without its body: the kernel
    # never checks it, and Print Assumptions lists it as an axiom. Judging such a proof would mean
    # trusting an unchecked term, so it is refused, saying why, instead of "axioms".
    "abstract": "'abstract' is not supported: inside the verifier's Load, Coq 8.16 declares the "
                "abstracted lemma without its proof, so the kernel would never check it",
}  # transparent_abstract keeps its body there and is judged as coqc judges it
# The selector par: raises an anomaly (Option.IsNone) inside Load in Coq 8.16.
PAR_SELECTOR = ("the goal selector 'par:' is not supported: inside the verifier's Load, Coq 8.16 fails "
                "on it with an anomaly; 'all:' runs the same tactic on every goal")

# Named in refusals for readability; any capitalised head is refused whether listed here or not.
KNOWN_VERNACULAR = frozenset({
    "Admitted", "Abort", "Qed", "Defined", "Save", "Proof", "Axiom", "Axioms", "Parameter", "Parameters",
    "Hypothesis", "Variable", "Conjecture", "Set", "Unset", "Reset", "Back", "BackTo", "Quit", "Drop",
    "Load", "Redirect", "Cd", "Require", "Import", "Export", "From", "Notation", "Infix", "Hint", "Declare",
    "Extract", "Extraction", "Ltac", "Tactic", "Module", "Section", "End", "Local", "Global", "Print",
    "Fail", "Succeed", "Timeout", "Time", "Instructions", "Definition", "Theorem", "Lemma", "Fixpoint",
    "Inductive", "Instance", "Existing", "Opaque", "Transparent", "Unshelve", "Restart", "Undo", "Focus",
    "Unfocus", "Check", "Eval", "Compute", "Search", "Locate", "Show", "Goal", "Program", "Polymorphic",
})

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_']*")
_SELECTOR_PREFIX = re.compile(r"\s*(?:all|par|!|\d+(?:\s*-\s*\d+)?(?:\s*,\s*\d+(?:\s*-\s*\d+)?)*"
                              r"|\[\s*[A-Za-z_][A-Za-z0-9_']*\s*\])\s*:")


def _control_char(text: str) -> str | None:
    """The first control character (tab, newline and CR allowed) or lone surrogate in ``text``."""
    for ch in text:
        if (ord(ch) < 32 and ch not in "\t\n\r") or ord(ch) == 127 or 0xD800 <= ord(ch) <= 0xDFFF:
            return ch
    return None


def _shown(ch: str) -> str:
    return f"lone surrogate \\u{ord(ch):04x}" if 0xD800 <= ord(ch) <= 0xDFFF else f"control character {ch!r}"


def check_coq_screen(proof: str) -> ScreenResult:
    """Refuse a proof body unless it is a well-formed sequence of ordinary tactic sentences."""
    if len(proof) > MAX_PROOF_CHARS:
        return refuse("too-long", f"proof has {len(proof)} characters (limit {MAX_PROOF_CHARS})")
    bad = _control_char(proof)
    if bad is not None:
        return refuse("control-character", f"{_shown(bad)} in the proof")
    try:
        code = mask(proof)
        nonascii = next((ch for ch in code if ord(ch) > 127), None)
        if nonascii is not None:
            return refuse("non-ascii", f"non-ASCII character {nonascii!r} outside comments and strings")
        parts = sentences(proof)
    except LexError as err:
        return refuse(err.rule, err.detail)
    if not any(s.kind == "tactic" for s in parts):
        return refuse("empty-proof", "the proof has no tactic sentence")
    for s in parts:
        if s.kind != "tactic":
            continue
        result = _check_head(s.text)
        if not result.admissible:
            return result
    for word in _IDENT.findall(code):
        if word in FORBIDDEN_TACTICS:
            return refuse("forbidden-tactic", f"forbidden tactic '{word}'")
    for word in _IDENT.findall(code):
        if word in UNSUPPORTED:
            return refuse("unsupported", UNSUPPORTED[word])
    return ADMISSIBLE


def _check_head(sentence: str) -> ScreenResult:
    """A tactic sentence must start (after an optional goal selector) with a tactic."""
    body = sentence
    sel = _SELECTOR_PREFIX.match(body)
    if sel:
        if sel.group(0).strip().startswith("par"):
            return refuse("unsupported", PAR_SELECTOR)
        body = body[sel.end():]
    body = body.lstrip()
    if body.startswith("#"):
        return refuse("attribute", f"attribute or command {_first_word(body)!r}")
    if body[:1] in ("(", "["):
        return ADMISSIBLE  # a parenthesised tactic expression or a goal dispatch "[> ...]"
    m = _IDENT.match(body)
    if not m:
        return refuse("not-a-tactic", f"sentence does not start with a tactic: {_first_word(body)!r}")
    head = m.group(0)
    if head[0].isupper():
        what = "vernacular command" if head in KNOWN_VERNACULAR else "capitalised command"
        return refuse("vernacular", f"{what} '{head}'")
    if head[0] == "_":
        return refuse("not-a-tactic", f"sentence does not start with a tactic: {head!r}")
    return ADMISSIBLE


def _first_word(text: str) -> str:
    text = text.strip()
    return text.split()[0] if text else ""


def check_coq_statement(statement: str) -> str | None:
    """Why a statement cannot be put after ``Theorem name :`` as one sentence, or None if it can.

    Statements come from the framework, not the model, but ``ratchet verify``
    reads them from a file: one holding a sentence end (``True. Axiom x : False``)
    or an open comment or string would change what the composed file means.
    """
    bad = _control_char(statement)
    if bad is not None:
        return f"{_shown(bad)} in the statement"
    try:
        code = mask(statement)
    except LexError as err:
        return err.detail
    if not code.strip():
        return "the statement is empty"
    for k, ch in enumerate(code):
        if ch == "." and (k + 1 == len(statement) or statement[k + 1] in " \t\r\n"):
            return f"the statement contains a sentence end ('.' at offset {k})"
    # The statement is written both inside parentheses and after "Theorem name :", so it must be
    # one term on its own: "True) -> (True" would be one in the first place and not in the second.
    opened: list[tuple[str, int]] = []
    for k, ch in enumerate(code):
        if ch in "([{":
            opened.append((ch, k))
        elif ch in ")]}":
            if not opened or opened[-1][0] != "([{"[")]}".index(ch)]:
                return f"the statement has an unbalanced {ch!r} at offset {k}"
            opened.pop()
    if opened:
        return f"the statement has an unclosed {opened[-1][0]!r} at offset {opened[-1][1]}"
    return None


COQ_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_']*")
RESERVED_PREFIX = "ratchet__"  # the verifier's own markers and sentinels


# Words Coq reserves (its keywords that look like identifiers): never a theorem's name. A name
# the header already defines (e.g. "double") is found by the prover, when it refuses the theorem.
COQ_KEYWORDS = frozenset({  # each refused by coqc 8.16 as "Theorem <word> : True."
    "_", "as", "at", "cofix", "else", "end", "exists", "exists2", "fix", "for", "forall", "fun", "if", "in",
    "let", "match", "return", "then", "where", "with", "by", "using", "Type", "Set", "Prop", "SProp",
    "Theorem", "Definition", "Fixpoint", "CoFixpoint", "Axiom", "Parameter", "Variable", "Hypothesis",
})


def check_coq_name(name: str) -> str | None:
    """Why ``name`` cannot be the theorem's name, or None if it can."""
    if not COQ_IDENT.fullmatch(name):
        return f"theorem name {name!r} is not a plain Coq identifier"
    if name in COQ_KEYWORDS:
        return f"theorem name {name!r} is a word Coq reserves"
    if name.startswith(RESERVED_PREFIX):
        return f"theorem name {name!r} uses the reserved prefix {RESERVED_PREFIX!r}"
    return None
