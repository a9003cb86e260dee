"""Prompt formats (prover.prompting): the exact text each format shows and trains on."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from chat_fixtures import chat_tokenizer
from prover.prompting import PromptFormat, Prompter, PromptInput, checked_text, family_input

MINIF2F = Path(__file__).resolve().parents[1].parent / "shared" / "benchmarks" / "minif2f-lean4.jsonl"


def minif2f_row(name: str) -> dict:
    if not MINIF2F.is_file():
        pytest.skip(f"{MINIF2F} not present")
    for line in MINIF2F.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row["name"] == name:
            return row
    raise AssertionError(f"{name} not in {MINIF2F}")


def minif2f_input(row: dict) -> PromptInput:
    return PromptInput(backend="lean", name=row["name"], statement="", header=row["header"],
                       informal_prefix=row.get("informal_prefix") or "", formal_statement=row["formal_statement"])


def test_deepseek_prover_prompt_on_minif2f_byte_for_byte():
    row = minif2f_row("mathd_algebra_182")
    # The DeepSeek-Prover-V1.5 non-CoT prompt, written out from its definition.
    expected = ("Complete the following Lean 4 code:\n\n```lean4\n"
                "import Mathlib\nimport Aesop\n\nset_option maxHeartbeats 0\n\nopen BigOperators Real Nat Topology Rat\n\n"
                "/-- Expand the following expression: $7(3y+2)$ Show that it is 21y+14.-/\n"
                "theorem mathd_algebra_182 (y : ℂ) : 7 * (3 * y + 2) = 21 * y + 14 := by\n")
    assert Prompter(PromptFormat("deepseek-prover")).prompt(minif2f_input(row)) == expected


def test_deepseek_prover_prompt_without_informal_prefix():
    row = dict(minif2f_row("mathd_algebra_182"), informal_prefix=None)
    prompt = Prompter(PromptFormat("deepseek-prover")).prompt(minif2f_input(row))
    assert prompt == ("Complete the following Lean 4 code:\n\n```lean4\n" + row["header"]
                      + "theorem mathd_algebra_182 (y : ℂ) : 7 * (3 * y + 2) = 21 * y + 14 := by\n")


def _family_theorem():
    from prover.theorems import generate_theorems
    return generate_theorems(["lin"], 1, 0)[0]


def test_ratchet_format_is_todays_prompt_and_example():
    from prover.model import encode_example, encode_prompt, format_prompt, train_tokenizer

    th = _family_theorem()
    tok = train_tokenizer([th.coq, th.proofs_coq[0]], 300)
    p = Prompter(PromptFormat(), tok)
    inp = family_input(th, "coq")
    assert p.prompt(inp) == format_prompt(th.coq)
    assert p.encode_prompt(p.prompt(inp)) == encode_prompt(tok, format_prompt(th.coq))
    assert p.encode_example(inp, th.proofs_coq[0]) == encode_example(tok, th.coq, th.proofs_coq[0])
    assert p.extract(inp, "  intros. lia.  ").body == "intros. lia."


def test_family_input_composes_the_declaration_and_header():
    from prover.theorems.headers import COQ_HEADER, LEAN_HEADER

    th = _family_theorem()
    lean, coq = family_input(th, "lean"), family_input(th, "coq")
    assert lean.formal_statement == f"theorem {th.name} : {th.lean} := by\n" and lean.header == LEAN_HEADER
    assert coq.formal_statement == f"Theorem {th.name} : {th.coq}.\n" and coq.header == COQ_HEADER
    assert checked_text(coq, "lia.").endswith(f"Theorem {th.name} : {th.coq}.\nProof.\nlia.\nQed.\n")
    assert checked_text(lean, "omega").endswith(f"theorem {th.name} : {th.lean} := by\n  omega\n")
    assert checked_text(lean, "omega").startswith(LEAN_HEADER.rstrip("\n"))


def test_deepseek_prover_target_continues_the_open_block():
    row = minif2f_row("mathd_algebra_182")
    p = Prompter(PromptFormat("deepseek-prover"))
    prompt, target = p.example(minif2f_input(row), "ring_nf\nsimp")
    assert target == "  ring_nf\n  simp\n```"
    assert (prompt + target).endswith(":= by\n  ring_nf\n  simp\n```")


def test_chat_format_uses_the_tokenizer_template_and_trains_on_the_answer_only():
    tok = chat_tokenizer()
    th = _family_theorem()
    inp = family_input(th, "lean")
    p = Prompter(PromptFormat("chat", instruction="Prove this in {language}; answer in ```{fence}."), tok)
    prompt = p.prompt(inp)
    user = ("Prove this in Lean 4; answer in ```lean4.\n\n```lean4\n" + inp.header
            + f"theorem {th.name} : {th.lean} := by\n```")
    assert prompt == f"<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n"
    _, target = p.example(inp, "omega")
    assert target == f"```lean4\ntheorem {th.name} : {th.lean} := by\n  omega\n```<|im_end|>"
    assert p.extract(inp, target.removesuffix("<|im_end|>")).body == "omega"
    ids, n_prompt = p.encode_example(inp, "omega")
    assert ids[-1] == tok.eos_token_id and ids.count(tok.eos_token_id) == 2  # the user turn's end, the answer's
    assert tok.decode(ids[n_prompt:]) == target
    assert ids[:n_prompt] == tok(prompt, add_special_tokens=False)["input_ids"]  # the template's tokens, no BOS


def test_chat_needs_a_chat_template():
    from prover.model import train_tokenizer

    with pytest.raises(ValueError, match="no chat template"):
        Prompter(PromptFormat("chat"), train_tokenizer(["a b c"], 300))


def test_template_format_renders_the_users_jinja(tmp_path):
    path = tmp_path / "p.jinja"
    path.write_text("{{ backend }}|{{ name }}|{{ informal_prefix }}|{{ formal_statement }}")
    th = _family_theorem()
    inp = family_input(th, "coq")
    assert Prompter(PromptFormat("template", template_file=str(path))).prompt(inp) == \
        f"coq|{th.name}||Theorem {th.name} : {th.coq}.\n"
    path.write_text("{{ no_such_field }}")
    with pytest.raises(ValueError, match="p.jinja"):
        Prompter(PromptFormat("template", template_file=str(path))).prompt(inp)


def test_bad_format_names_the_key():
    with pytest.raises(ValueError, match="model.prompt"):
        PromptFormat("alpaca")
    with pytest.raises(ValueError, match="template_file"):
        PromptFormat("template")
