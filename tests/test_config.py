"""The typed config: defaults, overrides, and errors that name the key."""
from pathlib import Path

import pytest

from loop.config import ConfigError, RunConfig, dump_config, load_config, validate_config

CONFIGS = Path(__file__).resolve().parent.parent / "configs"


# Ablation grids (configs/ablate-*.yaml) and the claims plan (configs/claims.yaml) have their own
# schemas, checked in tests/test_ablate.py and tests/test_claims.py.
RUN_CONFIGS = sorted(p for p in CONFIGS.glob("*.yaml") if not p.name.startswith(("ablate", "claims")))


def test_the_configs_the_readme_and_tests_use_are_shipped():
    assert {"quickstart.yaml", "tiny.yaml"} <= {p.name for p in RUN_CONFIGS}


@pytest.mark.parametrize("path", RUN_CONFIGS, ids=lambda p: p.name)
def test_shipped_run_configs_validate(path):
    cfg = load_config(path)
    assert isinstance(cfg, RunConfig)


def test_overrides_parse_as_yaml_and_round_trip(tmp_path):
    cfg = load_config(None, ["sampling.k=16", "sampling.temperature=0.7", "gate.kind=noisy", "gate.fp=0.3"])
    assert (cfg.sampling.k, cfg.sampling.temperature, cfg.gate.kind, cfg.gate.fp) == (16, 0.7, "noisy", 0.3)
    p = tmp_path / "c.yaml"
    p.write_text(dump_config(cfg))
    assert load_config(p) == cfg


@pytest.mark.parametrize("override, key", [
    (["sampling.kk=3"], "sampling.kk"),
    (["sampling.k=0"], "sampling.k"),
    (["gate.kind=sometimes"], "gate.kind"),
    (["lora.r=-1"], "lora.r"),
    (["nonsense=1"], "nonsense"),
    (["eval.k=9"], "eval.k"),
])
def test_bad_keys_and_values_fail_naming_the_key(override, key):
    with pytest.raises(ConfigError) as e:
        load_config(None, override)
    assert key in str(e.value)


def test_yaml_errors_name_the_file(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("sampling: [unclosed\n")
    with pytest.raises(ConfigError, match="bad.yaml"):
        load_config(p)
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.yaml")


def test_nested_unknown_key_in_file(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("lora:\n  rank: 8\n")
    with pytest.raises(ConfigError, match="lora.rank: unknown key"):
        load_config(p)
    assert validate_config({}).lora.r == RunConfig().lora.r


def test_select_policy_is_renamed_to_select_mode():
    assert load_config(None, ["select.mode=replace"]).select.mode == "replace"
    with pytest.raises(ConfigError, match=r"select\.policy: renamed; use select\.mode"):
        load_config(None, ["select.policy=replace"])


def test_eval_n_is_bounded_by_the_large_k_limit():
    from loop.largek import MAX_EVAL_N

    assert load_config(None, [f"eval.n={MAX_EVAL_N}"]).eval.n == MAX_EVAL_N == 512
    with pytest.raises(ConfigError) as e:
        load_config(None, [f"eval.n={MAX_EVAL_N + 1}"])
    assert "eval.n" in str(e.value) and "512" in str(e.value)
