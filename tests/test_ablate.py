"""The ablation grid: expansion, validation, resumable running, and the CSV/markdown/plots it writes.

Arms run a fake experiment that writes a synthetic summary.json (the real loop is tested elsewhere).
"""
from __future__ import annotations

import csv
import json
import os
import statistics
import textwrap
import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from loop.ablate import arm_finished, load_ablation, run_ablation, run_ablations, write_report
from loop.cli import app
from loop.config import ConfigError, RunConfig

ROOT = Path(__file__).resolve().parent.parent


def fake_summary(cfg: RunConfig, rounds: int | None = None) -> dict:
    """Metrics that depend on the arm in a known way, so the table's numbers can be checked."""
    rows = []
    for r in range(cfg.rounds + 1 if rounds is None else rounds):
        judge = cfg.gate.kind == "judge"
        row = {"round": r, "checkpoint": "base" if r == 0 else f"round-{r}",
               "heldout": {"pass@1": 0.2 + (0.1 * r if judge else 0.0) + 0.01 * cfg.seed,
                           "greedy_pass@1": 0.25, "pass@k": 0.6, "k": 4, "n": 4, "theorems": 10,
                           "pass@k_curve": {"1": 0.2, "2": 0.4, "4": 0.6},
                           "entropy": 1.0 - (0.1 * r if cfg.sampling.temperature < 1 else 0.0),
                           "unique_proofs_per_theorem": 3.0 - 0.5 * r, "distinct_1": 0.5, "distinct_2": 0.6},
               "lockin": {"false_admitted": 0 if judge else 5 * r, "reproduce_prob": None if judge else 0.1,
                          "false_theorems_still_produced": 0},
               "forgetting": None if r == 0 else {"lost": 1, "gained": 2},
               "cost": {"seconds": {"sample": 1.0, "verify": 2.0, "train": 3.0, "eval": 0.5},
                        "tokens_sampled": 100, "proofs_verified": 40, "verify_per_s": 20.0},
               "seconds": 7.0}
        if r < cfg.rounds:
            row["pool"] = {"attempts": 40, "verified": 10, "theorems_proved": 5, "gate_admitted": 12}
            row["admitted"] = 12
            row["contamination"] = {"judge": 0.0, "noisy": 0.3, "none": 0.5, "weak": 0.4}[cfg.gate.kind]
        rows.append(row)
    return {"name": cfg.name, "backend": "coq", "seed": cfg.seed, "gate": cfg.gate.model_dump(), "rounds": rows}


class FakeRun:
    """An in-process run function that records its calls; ``fail`` names arms that die half-way."""

    def __init__(self, fail: tuple[str, ...] = ()):
        self.calls: list[tuple[str, bool]] = []
        self.fail = fail
        self.lock = threading.Lock()

    def __call__(self, cfg: RunConfig, out: Path, resume: bool) -> dict:
        with self.lock:
            self.calls.append((cfg.name, resume))
        out.mkdir(parents=True, exist_ok=True)
        partial = cfg.name in self.fail
        summary = fake_summary(cfg, rounds=1 if partial else None)
        (out / "summary.json").write_text(json.dumps(summary))
        if partial:
            raise RuntimeError("killed after round 0")
        return summary


SMALL = """
    name: small
    base:
      rounds: 2
      eval: {n: 4, k: 4}
    arms:
      - {gate.kind: judge}
      - {gate.kind: noisy, gate.fp: 0.3}
    grid:
      sampling.temperature: [0.7, 1.0]
      seed: [0, 1]
"""


def write_config(tmp_path: Path, text: str, name: str = "abl.yaml") -> Path:
    p = tmp_path / name
    p.write_text(textwrap.dedent(text))
    return p


# ---------------------------------------------------------------------------
# Expansion and validation
# ---------------------------------------------------------------------------

def test_shipped_config_expands_to_sixteen_arms_with_the_no_learning_control():
    ab = load_ablation(ROOT / "configs" / "ablate-verifier.yaml")
    assert len(ab.arms) == 16
    combos = {(a.config.model.kind, a.config.gate.kind, a.config.gate.fp, a.config.sampling.temperature,
               a.config.seed) for a in ab.arms}
    assert combos == {(kind, g, fp, t, s) for kind, g, fp in (("hf", "judge", 0.0), ("hf", "none", 0.0),
                                                              ("hf", "noisy", 0.3), ("fixed", "judge", 0.0))
                      for t in (0.7, 1.0) for s in (0, 1)}
    assert len({a.group for a in ab.arms}) == 8
    assert "no-learning_T-1.0_seed-0" in {a.name for a in ab.arms}
    names = {a.name for a in ab.arms}
    assert "gate-noisy_fp-0.3_T-0.7_seed-1" in names and "gate-judge_T-1.0_seed-0" in names
    by_name = {a.name: a for a in ab.arms}
    assert by_name["gate-noisy_fp-0.3_T-0.7_seed-1"].group == "gate-noisy_fp-0.3_T-0.7"
    assert all(a.config.name == a.name for a in ab.arms)
    assert all(a.config.rounds == ab.arms[0].config.rounds for a in ab.arms)  # the base applies to every arm


def test_grid_only_and_labels(tmp_path):
    ab = load_ablation(write_config(tmp_path, """
        grid: {lora.r: [4, 8], seed: [3]}
    """))
    assert [a.name for a in ab.arms] == ["lora.r-4_seed-3", "lora.r-8_seed-3"]
    assert [a.config.lora.r for a in ab.arms] == [4, 8]
    ab = load_ablation(write_config(tmp_path, """
        arms:
          - {label: strict, gate: {kind: judge}}
          - {label: leaky, gate.kind: noisy, gate.fp: 0.5, gate.fn: 0.1}
    """))
    assert [(a.name, a.config.gate.fp, a.config.gate.fn) for a in ab.arms] == [("strict", 0.0, 0.0),
                                                                              ("leaky", 0.5, 0.1)]


def test_keys_valid_only_together_are_accepted(tmp_path):
    ab = load_ablation(write_config(tmp_path, "arms: [{eval.k: 4}]\ngrid: {eval.n: [4, 6]}"))
    assert [(a.config.eval.n, a.config.eval.k) for a in ab.arms] == [(4, 4), (6, 4)]


def test_base_config_is_relative_to_the_ablation_file(tmp_path):
    (tmp_path / "sub").mkdir()
    write_config(tmp_path / "sub", "rounds: 5\nsampling: {k: 2}\n", name="base.yaml")
    ab = load_ablation(write_config(tmp_path / "sub", """
        base_config: base.yaml
        base: {sampling.k: 3}
        grid: {seed: [0]}
    """))
    assert ab.arms[0].config.rounds == 5 and ab.arms[0].config.sampling.k == 3


@pytest.mark.parametrize("text,needle", [
    ("grdi: {seed: [0]}", "grdi: unknown key"),
    ("grid: {sampling.temprature: [0.7]}", "grid.sampling.temprature (arm sampling.temprature-0.7): "
                                          "sampling.temprature: unknown key"),
    ("grid: {sampling.temperature: 0.7}", "grid.sampling.temperature: expected a non-empty list"),
    ("grid: {sampling.temperature: [0.7, -1.0]}", "grid.sampling.temperature (arm T--1.0): sampling.temperature"),
    ("grid: {seed: [0, 0]}", "grid.seed: a value is listed twice"),
    ("grid: {sampling: [1]}", "grid.sampling (arm sampling-1): sampling"),
    ("arms: [{gate.kind: bogus}]", "arms[0].gate.kind (arm gate-bogus): gate.kind"),
    ("arms: [{gate.kind: judge}, {gate.kind: noisy, gate.fpp: 0.3}]", "arms[1].gate.fpp (arm gate-noisy_gate.fpp-0.3): "
                                                                  "gate.fpp: unknown key"),
    ("arms: [{gate.kind: judge}]\ngrid: {gate.kind: [none]}", "arms[0]: gate.kind is also in grid"),
    ("base: {sampling: {kk: 3}}", "base: sampling.kk: unknown key"),
    ("base_config: missing.yaml", "base_config: config file not found"),
    ("arms: [{eval.k: 8}]\ngrid: {eval.n: [4]}", "arms[0].eval.k, grid.eval.n (arm eval.k-8_eval.n-4): eval"),
    ("arms: [{label: a, seed: 1}, {label: a, seed: 2}]", "both named 'a'"),
    ("arm_timeout_s: -5\ngrid: {seed: [0]}", "arm_timeout_s"),
])
def test_validation_names_the_bad_key(tmp_path, text, needle):
    """The message names the key and where it was set; values valid only together are accepted."""
    with pytest.raises(ConfigError) as e:
        load_ablation(write_config(tmp_path, text))
    assert needle in str(e.value)


# ---------------------------------------------------------------------------
# Running, resuming, reporting
# ---------------------------------------------------------------------------

def read_csv(path: Path) -> list[dict]:
    with path.open() as f:
        return list(csv.DictReader(f))


def test_run_writes_csv_markdown_and_plots(tmp_path):
    cfg = write_config(tmp_path, SMALL)
    fake = FakeRun()
    result = run_ablation(cfg, tmp_path / "out", jobs=2, run_fn=fake, echo=lambda s: None)
    assert not result.failed and len(fake.calls) == 8
    assert all(resume is False for _, resume in fake.calls)
    rows = read_csv(tmp_path / "out" / "ablation.csv")
    assert len(rows) == 8 * 3  # runs × rounds
    for col in ("gate", "fp", "fn", "temperature", "seed", "round", "heldout_pass@1", "heldout_greedy_pass@1",
                "heldout_pass@k", "contamination", "entropy", "unique_proofs_per_theorem", "distinct_2",
                "lockin_reproduce_prob", "false_admitted", "forgotten", "admitted", "seconds", "heldout_curve@4"):
        assert col in rows[0], col
    row = next(r for r in rows if r["arm"] == "gate-judge_T-0.7_seed-1" and r["round"] == "2")
    assert (row["gate"], float(row["fp"]), float(row["temperature"]), row["seed"]) == ("judge", 0.0, 0.7, "1")
    assert float(row["heldout_pass@1"]) == pytest.approx(0.2 + 0.2 + 0.01)
    assert row["contamination"] == ""  # the last round trains nothing
    noisy = next(r for r in rows if r["arm"] == "gate-noisy_fp-0.3_T-1.0_seed-0" and r["round"] == "1")
    assert float(noisy["contamination"]) == pytest.approx(0.3) and noisy["fp"] == "0.3"

    md = (tmp_path / "out" / "ablation.md").read_text()
    # judge, T=0.7, final round 2: pass@1 over seeds 0.40 and 0.41
    mean, std = statistics.fmean([0.40, 0.41]), statistics.stdev([0.40, 0.41])
    line = next(x for x in md.splitlines() if x.startswith("| gate-judge_T-0.7 | 0,1 |"))
    assert f"{mean:.3f} ± {std:.3f}" in line
    # per round: the noisy arm stays at 0.2 + 0.01 * seed
    assert "| gate-noisy_fp-0.3_T-0.7 | 0.205 ± 0.007 | 0.205 ± 0.007 | 0.205 ± 0.007 |" in md
    assert "| 12.0 ± 0.0 |" in line  # admitted: decimals follow the size of the mean
    assert "### entropy" in md and "![held-out pass@1 (sampled)](pass_at_1.png)" in md
    for name in ("pass_at_1.png", "entropy.png", "unique_proofs.png", "contamination.png"):
        data = (tmp_path / "out" / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000, name
    index = json.loads((tmp_path / "out" / "arms.json").read_text())
    assert len(index["arms"]) == 8 and index["keys"] == ["gate.kind", "gate.fp", "sampling.temperature", "seed"]


def test_resume_skips_finished_arms_and_resumes_the_rest(tmp_path):
    cfg = write_config(tmp_path, SMALL)
    out = tmp_path / "out"
    broken = "gate-noisy_fp-0.3_T-1.0_seed-1"
    first = run_ablation(cfg, out, jobs=2, run_fn=FakeRun(fail=(broken,)), echo=lambda s: None)
    assert [o.arm for o in first.failed] == [broken]
    assert "killed after round 0" in first.failed[0].error
    assert "killed after round 0" in (out / "logs" / f"{broken}.log").read_text()
    # the partial run is in the report, marked by its missing rounds
    assert sum(r["arm"] == broken for r in read_csv(out / "ablation.csv")) == 1

    with pytest.raises(ConfigError, match="--resume"):
        run_ablation(cfg, out, run_fn=FakeRun(), echo=lambda s: None)

    again = FakeRun()
    second = run_ablation(cfg, out, jobs=2, resume=True, run_fn=again, echo=lambda s: None)
    assert again.calls == [(broken, True)]
    assert not second.failed
    assert sum(o.status == "skipped" for o in second.outcomes) == 7
    assert len(read_csv(out / "ablation.csv")) == 8 * 3


def test_resume_with_a_changed_arm_config_is_refused(tmp_path):
    out = tmp_path / "out"
    run_ablation(write_config(tmp_path, SMALL), out, run_fn=FakeRun(), echo=lambda s: None)
    changed = write_config(tmp_path, SMALL.replace("rounds: 2", "rounds: 3"), name="changed.yaml")
    with pytest.raises(ConfigError, match="arm gate-judge_T-0.7_seed-0: .* differs"):
        run_ablation(changed, out, resume=True, run_fn=FakeRun(), echo=lambda s: None)


def test_arm_finished_needs_every_round(tmp_path):
    cfg = RunConfig(rounds=2)
    assert not arm_finished(tmp_path, cfg)
    (tmp_path / "summary.json").write_text(json.dumps(fake_summary(cfg, rounds=2)))
    assert not arm_finished(tmp_path, cfg)
    (tmp_path / "summary.json").write_text(json.dumps(fake_summary(cfg)))
    assert arm_finished(tmp_path, cfg)
    (tmp_path / "summary.json").write_text('{"rounds": [')
    assert not arm_finished(tmp_path, cfg)


def test_report_tolerates_missing_runs_and_fields(tmp_path):
    out = tmp_path / "out"
    run_ablation(write_config(tmp_path, SMALL), out, run_fn=FakeRun(), echo=lambda s: None)
    victim = out / "runs" / "gate-judge_T-1.0_seed-0" / "summary.json"
    victim.unlink()
    other = out / "runs" / "gate-judge_T-1.0_seed-1" / "summary.json"
    s = json.loads(other.read_text())
    for r in s["rounds"]:
        del r["heldout"]["entropy"]
        r.pop("lockin")
    other.write_text(json.dumps(s))
    paths = write_report(out)
    md = paths["md"].read_text()
    assert "gate-judge_T-1.0_seed-0" in md.split("Runs without a summary")[1].splitlines()[0]
    line = next(x for x in md.splitlines() if x.startswith("| gate-judge_T-1.0 | 1 |"))
    assert "±" not in line  # one seed left: plain values
    assert len(read_csv(paths["csv"])) == 7 * 3


# ---------------------------------------------------------------------------
# The real path: one process per arm
# ---------------------------------------------------------------------------

FAKE_MODULE = '''
import json, os, time
from pathlib import Path

def run_experiment(cfg, out_dir, resume=False):
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "pid").write_text(str(os.getpid()))
    if cfg.gate.kind == "none":
        time.sleep(60)  # an arm that hangs: the ablation's timeout must kill it
    rounds = [{"round": r, "heldout": {"pass@1": 0.1 * r, "entropy": 1.0}} for r in range(cfg.rounds + 1)]
    (out / "summary.json").write_text(json.dumps({"rounds": rounds, "resume": resume}))
    print("fake run done", cfg.name, flush=True)
'''


def test_subprocess_arms_with_timeout(tmp_path, monkeypatch):
    (tmp_path / "fake_ratchet_run.py").write_text(FAKE_MODULE)
    monkeypatch.setenv("PYTHONPATH", f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    cfg = write_config(tmp_path, """
        base: {rounds: 1}
        arms: [{gate.kind: judge}, {gate.kind: none}]
        grid: {seed: [0, 1]}
        arm_timeout_s: 4
    """)
    out = tmp_path / "out"
    t0 = time.time()
    result = run_ablation(cfg, out, jobs=2, target="fake_ratchet_run:run_experiment", echo=lambda s: None)
    assert time.time() - t0 < 40
    status = {o.arm: o.status for o in result.outcomes}
    assert status == {"gate-judge_seed-0": "done", "gate-judge_seed-1": "done",
                      "gate-none_seed-0": "failed", "gate-none_seed-1": "failed"}
    assert all("timed out" in o.error for o in result.failed)
    for arm in ("gate-none_seed-0", "gate-none_seed-1"):
        pid = int((out / "runs" / arm / "pid").read_text())
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)  # killed with its process group, not left running
    assert "fake run done gate-judge_seed-0" in (out / "logs" / "gate-judge_seed-0.log").read_text()
    assert len(read_csv(out / "ablation.csv")) == 2 * 2


# ---------------------------------------------------------------------------
# The command
# ---------------------------------------------------------------------------

def test_cli_reports_bad_config_and_rebuilds_report(tmp_path):
    runner = CliRunner()
    bad = write_config(tmp_path, "grid: {sampling.temprature: [0.7]}", name="bad.yaml")
    res = runner.invoke(app, ["ablate", str(bad), "--out", str(tmp_path / "x")])
    assert res.exit_code == 2 and "sampling.temprature: unknown key" in res.output

    out = tmp_path / "out"
    run_ablation(write_config(tmp_path, SMALL), out, run_fn=FakeRun(), echo=lambda s: None)
    (out / "ablation.md").unlink()
    res = runner.invoke(app, ["ablate", str(tmp_path / "abl.yaml"), "--out", str(out), "--report-only"])
    assert res.exit_code == 0, res.output
    assert (out / "ablation.md").is_file()


@pytest.mark.skipif(__import__("shutil").which("coqtop") is None, reason="Coq is not installed")
def test_real_arms_run_in_their_own_processes_with_the_fixed_proposer(tmp_path):
    """The runner's real path: `python -m loop.ablate` per arm, the loop against Coq, the report from its output.

    The no-learning proposer makes a real arm take seconds.
    """
    cfg = tmp_path / "abl.yaml"
    cfg.write_text(textwrap.dedent(f"""\
        name: real-fixed
        base_config: {ROOT / 'configs' / 'tiny.yaml'}
        base: {{rounds: 1, model.kind: fixed, theorems.per_family: 6, verifier.workers: 1}}
        grid: {{seed: [0, 1]}}
        """))
    result = run_ablation(cfg, tmp_path / "out", jobs=2, echo=lambda s: None)
    assert not result.failed, [o.error for o in result.failed]
    rows = list(csv.DictReader((tmp_path / "out" / "ablation.csv").open()))
    assert sorted((r["arm"], r["round"]) for r in rows) == [("seed-0", "0"), ("seed-0", "1"), ("seed-1", "0"),
                                                            ("seed-1", "1")]
    assert all(0 <= float(r["heldout_pass@1"]) <= 1 for r in rows)
    assert "held-out" in (tmp_path / "out" / "logs" / "seed-0.log").read_text()  # the arm's own round table


def test_several_ablations_share_one_pool_of_slots(tmp_path):
    """Two one-arm ablations with --jobs 2 run at the same time (each arm waits for the other at a barrier):
    a slot one ablation leaves idle goes to the next one, as ``ratchet claims`` needs for its blocks."""
    one = """
        name: {name}
        base: {{rounds: 0, eval: {{n: 4, k: 4}}}}
        arms: [{{gate.kind: judge}}]
    """
    barrier = threading.Barrier(2, timeout=20)
    fake = FakeRun()

    def together(cfg, out, resume):
        barrier.wait()  # raises BrokenBarrierError (the arm fails) if the other arm never starts
        return fake(cfg, out, resume)

    plans = [(write_config(tmp_path, one.format(name=n), f"{n}.yaml"), tmp_path / n) for n in ("first", "second")]
    lines: list[str] = []
    results = run_ablations(plans, jobs=2, run_fn=together, echo=lines.append)
    assert [[o.status for o in r.outcomes] for r in results] == [["done"], ["done"]]
    assert [r.out_dir for r in results] == [tmp_path / "first", tmp_path / "second"]
    assert all((r.out_dir / "ablation.md").is_file() for r in results)  # each keeps its own report
    assert sum("[" in line and "/2]" in line for line in lines) == 2  # progress counts arms over all ablations
