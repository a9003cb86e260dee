"""Claims: the verdict rule, effects on synthetic counts with known answers, and a tiny grid end to end."""
from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import yaml

from loop import claims as C
from loop.config import ConfigError, SelectConfig
from loop.store import Attempt, Store

ROOT = Path(__file__).resolve().parent.parent


# ---------------------------------------------------------------------------
# The verdict rule
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("ci,direction,margin,expected", [
    ((0.01, 0.2), +1, None, "supported"),
    ((-0.2, -0.01), +1, None, "contradicted"),
    ((-0.1, 0.2), +1, None, "inconclusive"),
    ((-0.2, -0.01), -1, None, "supported"),
    ((0.01, 0.2), -1, None, "contradicted"),
    ((-0.01, 0.0), -1, None, "inconclusive"),  # touching 0 does not exclude it
    ((-0.02, 0.03), 0, 0.05, "supported"),     # a null: the whole interval inside the margin
    ((-0.02, 0.08), 0, 0.05, "inconclusive"),
    ((0.06, 0.08), 0, 0.05, "contradicted"),
    ((-0.02, 0.03), 0, None, "inconclusive"),  # without a margin a null is never supported
    (None, +1, None, "inconclusive"),
])
def test_verdict_rule(ci, direction, margin, expected):
    assert C.verdict(ci, direction, margin) == expected


def test_verdict_rejects_nonsense():
    with pytest.raises(ValueError):
        C.verdict((0.2, 0.1), +1)
    with pytest.raises(ValueError):
        C.verdict((0.1, 0.2), 2)


def test_spec_is_complete_and_unique():
    ids = [c.id for c in C.CLAIMS]
    assert len(ids) == len(set(ids))
    for c in C.CLAIMS:
        assert c.source and c.prediction and c.arms
        assert c.direction in (1, -1, 0) and (c.direction != 0 or c.margin is not None)
        assert c.a.value in ("pass@1", "pass@n", "gap") and c.b.value in ("pass@1", "pass@n", "gap")


# ---------------------------------------------------------------------------
# Effects on counts whose answers are known
# ---------------------------------------------------------------------------

def _arm(per_round: dict[int, list[tuple[int, int]]], seeds: int = 1):
    return [{r: {f"t/{i}": nc for i, nc in enumerate(pairs)} for r, pairs in per_round.items()}] * seeds


def test_within_arm_effect_is_paired_by_theorem():
    claim = C._c("x", "s", "p", ("a:judge", "last", "pass@1"), ("a:judge", 0, "pass@1"), +1)
    arms = {"a:judge": _arm({0: [(4, 1)] * 20, 1: [(4, 2)] * 20, 2: [(4, 3)] * 20})}
    out = C.measure_claim(claim, arms, reps=300)
    assert out["effect"] == pytest.approx(0.5)  # pass@1 0.25 -> 0.75, the same on every theorem
    assert out["ci95"] == pytest.approx([0.5, 0.5])
    assert out["verdict"] == "supported"
    assert out["sides"]["a"]["round"] == 2 and out["sides"]["b"]["round"] == 0 and out["theorems"] == 20


def test_between_arms_effect_and_not_measured_claims():
    claim = C._c("y", "s", "p", ("b:noisy", "last", "pass@1"), ("a:judge", "last", "pass@1"), -1)
    arms = {"a:judge": _arm({0: [(4, 1)] * 10, 1: [(4, 3)] * 10}, seeds=2),
            "b:noisy": _arm({0: [(4, 1)] * 10, 1: [(4, 3)] * 5 + [(4, 4)] * 5}, seeds=2)}
    out = C.measure_claim(claim, arms, reps=300)
    assert out["effect"] == pytest.approx(0.125)  # noisy is higher here: the prediction (< 0) fails
    assert out["verdict"] == "contradicted" and out["ci95"][0] > 0
    missing = C.measure_claim(C._c("z", "s", "p", ("c:none", 0, "pass@1"), ("a:judge", 0, "pass@1"), +1), arms)
    assert missing["verdict"] == "inconclusive" and "c:none" in missing["note"] and missing["effect"] is None


def test_gap_unchanged_supports_a_null_within_its_margin():
    claim = C._c("n", "s", "p", ("a:raw", "last", "gap"), ("a:raw", 0, "gap"), 0, margin=0.05)
    same = [(8, 0), (8, 2), (8, 8), (8, 5)] * 5
    out = C.measure_claim(claim, {"a:raw": _arm({0: same, 1: same})}, reps=300)
    assert out["effect"] == pytest.approx(0) and out["verdict"] == "supported"
    # and a gap that closes (pass@1 rises to pass@n) is a negative effect: c/n 2/8 -> 8/8
    sharpen = C._c("s", "s", "p", ("a:raw", "last", "gap"), ("a:raw", 0, "gap"), -1)
    before, after = [(8, 2)] * 10, [(8, 8)] * 10
    assert C.measure_claim(sharpen, {"a:raw": _arm({0: before, 1: after})})["effect"] == pytest.approx(-0.75)


def test_write_claims(tmp_path):
    claim = C._c("x", "src", "pred", ("a:judge", "last", "pass@1"), ("a:judge", 0, "pass@1"), +1)
    results = C.measure_claims({"a:judge": _arm({0: [(4, 1), (4, 0)] * 5, 1: [(4, 3), (4, 1)] * 5})}, [claim])
    paths = C.write_claims(tmp_path, results)
    data = json.loads(paths["json"].read_text())
    entry = data["claims"][0]
    assert {"id", "source", "prediction", "arms", "effect", "ci95", "verdict"} <= set(entry)
    assert entry["verdict"] in C.VERDICTS
    md = paths["md"].read_text()
    assert "| x | > 0 |" in md and "**supported**" in md and paths["png"].stat().st_size > 0


# ---------------------------------------------------------------------------
# A tiny grid, end to end, through the ablation runner (arms run in-process)
# ---------------------------------------------------------------------------

SYNTH_P = {"judge": lambda r: 0.2 + 0.2 * r, "none": lambda r: 0.2 + 0.1 * r, "noisy": lambda r: 0.2 - 0.05 * r}


def _synthetic_run(cfg, run_dir: Path, resume: bool) -> None:
    """A stand-in for loop.run.run_experiment: a store whose eval verdicts are drawn with a known p per round."""
    run_dir.mkdir(parents=True, exist_ok=True)
    store = Store(run_dir / "run.db")
    ids = [f"lin/{i:03d}" for i in range(24)]
    store.add_theorems([{"id": t, "family": "lin", "difficulty": 1, "pool": "heldout", "name": f"t{i}",
                         "statement": "True", "statement_coq": "True", "statement_lean": "True"}
                        for i, t in enumerate(ids)])
    rng = random.Random(cfg.seed)
    rows = []
    for r in range(cfg.rounds + 1):
        p = SYNTH_P[cfg.gate.kind](r)
        for t in ids:
            for j in range(cfg.eval.n):
                ok = rng.random() < p
                rows.append(Attempt(r, "eval", t, j, "lia.", "verified" if ok else "rejected", "", None, None,
                                    0.0, 1, "base"))
    store.add_attempts(rows)
    store.close()
    summary = {"rounds": [{"round": r} for r in range(cfg.rounds + 1)]}
    (run_dir / "summary.json").write_text(json.dumps(summary))


def _grid(tmp_path: Path) -> Path:
    plan = {"name": "tiny-claims", "base_config": str(ROOT / "configs" / "tiny.yaml"),
            "base": {"eval": {"n": 8, "k": 4}},
            "blocks": {"largek": {"arms": [{"label": "judge", "gate.kind": "judge"}], "grid": {"seed": [0, 1]}},
                       "data": {"arms": [{"label": "none-replace", "gate.kind": "none"},
                                         {"label": "noisy-accumulate", "gate.kind": "noisy", "gate.fp": 0.3}]}}}
    path = tmp_path / "claims.yaml"
    path.write_text(yaml.safe_dump(plan))
    return path


def test_tiny_grid_end_to_end_and_resume(tmp_path):
    calls = []

    def run_fn(cfg, run_dir, resume):
        calls.append(run_dir.name)
        _synthetic_run(cfg, run_dir, resume)

    out = tmp_path / "out"
    result = C.run_claims(_grid(tmp_path), out, jobs=2, run_fn=run_fn, echo=lambda s: None)
    assert sorted(calls) == ["judge_seed-0", "judge_seed-1", "noisy-accumulate", "none-replace"]
    by_id = {r["id"]: r for r in result["results"]}
    raised = by_id["sound-verifier-raises-pass1"]  # judge: p 0.2 -> 0.6 over two rounds
    assert raised["verdict"] == "supported" and raised["sides"]["a"]["seeds"] == 2
    assert by_id["noisy-gate-locks-in"]["verdict"] == "supported"  # noisy 0.1 against judge 0.6
    assert by_id["replace-degrades"]["verdict"] == "contradicted"  # synthetic none-replace rises
    assert by_id["selfdistill-sharpens-below-T1"]["verdict"] == "inconclusive"  # its arms were not in the grid
    assert json.loads((out / "claims.json").read_text())["claims"][0]["id"] == C.CLAIMS[0].id
    assert (out / "blocks" / "largek" / "ablation.md").is_file()  # each block is an ablation, with its tables
    # resumable by arm: nothing left to run
    calls.clear()
    C.run_claims(_grid(tmp_path), out, jobs=2, resume=True, run_fn=run_fn, echo=lambda s: None)
    assert calls == []


def test_bad_plans_fail_naming_the_key(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({"blocks": {"b": {"arms": [{"gate.kind": "judge"}], "seeds": [0]}}}))
    with pytest.raises(ConfigError, match="blocks.b.seeds"):
        C.load_plan(path)
    path.write_text(yaml.safe_dump({"blocks": {"b": {"arms": [{"gate.kind": "oracle"}]}}}))
    with pytest.raises(ConfigError, match="gate.kind"):
        C.load_plan(path)
    path.write_text(yaml.safe_dump({"grid": {}}))
    with pytest.raises(ConfigError, match="grid: unknown key"):
        C.load_plan(path)


def test_default_grid_has_every_claims_arm():
    data = yaml.safe_load((ROOT / "configs" / "claims.yaml").read_text())
    groups = {f"{block}:{arm['label']}" for block, spec in data["blocks"].items() for arm in spec["arms"]}
    for claim in C.CLAIMS:  # every claim is measured by the default grid
        assert set(claim.arms) <= groups, (claim.id, set(claim.arms) - groups)
    plan = C.load_plan(ROOT / "configs" / "claims.yaml")  # every arm's config validates (raw included)
    assert set(plan.blocks) == {"largek", "depth", "selfdistill", "data", "long", "size", "stdlib"}
    assert plan.blocks["stdlib"]["base_config"] == "coq-stdlib.yaml" and plan.blocks["largek"]["base_config"] == "quickstart.yaml"
    assert "raw" in SelectConfig.model_fields["mode"].annotation.__args__


def test_a_difficulty_subset_measures_only_those_theorems():
    claim = C._depth(3, "d3", "s", "p", ("d:judge", "last", "pass@n"), ("d:judge", 0, "pass@n"), +1)
    # t/0..t/9: depth 1, solved throughout; t/10..t/19: depth 3, 2 of 10 solved at round 0, 6 at round 1
    r0 = [(8, 4)] * 10 + [(8, 1)] * 2 + [(8, 0)] * 8
    r1 = [(8, 4)] * 10 + [(8, 2)] * 6 + [(8, 0)] * 4
    difficulty = {f"t/{i}": 1 if i < 10 else 3 for i in range(20)}
    out = C.measure_claim(claim, {"d:judge": _arm({0: r0, 1: r1})}, difficulty=difficulty)
    assert out["theorems"] == 10 and out["effect"] == pytest.approx(0.4)
    with pytest.raises(ValueError, match="difficult"):
        C.measure_claim(claim, {"d:judge": _arm({0: r0, 1: r1})})


def test_cli_report_only_and_bad_config(tmp_path):
    from typer.testing import CliRunner

    from loop.cli import app

    out = tmp_path / "out"
    C.run_claims(_grid(tmp_path), out, run_fn=_synthetic_run, echo=lambda s: None)
    (out / "claims.md").unlink()
    res = CliRunner().invoke(app, ["claims", str(_grid(tmp_path)), "--out", str(out), "--report-only"])
    assert res.exit_code == 0, res.output
    assert (out / "claims.md").is_file() and "supported" in res.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("blocks: 3\n")
    res = CliRunner().invoke(app, ["claims", str(bad)])
    assert res.exit_code == 2 and "blocks" in res.output
