"""Completion -> proof body (prover.extraction), on completions shaped like real prover models' output.

Each case of the issue's acceptance 2, in Lean and in Coq: a closing fence, a restated identical
header (accepted), a restated different statement (refused with the reason), a reasoning block
before the proof, no fence at all, trailing prose. Plus: every format's training target extracts
back to the body it was rendered from (what is trained is what is sampled).
"""
from __future__ import annotations

import pytest

from prover.extraction import extract_body
from prover.prompting import PromptFormat, Prompter, PromptInput

LEAN = PromptInput(
    backend="lean", name="amc12a_2015_p10", statement="",
    header="import Mathlib\nimport Aesop\n\nset_option maxHeartbeats 400000\n\nopen BigOperators Real Nat\n\n",
    informal_prefix="/-- Integers $x$ and $y$ with $x>y>0$ satisfy $x+y+xy=80$. What is $x$? Show that it is 26.-/\n",
    formal_statement="theorem amc12a_2015_p10 (x y : ℤ) (h₀ : 0 < y) (h₁ : y < x) (h₂ : x + y + x * y = 80) : "
                     "x = 26 := by\n")
COQ = PromptInput(backend="coq", name="t_lin_0123456789", statement="forall n : nat, n + 3 <= n + 5",
                  header="Require Import Arith Lia.\n", formal_statement="Theorem t_lin_0123456789 : "
                  "forall n : nat, n + 3 <= n + 5.\n")
LEAN_BODY = "have h₃ : (x + 1) * (y + 1) = 81 := by ring_nf; linarith\nnlinarith [h₃, sq_nonneg (x - y)]"
COQ_BODY = "intros n.\nlia."


# -- continue mode (deepseek-prover): the completion continues an open ```lean4 block -----------------

def test_lean_closing_fence_ends_the_body():
    completion = ("  have h₃ : (x + 1) * (y + 1) = 81 := by ring_nf; linarith\n"
                  "  nlinarith [h₃, sq_nonneg (x - y)]\n```")
    out = extract_body(completion, LEAN, mode="continue")
    assert out.body == LEAN_BODY and out.refused is None and out.reasoning is None


def test_lean_trailing_prose_after_the_fence_is_dropped():
    completion = ("  have h₃ : (x + 1) * (y + 1) = 81 := by ring_nf; linarith\n"
                  "  nlinarith [h₃, sq_nonneg (x - y)]\n```\n\nThe key step factors the equation as "
                  "(x+1)(y+1) = 81, so x = 26. ```lean4\nexample : False := sorry\n```")
    assert extract_body(completion, LEAN, mode="continue").body == LEAN_BODY


def test_lean_no_fence_takes_the_whole_completion():
    # The model hit EOS (or max_new_tokens) without closing the block.
    completion = "  have h₃ : (x + 1) * (y + 1) = 81 := by ring_nf; linarith\n  nlinarith [h₃, sq_nonneg (x - y)]\n"
    assert extract_body(completion, LEAN, mode="continue").body == LEAN_BODY
    # In answer mode a bare tactic answer with no fence is read the same way.
    assert extract_body(completion.strip() + "\n", LEAN, mode="answer").body.startswith("have h₃")


def test_stop_string_cuts_the_completion():
    completion = "  nlinarith [sq_nonneg (x - y)]\n<|EOT|>garbage after the stop"
    out = extract_body(completion, LEAN, mode="continue", stop=("<|EOT|>",))
    assert out.body == "nlinarith [sq_nonneg (x - y)]"


# -- answer mode (chat): Kimina / Goedel-style answers --------------------------------------------------

KIMINA_OK = """<think>
We have x + y + xy = 80, so (x+1)(y+1) = 81 = 3^4. With 0 < y < x the only split is 3 * 27,
so y = 2 and x = 26. In Lean, nlinarith should close it once the factorisation is known.
</think>
Here is the proof:

```lean4
import Mathlib
import Aesop

set_option maxHeartbeats 400000

open BigOperators Real Nat

/-- Integers $x$ and $y$ with $x>y>0$ satisfy $x+y+xy=80$. What is $x$? Show that it is 26.-/
theorem amc12a_2015_p10 (x y : ℤ) (h₀ : 0 < y) (h₁ : y < x)
    (h₂ : x + y + x * y = 80) : x = 26 := by
  have h₃ : (x + 1) * (y + 1) = 81 := by ring_nf; linarith
  nlinarith [h₃, sq_nonneg (x - y)]
```

This completes the proof: the factorisation pins down x."""


def test_lean_reasoning_block_and_restated_identical_header_are_accepted():
    out = extract_body(KIMINA_OK, LEAN, mode="answer")
    assert out.refused is None
    assert out.body == LEAN_BODY
    assert out.reasoning.startswith("We have x + y + xy = 80") and out.reasoning.endswith("the factorisation is known.")


def test_lean_lemma_keyword_and_spacing_differences_are_the_same_statement():
    completion = KIMINA_OK.replace("theorem amc12a_2015_p10 (x y : ℤ)", "lemma amc12a_2015_p10 (x y: ℤ)")
    assert extract_body(completion, LEAN, mode="answer").body == LEAN_BODY


def test_lean_restated_different_statement_is_refused_with_the_reason():
    completion = KIMINA_OK.replace(": x = 26 := by", ": x = 25 ∨ x = 26 := by")
    out = extract_body(completion, LEAN, mode="answer")
    assert out.body is None
    assert "restated theorem amc12a_2015_p10 has a different statement" in out.refused
    assert "x = 26" in out.refused and "x = 25" in out.refused
    # A dropped hypothesis is a different statement too.
    dropped = extract_body(KIMINA_OK.replace("(h₀ : 0 < y) ", ""), LEAN, mode="answer")
    assert dropped.body is None and "h₀" in dropped.refused


def test_lean_other_declarations_are_refused():
    helper = KIMINA_OK.replace("/-- Integers", "lemma helper (a : ℤ) : a = a := rfl\n\n/-- Integers")
    out = extract_body(helper, LEAN, mode="answer")
    assert out.body is None and "lemma helper" in out.refused
    renamed = extract_body(KIMINA_OK.replace("theorem amc12a_2015_p10", "theorem my_answer"), LEAN, mode="answer")
    assert renamed.body is None and "not the theorem amc12a_2015_p10" in renamed.refused


def test_lean_term_mode_answer_is_refused():
    completion = "```lean4\ntheorem amc12a_2015_p10 (x y : ℤ) (h₀ : 0 < y) (h₁ : y < x) " \
                 "(h₂ : x + y + x * y = 80) : x = 26 :=\n  by_contra fun h => h\n```"
    out = extract_body(completion, LEAN, mode="answer")
    assert out.body is None and "term" in out.refused


def test_unclosed_reasoning_is_refused():
    out = extract_body("<think>\nLet me try induction on y. Then the base case", LEAN, mode="answer")
    assert out.body is None and "never closed" in out.refused and out.reasoning.startswith("Let me try")


def test_reasoning_end_without_start_marker():
    # DeepSeek-R1-style templates put <think> in the prompt; the completion only closes it.
    completion = "Factor it.\n</think>\n\n```lean4\n  nlinarith [sq_nonneg (x - y)]\n```"
    out = extract_body(completion, LEAN, mode="answer")
    assert out.reasoning == "Factor it." and out.body == "nlinarith [sq_nonneg (x - y)]"


def test_configured_reasoning_marker():
    completion = "Plan: factor and bound.\n### Final proof\n```lean4\n  omega\n```"
    out = extract_body(completion, LEAN, mode="answer", reasoning=("", "### Final proof"))
    assert out.reasoning == "Plan: factor and bound." and out.body == "omega"


def test_last_block_in_the_backend_language_is_the_answer():
    completion = ("First a sketch:\n```\n(x+1)(y+1) = 81\n```\nNow the proof:\n```lean4\n  omega\n```\n"
                  "and the Python check:\n```python\nprint(26)\n```")
    assert extract_body(completion, LEAN, mode="answer").body == "omega"


# -- Coq ----------------------------------------------------------------------------------------------------

def test_coq_closing_fence_and_proof_qed_are_dropped():
    completion = "Proof.\n  intros n.\n  lia.\nQed.\n```\nThat is all."
    out = extract_body(completion, COQ, mode="continue")
    assert out.body == COQ_BODY and out.refused is None


def test_coq_no_fence():
    assert extract_body("intros n.\nlia.\n", COQ, mode="continue").body == COQ_BODY
    assert extract_body("intros n. lia.", COQ, mode="answer").body == "intros n. lia."


def test_coq_restated_identical_theorem_with_reasoning_and_prose():
    completion = ("<think>n + 3 <= n + 5 is linear arithmetic; lia does it.</think>\n"
                  "```coq\nRequire Import Arith Lia.\n\nTheorem t_lin_0123456789 : forall n : nat,\n"
                  "  n + 3 <= n + 5.\nProof.\n  intros n.\n  lia.\nQed.\n```\nlia decides Presburger arithmetic.")
    out = extract_body(completion, COQ, mode="answer")
    assert out.body == COQ_BODY
    assert out.reasoning == "n + 3 <= n + 5 is linear arithmetic; lia does it."


def test_coq_restated_different_statement_is_refused():
    completion = "```coq\nLemma t_lin_0123456789 : forall n : nat, n + 3 <= n + 6.\nProof. lia. Qed.\n```"
    out = extract_body(completion, COQ, mode="answer")
    assert out.body is None
    assert "different statement" in out.refused and "5" in out.refused and "6" in out.refused


def test_coq_admitted_is_left_for_the_policy():
    # Extraction does not judge: an Admitted body reaches the verifier, whose policy rejects it.
    completion = "```coq\nTheorem t_lin_0123456789 : forall n : nat, n + 3 <= n + 5.\nProof.\nAdmitted.\n```"
    assert extract_body(completion, COQ, mode="answer").body == "Admitted."


def test_empty_answer_is_refused():
    assert extract_body("```lean4\n```", LEAN, mode="answer").refused == "the completion holds no proof body"


def test_bare_mode_is_todays_rule():
    text = "  intros n. lia.  ```\n"
    assert extract_body(text, COQ, mode="bare").body == text.strip()


# -- round trip: the rendered target extracts back to its body --------------------------------------------

@pytest.mark.parametrize("inp,body", [(LEAN, LEAN_BODY), (COQ, COQ_BODY)])
@pytest.mark.parametrize("kind", ["deepseek-prover", "answer-template"])
def test_targets_extract_back_to_their_body(tmp_path, inp, body, kind):
    if kind == "deepseek-prover":
        fmt = PromptFormat("deepseek-prover")
    else:
        template = tmp_path / "prompt.jinja"
        template.write_text("Prove {{ name }}:\n```\n{{ formal_statement }}```\nAnswer in a code block.\n")
        fmt = PromptFormat("template", template_file=str(template))
    p = Prompter(fmt)
    prompt, target = p.example(inp, body)
    assert p.mode(prompt) == ("continue" if kind == "deepseek-prover" else "answer")
    assert p.extract(inp, target, prompt) == extract_body(target, inp, mode=p.mode(prompt))
    assert p.extract(inp, target, prompt).body == body
