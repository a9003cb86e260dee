"""End to end against real Coq: the tiny config through every stage, a kill -9 and a resume.

These are the slowest default tests (about a minute each on 2 cores); they are the
ones that prove the loop is wired to the real proof assistant.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from loop.config import load_config
from loop.run import run_experiment

ROOT = Path(__file__).resolve().parent.parent
TINY = ROOT / "configs" / "tiny.yaml"
RATCHET = Path(sys.executable).parent / "ratchet"

pytestmark = pytest.mark.skipif(shutil.which("coqtop") is None, reason="Coq is not installed (make test installs it)")


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("model-cache")


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, model_cache):
    out = tmp_path_factory.mktemp("tiny") / "run"
    cfg = load_config(TINY, [f"model.cache_dir={model_cache}"])
    summary = run_experiment(cfg, out, progress=False)
    return out, cfg, summary


def test_run_dir_has_every_artifact(tiny_run):
    out, cfg, summary = tiny_run
    for name in ("config.yaml", "manifest.json", "run.db", "summary.json"):
        assert (out / name).is_file(), name
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["backend"] == "coq" and manifest["backend_version"]
    assert manifest["finished_at"] and manifest["seed"] == cfg.seed
    assert {"torch", "transformers", "peft", "tokenizers"} <= set(manifest["libraries"])
    for r in range(cfg.rounds):
        assert (out / "rounds" / f"round-{r}" / "adapter" / "adapter_config.json").is_file()
        assert (out / "rounds" / f"round-{r}" / "sft.jsonl").is_file()


def test_summary_holds_every_round(tiny_run):
    out, cfg, summary = tiny_run
    assert json.loads((out / "summary.json").read_text()) == summary
    assert summary["backend"] == "coq"
    rounds = summary["rounds"]
    assert [r["round"] for r in rounds] == list(range(cfg.rounds + 1))
    con = sqlite3.connect(out / "run.db")
    n_heldout = con.execute("SELECT COUNT(*) FROM theorems WHERE pool='heldout'").fetchone()[0]
    n_train = con.execute("SELECT COUNT(*) FROM theorems WHERE pool='train'").fetchone()[0]
    for r in rounds:
        h = r["heldout"]
        assert h["theorems"] == n_heldout and h["k"] == cfg.eval.k
        assert 0 <= h["pass@1"] <= h["pass@k"] <= 1
        assert 0 <= h["greedy_pass@1"] <= 1
        if r["round"] < cfg.rounds:
            assert r["pool"]["attempts"] == n_train * cfg.sampling.k
            assert r["pool"]["verified"] >= r["pool"]["theorems_proved"]
            assert r["admitted"] == len((out / "rounds" / f"round-{r['round']}" / "sft.jsonl").read_text().splitlines())
            assert r["contamination"] == 0.0  # gate = judge: nothing the judge rejects may be admitted
    # the base model must prove something, or nothing downstream was exercised
    assert rounds[0]["pool"]["verified"] > 0


def test_store_has_each_attempt_once_with_both_verdicts(tiny_run):
    out, cfg, _ = tiny_run
    con = sqlite3.connect(out / "run.db")
    dupes = con.execute("SELECT COUNT(*) FROM (SELECT 1 FROM attempts GROUP BY round, phase, theorem_id, sample_idx "
                        "HAVING COUNT(*) > 1)").fetchone()[0]
    assert dupes == 0
    assert con.execute("SELECT COUNT(*) FROM attempts WHERE phase='train' AND gate IS NULL").fetchone()[0] == 0
    assert con.execute("SELECT COUNT(*) FROM attempts WHERE phase='train' AND gate != judge").fetchone()[0] == 0
    assert con.execute("SELECT COUNT(*) FROM attempts WHERE judge_reason = ''").fetchone()[0] == 0
    # admitted proofs are exactly gate-admitted attempts' final text
    bad = con.execute("SELECT COUNT(*) FROM admitted a JOIN attempts t ON t.id = a.attempt_id "
                      "WHERE t.gate != 'verified' OR t.phase != 'train'").fetchone()[0]
    assert bad == 0


def test_verified_proofs_compile_with_plain_coqc(tiny_run, tmp_path):
    """Acceptance: every proof the store marks verified compiles with coqc under the same header."""
    from prover.theorems import COQ_HEADER

    out, _, _ = tiny_run
    con = sqlite3.connect(out / "run.db")
    rows = con.execute("SELECT DISTINCT t.name, t.statement, a.proof FROM attempts a JOIN theorems t "
                       "ON t.id = a.theorem_id WHERE a.judge='verified' ORDER BY a.id").fetchall()
    assert rows, "no verified proofs to check"
    step = max(1, len(rows) // 60)  # a spread sample of up to ~60 proofs, one coqc run
    parts = [COQ_HEADER]
    for i, (name, statement, proof) in enumerate(rows[::step]):
        parts.append(f"Theorem {name}_{i} : {statement}.\nProof.\n{proof}\nQed.\n"
                     f"Print Assumptions {name}_{i}.\n")
    v = tmp_path / "Check.v"
    v.write_text("\n".join(parts))
    proc = subprocess.run(["coqc", v.name], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("Closed under the global context") == len(rows[::step])


def test_resume_of_a_finished_run_is_a_no_op(tiny_run):
    out, cfg, summary = tiny_run
    con = sqlite3.connect(out / "run.db")
    before = con.execute("SELECT COUNT(*) FROM attempts").fetchone()[0]
    again = run_experiment(cfg, out, resume=True, progress=False)
    assert con.execute("SELECT COUNT(*) FROM attempts").fetchone()[0] == before
    assert [r["heldout"] for r in again["rounds"]] == [r["heldout"] for r in summary["rounds"]]


def test_existing_run_dir_without_resume_is_refused(tiny_run):
    out, _, _ = tiny_run
    proc = subprocess.run([str(RATCHET), "run", str(TINY), "--out", str(out)], capture_output=True, text=True)
    assert proc.returncode == 2 and "--resume" in proc.stderr


def test_sigkill_mid_round_then_resume_loses_and_duplicates_nothing(tmp_path, model_cache):
    out = tmp_path / "killed"
    cmd = [str(RATCHET), "run", str(TINY), "--out", str(out), "--no-progress",
           "--set", f"model.cache_dir={model_cache}"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    db = out / "run.db"
    deadline = time.time() + 600
    try:
        while time.time() < deadline and proc.poll() is None:
            if db.exists():
                try:
                    n = sqlite3.connect(db, timeout=5).execute(
                        "SELECT COUNT(*) FROM attempts WHERE round=1").fetchone()[0]
                except sqlite3.OperationalError:
                    n = 0
                if n > 0:
                    break
            time.sleep(0.2)
        assert proc.poll() is None, "the run finished before it could be killed mid-round"
        os.killpg(proc.pid, signal.SIGKILL)  # the run's own process group: ratchet and nothing else
    finally:
        proc.wait(timeout=60)
    con = sqlite3.connect(db)
    before = con.execute("SELECT round, phase, theorem_id, sample_idx, proof FROM attempts "
                         "WHERE judge='verified'").fetchall()
    assert before, "nothing verified before the kill: the test would prove nothing"
    summary_rounds = con.execute("SELECT COUNT(*) FROM rounds").fetchone()[0]
    assert summary_rounds < load_config(TINY).rounds + 1  # killed before the end
    con.close()

    resumed = subprocess.run(cmd + ["--resume"], capture_output=True, text=True, timeout=900)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    con = sqlite3.connect(db)
    after = set(con.execute("SELECT round, phase, theorem_id, sample_idx, proof FROM attempts "
                            "WHERE judge='verified'").fetchall())
    assert set(before) <= after
    dupes = con.execute("SELECT COUNT(*) FROM (SELECT 1 FROM attempts GROUP BY round, phase, theorem_id, sample_idx "
                        "HAVING COUNT(*) > 1)").fetchone()[0]
    assert dupes == 0
    summary = json.loads((out / "summary.json").read_text())
    assert [r["round"] for r in summary["rounds"]] == list(range(load_config(TINY).rounds + 1))
