"""The Lean static screen: every exploit refused with its rule, real proof bodies admitted."""
from __future__ import annotations

import pytest

from lean_testkit import KIMINA, needs_transcripts
from prover.lean.screen import MAX_PROOF_CHARS, RULES, check_lean_screen, find_violation

# (attack, body, the rule that defeats it). Each is a different way to get a false
# theorem admitted, run code, or make the filter and Lean read the body differently.
EXPLOITS = [
    # sorry: the plain escape hatch.
    ("sorry", "sorry", "sorry"),
    # sorry: hidden after a tactic combinator on a later line.
    ("sorry-after-combinator", "constructor\n<;> first | rfl | sorry", "sorry"),
    # sorry: `stop` discards the rest of the proof by expanding to `repeat sorry`.
    ("stop", "constructor\nstop\nrfl", "sorry"),
    # admit: the tactic synonym of sorry.
    ("admit", "intro h\nadmit", "admit"),
    # forbidden-constant: the axiom behind sorry, applied directly.
    ("sorryAx-term", "exact sorryAx _ false", "forbidden-constant"),
    # forbidden-constant: the same constant fully qualified and in «» quotes.
    ("sorryAx-guillemets", "exact «sorryAx» _ false", "forbidden-constant"),
    # native-decide: trusts compiled code (axiom Lean.ofReduceBool).
    ("native_decide", "native_decide", "native-decide"),
    # native-decide: the newer spelling as a decide option.
    ("decide-plus-native", "decide +native", "native-decide"),
    # forbidden-constant: the axiom behind native_decide, used by hand.
    ("ofReduceBool", "exact Lean.ofReduceBool _ _ rfl", "forbidden-constant"),
    # decide-config: `decide := true` configuration trick.
    ("decide-config", "simp (config := { decide := true })", "decide-config"),
    # set-option: turn the kernel's type checking off for the declaration.
    ("skip-kernel", "set_option debug.skipKernelTC true in\nexact absurd", "set-option"),
    # set-option: unlimited heartbeats, a denial of service.
    ("heartbeats", "set_option maxHeartbeats 0 in\nomega", "set-option"),
    # hash-command: end the input early so nothing after the body is checked.
    ("exit", "rfl\n#exit", "hash-command"),
    # hash-command: run arbitrary IO at elaboration time, printing protocol-looking text.
    ("eval", "trivial\n#eval IO.println \"{}\"", "hash-command"),
    # hash-command: #reduce, another command hidden after the proof.
    ("reduce", "trivial\n#reduce (1 + 1 : Nat)", "hash-command"),
    # hash-command: print a forged axioms report.
    ("print-axioms", "trivial\n#print axioms Nat.add", "hash-command"),
    # metaprogramming: run a command elaborator inside the proof.
    ("run_cmd", "run_cmd Lean.logInfo m!\"ok\"", "metaprogramming"),
    # metaprogramming: run an arbitrary tactic program (closes any goal with an axiom it adds).
    ("run_tac", "run_tac Lean.Elab.Tactic.closeMainGoal", "metaprogramming"),
    # metaprogramming: a term elaborated by a metaprogram.
    ("by_elab", "exact by_elab return Lean.mkConst ``True.intro", "metaprogramming"),
    # quotation: a name literal building a proof term by hand.
    ("name-literal", "exact (Lean.mkConst `sorryAx)", "quotation"),
    # metaprogramming: a new elaborator after the tactic block.
    ("elab", "trivial\nelab \"cheat\" : tactic => pure ()", "metaprogramming"),
    # metaprogramming: a macro that expands a harmless word into sorry.
    ("macro_rules", "trivial\nmacro_rules | `(tactic| done) => `(tactic| sorry)", "metaprogramming"),
    # metaprogramming: new syntax.
    ("syntax", "trivial\nsyntax (name := cheat) ident : tactic", "metaprogramming"),
    # notation: make `True` mean something else for later commands.
    ("notation", "trivial\nnotation:max x \"≡\" y => x = x", "notation"),
    # notation: infix redefinition.
    ("infix", "trivial\ninfixl:65 \" +' \" => HAdd.hAdd", "notation"),
    # private: reach hidden implementation details.
    ("open-private", "open private foo in exact foo", "private"),
    # unsafe: unchecked code in a term.
    ("unsafe-term", "exact unsafe (unsafeCast ())", "unsafe"),
    # unsafe: unsafe* constants without the keyword.
    ("unsafeCast", "exact unsafeCast (0 : Nat)", "unsafe"),
    # implemented-by: swap a definition's code.
    ("implemented_by", "trivial\n@[implemented_by foo] def bar : Nat := 0", "attribute"),
    # implemented-by: the attribute name on its own.
    ("implemented_by-word", "exact implemented_by", "implemented-by"),
    # extern: replace a definition by foreign code.
    ("extern", "trivial\nattribute [extern \"f\"] Nat.add", "attribute"),
    # axiom: assume False after the tactic block.
    ("axiom", "trivial\naxiom cheat : False", "axiom"),
    # instance: a global instance deciding any proposition.
    ("instance", "trivial\ninstance : Decidable False := isTrue sorry", "instance"),
    # import: load other code mid-file.
    ("import", "trivial\nimport Mathlib", "import"),
    # search-tactic: exact? leaves a suggestion (or sorry on failure), not a proof.
    ("exact?", "exact?", "search-tactic"),
    # search-tactic: apply?.
    ("apply?", "apply?", "search-tactic"),
    # external-tool: polyrith calls a web service.
    ("polyrith", "polyrith", "external-tool"),
    # attribute: change the simp set.
    ("attribute-cmd", "trivial\nattribute [simp] Nat.add_comm", "attribute"),
    # local-scoped: scoped instances and notations.
    ("local", "trivial\nlocal instance : Inhabited Nat := ⟨0⟩", "local-scoped"),
    # mutual: a second declaration beside the theorem.
    ("mutual", "trivial\nmutual\ntheorem a : True := trivial\nend", "mutual"),
    # declaration: a new theorem after the tactic block.
    ("theorem", "trivial\ntheorem other : False := by simp", "declaration"),
    # declaration: a def.
    ("def", "trivial\ndef x : Nat := 1", "declaration"),
    # declaration: example.
    ("example", "trivial\nexample : True := trivial", "declaration"),
    # scope-command: close a namespace the header opened.
    ("end", "trivial\nend Ratchet", "scope-command"),
    # scope-command: open a section.
    ("section", "trivial\nsection", "scope-command"),
    # command: universe and variable declarations.
    ("variable", "trivial\nvariable (x : Nat)", "command"),
    # declaration-suffix: attach an auxiliary declaration to the theorem.
    ("where", "exact aux\nwhere aux : True := trivial", "declaration-suffix"),
    # declaration-suffix: a termination proof outside the tactic block.
    ("decreasing_by", "exact rfl\ndecreasing_by all_goals sorry", "declaration-suffix"),
    # debug-output: write protocol-looking text to the REPL's stdout.
    ("dbg_trace", "dbg_trace \"{}\"; trivial", "debug-output"),
    # debug-output: dbgTrace in a term.
    ("dbgTrace", "exact dbgTrace x fun _ => trivial", "debug-output"),
    # string-literal: a `--` inside a string hides the rest of the line from a naive filter.
    ("string-hides-comment", "have := \"--\"; sorry", "string-literal"),
    # char-literal: a quote character opens a "string" for a naive filter.
    ("char-quote", "have := '\"'; sorry -- \"", "char-literal"),
    # quotation: backtick syntax quotation.
    ("quotation", "exact `(1)", "quotation"),
    # sorry: a line comment containing `/-` does not open a block comment for Lean.
    ("line-comment-block-start", "-- /-\nsorry\n-- -/", "sorry"),
    # sorry: a block comment ends at its first matching `-/`, not at a later one.
    ("block-comment-ends-early", "/- a -/ sorry /- b -/", "sorry"),
    # sorry: nested block comments close level by level.
    ("nested-comment", "/- /- -/ -/ sorry", "sorry"),
    # unterminated-comment: an open comment swallows whatever follows.
    ("unterminated-comment", "trivial /- /- -/", "unterminated-comment"),
    # unterminated-identifier: an open «» swallows whatever follows.
    ("unterminated-identifier", "exact «x", "unterminated-identifier"),
    # sorry: `--` inside an expression still starts a comment, the next line is code.
    ("comment-mid-line", "exact h--\nsorry", "sorry"),
    # sorry: a number glued to the keyword.
    ("glued-number", "exact 2sorry", "sorry"),
    # lookalike: Cyrillic "ѕ" spelling of sorry.
    ("cyrillic-sorry", "ѕorry", "lookalike"),
    # lookalike: Greek omicron inside native_decide.
    ("greek-native", "native_dec\u03b9de", "lookalike"),
    # lookalike: full-width letters.
    ("fullwidth-admit", "ａｄｍｉｔ", "lookalike"),
    # invisible-character: a zero-width space splits a keyword for the reader.
    ("zero-width", "sor\u200bry", "invisible-character"),
    # invisible-character: a bidi override makes text display in another order.
    ("bidi", "trivial -- \u202e yrros", "invisible-character"),
    # control-character: a tab (Lean rejects tabs; indentation would be read differently).
    ("tab", "intro h\n\texact h", "control-character"),
    # control-character: a carriage return (a line break for some readers only).
    ("carriage-return", "trivial\rsorry", "control-character"),
    # control-character: NUL.
    ("nul", "trivial\x00", "control-character"),
    # too-long: resource exhaustion.
    ("too-long", "skip\n" * (MAX_PROOF_CHARS // 5 + 1), "too-long"),
    # empty: nothing to check.
    ("empty", "  \n  ", "empty"),
]


def test_there_are_at_least_thirty_distinct_exploits():
    names = [name for name, _, _ in EXPLOITS]
    bodies = [body for _, body, _ in EXPLOITS]
    assert len(set(names)) == len(names) and len(set(bodies)) == len(bodies)
    assert len(EXPLOITS) >= 30
    assert len({rule for _, _, rule in EXPLOITS}) >= 30  # and they exercise many different rules


@pytest.mark.parametrize("name, body, rule", EXPLOITS, ids=[e[0] for e in EXPLOITS])
def test_exploit_is_refused_by_its_rule(name, body, rule):
    result = check_lean_screen(body)
    assert not result.admissible
    assert result.rule == rule, result.detail
    assert rule in RULES  # every rule is documented (README "Trusting the verifier — Lean")
    assert result.reason.startswith("screen: ") and rule in result.reason


VALID = {
    "comments": "-- first the hypotheses\nintro h /- nested /- comment -/ with sorry inside -/\nexact h",
    "doc-style-comment": "/-! a module-doc style comment mentioning #exit and native_decide -/\ntrivial",
    "bullets": "constructor\n· exact Nat.le_refl 0\n· intro h\n  exact h",
    "ascii-bullets": "constructor\n. rfl\n. rfl",
    "braces": "constructor\n{ rfl }\n{ intro x; exact x }",
    "nested-by": "have h : 2 + 2 = 4 := by\n  have k : 2 = 1 + 1 := by rfl\n  omega\nexact h",
    "calc": "calc a + b = b + a := by rw [Nat.add_comm]\n  _ = b + a + 0 := by simp",
    "have-show": "have h₁ : x = x := rfl\nshow x = x\nexact h₁",
    "cases": "cases h with\n| inl hp => exact Or.inr hp\n| inr hq => exact Or.inl hq",
    "rcases": "rcases h with ⟨x, hx⟩\nexact ⟨x, hx⟩",
    "induction": "induction n with\n| zero => rfl\n| succ k ih =>\n  simp [sum_to]\n  omega",
    "induction-case": "induction n\ncase zero => simp\ncase succ n ih => simp [ih]; ring_nf",
    "omega": "omega",
    "simp": "simp only [Nat.add_zero, Nat.mul_comm] at h ⊢\nsimp_all",
    "decide": "decide",
    "by_contra": "by_contra h\npush_neg at h\nexact absurd h (by omega)",
    "combinators": "constructor <;> (try simp) <;> omega",
    "fun-and-anonymous-constructor": "exact fun x => ⟨x, rfl⟩",
    "lambda-and-arrows": "exact λ h => h.elim",
    "exists": "refine ⟨3, ?_⟩\nnorm_num",
    "primes-in-names": "intro x' h'\nexact h'.symm",
    "greek-names": "intro ε hε\nexact hε",
    "dotted-names": "exact Nat.succ_le_of_lt (Nat.lt_succ_self _)",
    "open-in": "open Nat in exact succ_pos 0",
    "conv": "conv => lhs; rw [Nat.add_comm]",
    "match": "match n with\n| 0 => rfl\n| k + 1 => simp",
    "simp-config-other": "simp (config := { zeta := false })",
    "mention-in-comment": "-- do not use sorry or native_decide here\nrfl",
    "string-in-comment": "/- \"quoted\" and 'c' and `tick` -/\ntrivial",
    "names-containing-keywords": "exact h_end.trans hsorry_free",
    "unicode-math": "intro a b h\nexact le_trans h (le_refl (a ⊔ b))",
    "array-literal": "exact #[1, 2].size_pos",
    "indented-block": "  intro n\n  induction n with\n  | zero => rfl\n  | succ k ih => omega\n",
}


@pytest.mark.parametrize("name", sorted(VALID))
def test_valid_body_is_admitted(name):
    result = check_lean_screen(VALID[name])
    assert result.admissible, result.detail
    assert result.rule is None


@needs_transcripts
def test_real_proof_bodies_from_goedel_prover_are_admitted():
    # The Kimina fixtures hold Goedel-Prover proofs (long LaTeX comments, nlinarith hints, <;>).
    # Their file headers (set_option, open, import) are refused when offered as a body.
    inputs = sorted((KIMINA / "input").glob("*.lean"))
    assert len(inputs) == 22
    for path in inputs:
        text = path.read_text(encoding="utf-8")
        head, body = text.split(":= by\n", 1)
        assert find_violation(body) is None, path.name
        header = head.rsplit("theorem", 1)[0]
        assert not check_lean_screen(header).admissible, path.name


def test_violation_says_where():
    violation = find_violation("intro h\n  exact h\n  sorry")
    assert (violation.rule, violation.line, violation.column) == ("sorry", 3, 2)
    assert "line 3" in check_lean_screen("intro h\n  exact h\n  sorry").detail
