"""`ratchet prompt`: the prompt a model sees and what a completion becomes, through the CLI."""
from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from chat_fixtures import qwen2_chat_checkpoint
from loop import commands_prompt
from loop.cli import app
from test_prompting import minif2f_input, minif2f_row

runner = CliRunner()


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return qwen2_chat_checkpoint(tmp_path_factory.mktemp("qwen2") / "model")


def _config(tmp_path, checkpoint, prompt: str) -> str:
    path = tmp_path / "c.yaml"
    path.write_text(f"backend: coq\ntheorems: {{families: [lin], per_family: 4}}\n"
                    f"model: {{name_or_path: {checkpoint}, prompt: {prompt}}}\n")
    return str(path)


def _first_id() -> str:
    from prover.theorems import generate_theorems
    return generate_theorems(["lin"], 4, 0)[0].id


def test_deepseek_prover_prompt_of_a_minif2f_theorem(tmp_path, checkpoint, monkeypatch):
    row = minif2f_row("amc12a_2015_p10")
    monkeypatch.setattr(commands_prompt, "resolve_theorem", lambda cfg, tid, backend: minif2f_input(row))
    expected = ("Complete the following Lean 4 code:\n\n```lean4\n"
                "import Mathlib\nimport Aesop\n\nset_option maxHeartbeats 0\n\nopen BigOperators Real Nat Topology Rat\n\n"
                "/-- Integers $x$ and $y$ with $x>y>0$ satisfy $x+y+xy=80$. What is $x$?\n\n"
                "$ \\textbf{(A)}\\ 8 \\qquad\\textbf{(B)}\\ 10 \\qquad\\textbf{(C)}\\ 15 \\qquad\\textbf{(D)}\\ 18 "
                "\\qquad\\textbf{(E)}\\ 26$ Show that it is \\textbf{(E)}\\ 26.-/\n"
                "theorem amc12a_2015_p10 (x y : ℤ) (h₀ : 0 < y) (h₁ : y < x) (h₂ : x + y + x * y = 80) : x = 26 := by\n")
    res = runner.invoke(app, ["prompt", _config(tmp_path, checkpoint, "deepseek-prover"), "amc12a_2015_p10", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["prompt"] == expected
    assert set(out) == {"prompt", "prompt_tokens"}
    assert out["prompt_tokens"] > len(expected) // 8  # a real token count from the checkpoint's tokenizer

    completion = tmp_path / "completion.txt"
    completion.write_text("  nlinarith [sq_nonneg (x - y), h₀, h₁, h₂]\n```\nThis closes the goal.")
    res = runner.invoke(app, ["prompt", _config(tmp_path, checkpoint, "deepseek-prover"), "amc12a_2015_p10",
                              "--json", "--completion", str(completion)])
    out = json.loads(res.stdout)
    assert out["body"] == "nlinarith [sq_nonneg (x - y), h₀, h₁, h₂]" and out["refused"] is None
    assert out["reasoning"] is None
    assert out["checked_text"].startswith("import Mathlib\n")
    assert out["checked_text"].endswith(":= by\n  nlinarith [sq_nonneg (x - y), h₀, h₁, h₂]\n")


def test_chat_prompt_with_a_refused_completion(tmp_path, checkpoint):
    tid = _first_id()
    completion = "<think>Linear.</think>\n```coq\nTheorem WRONG : True.\nProof. auto. Qed.\n```"
    res = runner.invoke(app, ["prompt", _config(tmp_path, checkpoint, "chat"), tid, "--json", "-c", "-"],
                        input=completion)
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["prompt"].startswith("<|im_start|>user\n") and out["prompt"].endswith("<|im_start|>assistant\n")
    assert out["reasoning"] == "Linear." and out["body"] is None and out["checked_text"] is None
    assert "declares Theorem WRONG" in out["refused"]
    text = runner.invoke(app, ["prompt", _config(tmp_path, checkpoint, "chat"), tid, "-c", "-"], input=completion)
    assert "refused before any prover runs" in text.stdout and "Linear." in text.stdout


def test_unknown_theorem_and_bad_config_are_one_line_errors(tmp_path, checkpoint):
    res = runner.invoke(app, ["prompt", _config(tmp_path, checkpoint, "chat"), "lin/nope"])
    assert res.exit_code == 2 and "no theorem 'lin/nope'" in res.output
    res = runner.invoke(app, ["prompt", _config(tmp_path, checkpoint, "alpaca"), "lin/nope"])
    assert res.exit_code == 2 and "model.prompt" in res.output
