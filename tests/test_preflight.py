"""A start that would fail fails before its run directory exists: one line, exit 2, nothing left behind.

Includes the GPT-2 case of a new user: a local GPT-2 checkpoint with the default (Llama) LoRA targets
is refused before any work with its real layer names, and runs with lora.target_modules=all-linear.
"""
from __future__ import annotations

import prover  # noqa: F401  (first: it sets OMP_WAIT_POLICY before torch loads OpenMP)
import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from loop.cli import app
from loop.config import ConfigError, load_config
from loop.preflight import PreflightError, config_changes, preflight, resumable_config

ROOT = Path(__file__).resolve().parent.parent
TINY = ROOT / "configs" / "tiny.yaml"
runner = CliRunner()
needs_coq = pytest.mark.skipif(shutil.which("coqtop") is None, reason="Coq is not installed (make test installs it)")


@pytest.fixture(scope="module")
def gpt2_dir(tmp_path_factory) -> Path:
    """A GPT-2 built from config with random weights and a tokenizer trained here; nothing downloaded."""
    from transformers import GPT2Config, GPT2LMHeadModel

    from prover.model import train_tokenizer
    from prover.theorems import generate_theorems

    d = tmp_path_factory.mktemp("gpt2")
    texts = [t.statement("coq") for t in generate_theorems(["lin", "ring"], 20, 0)] + ["intros. lia.", "ring."]
    tok = train_tokenizer(texts, 300)
    config = GPT2Config(vocab_size=len(tok), n_positions=256, n_embd=32, n_layer=1, n_head=2,
                        bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    GPT2LMHeadModel(config).save_pretrained(d)
    tok.save_pretrained(d)
    return d


def start(out: Path, *sets: str):
    args = ["run", str(TINY), "--out", str(out), "--no-progress"]
    for s in sets:
        args += ["--set", s]
    return runner.invoke(app, args)


def assert_refused(res, out: Path, *needles: str) -> str:
    assert res.exit_code == 2, res.output
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), res.stderr
    assert "Traceback" not in res.output
    for n in needles:
        assert n in lines[0], lines[0]
    assert not out.exists()
    return lines[0]


# -- the GPT-2 checkpoint -----------------------------------------------------------------

def test_gpt2_with_llama_targets_is_refused_naming_its_layers(gpt2_dir, tmp_path):
    out = tmp_path / "run"
    line = assert_refused(start(out, f"model.name_or_path={gpt2_dir}"), out, "lora.target_modules",
                          "q_proj", "c_attn", "c_fc", "all-linear")
    assert "--backend" not in line


@needs_coq
def test_gpt2_runs_a_round_through_lora_with_all_linear(gpt2_dir, tmp_path):
    out = tmp_path / "run"
    res = start(out, f"model.name_or_path={gpt2_dir}", "lora.target_modules=all-linear", "rounds=1",
                "theorems.families=[lin]", "theorems.per_family=16", "sampling.k=2", "sampling.max_new_tokens=12",
                "eval.n=2", "eval.k=2", "eval.probe_size=2", "gate.kind=none", "lora.epochs=1")
    assert res.exit_code == 0, res.output
    train = json.loads((out / "rounds" / "round-0" / "adapter" / "train.json").read_text())
    assert train["steps"] >= 1 and train["trainable_parameters"] > 0  # gate none admits garbage: LoRA trains
    adapter = json.loads((out / "rounds" / "round-0" / "adapter" / "adapter_config.json").read_text())
    # all-linear: every projection, the output head left out
    assert {t.rsplit(".", 1)[-1] for t in adapter["target_modules"]} == {"c_attn", "c_proj", "c_fc"}
    assert [r["round"] for r in json.loads((out / "summary.json").read_text())["rounds"]] == [0, 1]


def test_all_linear_in_both_yaml_forms(gpt2_dir):
    for form in ("all-linear", "[all-linear]"):
        cfg = load_config(TINY, [f"model.name_or_path={gpt2_dir}", f"lora.target_modules={form}"])
        assert cfg.lora.target_modules == "all-linear"
        preflight(cfg)


def test_a_target_list_must_name_real_layers(gpt2_dir):
    preflight(load_config(TINY, [f"model.name_or_path={gpt2_dir}", "lora.target_modules=[c_attn, c_fc]"]))
    with pytest.raises(PreflightError, match="q_proj not in"):
        preflight(load_config(TINY, [f"model.name_or_path={gpt2_dir}", "lora.target_modules=[c_attn, q_proj]"]))
    with pytest.raises(ConfigError, match="lora.target_modules: expected a list"):
        load_config(TINY, ["lora.target_modules=c_attn"])


# -- the other start failures -----------------------------------------------------------------

def test_lean_without_lean(tmp_path):
    from prover.backends import lean_ready

    if lean_ready():
        pytest.skip("Lean is installed here")
    out = tmp_path / "run"
    line = assert_refused(start(out, "backend=lean"), out, "backend: lean", "backend=coq")
    assert "--backend" not in line  # `run` has no such option


def test_coq_not_installed(tmp_path, monkeypatch):
    import prover.coq.verifier

    monkeypatch.setattr(prover.coq.verifier, "coq_available", lambda coqtop="coqtop": False)
    out = tmp_path / "run"
    assert_refused(start(out, "backend=coq"), out, "backend: coq, but coqtop is not on PATH", "apt-get install coq")


def test_unknown_family_with_a_suggestion(tmp_path):
    out = tmp_path / "run"
    assert_refused(start(out, "theorems.families=[lin,foo]"), out, "theorems.families", "'foo'", "lin, ring")
    assert_refused(start(out, "theorems.families=[lin,indcut]"), out, "did you mean 'induct'")
    assert_refused(start(out, "theorems.families=[lin,lin]"), out, "lin listed twice")


def test_a_directory_that_is_not_a_model(tmp_path):
    out = tmp_path / "run"
    empty = tmp_path / "empty"
    empty.mkdir()
    assert_refused(start(out, f"model.name_or_path={empty}"), out, "model.name_or_path", "no config.json")
    assert_refused(start(out, f"model.name_or_path={tmp_path / 'nowhere'}"), out, "is not a directory")
    (empty / "config.json").write_text("{not json")
    assert_refused(start(out, f"model.name_or_path={empty}"), out, "config.json does not load")


def test_a_model_without_weights_or_tokenizer(gpt2_dir, tmp_path):
    out = tmp_path / "run"
    bare = tmp_path / "bare"
    bare.mkdir()
    shutil.copy(gpt2_dir / "config.json", bare / "config.json")
    assert_refused(start(out, f"model.name_or_path={bare}"), out, "no weights")
    shutil.copy(gpt2_dir / "model.safetensors", bare / "model.safetensors")
    assert_refused(start(out, f"model.name_or_path={bare}"), out, "tokenizer")


def test_pools_that_come_out_empty(tmp_path):
    out = tmp_path / "run"
    assert_refused(start(out, "theorems.families=[lin]", "theorems.per_family=2"), out,
                   "theorems.per_family: 2 leaves the held-out pool empty")
    assert_refused(start(out, "theorems.warmstart_fraction=0"), out, "no warm-start theorem")


def test_bootstrap_sizes_that_do_not_fit(tmp_path):
    out = tmp_path / "run"
    assert_refused(start(out, "model.bootstrap.num_heads=3"), out, "model.bootstrap.hidden_size (64)",
                   "model.bootstrap.num_heads (3)")


# -- errors in the config itself name their source ----------------------------------------------

def test_a_bad_override_names_the_override_not_the_file(tmp_path):
    out = tmp_path / "run"
    line = assert_refused(start(out, "sampling.k=0"), out, "--set sampling.k=0: sampling.k:")
    assert str(TINY) not in line
    assert_refused(start(out, "eval.k=99"), out, "--set eval.k=99", "eval.k (99) must be <= eval.n (4)")
    assert_refused(start(out, "sampling.temprature=1"), out, "--set sampling.temprature=1",
                   "did you mean sampling.temperature?")
    assert_refused(start(out, "lora.rank=4"), out, "lora has r, alpha")
    assert_refused(start(out, "sampling.k"), out, "--set 'sampling.k': expected key=value")
    assert_refused(start(out, "theorems.families=[lin"), out, "--set theorems.families=[lin: the value is not "
                                                             "valid YAML")


def test_a_bad_file_value_names_the_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("rounds: -1\nsampling: {temprature: 1}\n")
    res = runner.invoke(app, ["run", str(bad), "--out", str(tmp_path / "run"), "--set", "seed=3"])
    line = assert_refused(res, tmp_path / "run", f"{bad}: rounds:", f"{bad}: sampling.temprature")
    assert "--set" not in line


# -- what --resume may change ---------------------------------------------------------------------

def test_growing_rounds_and_changing_the_engine_are_the_resumable_changes(tmp_path):
    stored = load_config(TINY)
    path = tmp_path / "config.yaml"
    assert resumable_config(stored, load_config(TINY), path) is None
    assert resumable_config(stored, load_config(TINY, ["rounds=5"]), path).rounds == 5
    # The engine may change on resume: it does not change what the run computes.
    on_ray = resumable_config(stored, load_config(TINY, ["execution.kind=ray"]), path)
    assert on_ray.execution.kind == "ray" and on_ray.rounds == stored.rounds
    assert resumable_config(stored, load_config(TINY, ["execution.kind=ray", "rounds=5"]), path).rounds == 5
    with pytest.raises(ConfigError, match="rounds can only grow"):
        resumable_config(stored, load_config(TINY, ["rounds=1"]), path)
    with pytest.raises(ConfigError, match=r"sampling\.k: 4 there, 8 given; only rounds may change"):
        resumable_config(stored, load_config(TINY, ["rounds=5", "sampling.k=8"]), path)
    assert config_changes(stored, load_config(TINY, ["lora.r=4"])) == [("lora.r", 8, 4)]
