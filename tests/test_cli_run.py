"""`ratchet run` as a new user meets it: help, the round table at 80 columns, resume, extend, Ctrl-C."""
from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from loop.cli import app
from loop.roundtable import columns, fitting, interval_columns, interval_table, round_table
from loop.summary import load_rounds

ROOT = Path(__file__).resolve().parent.parent
TINY = ROOT / "configs" / "tiny.yaml"
RATCHET = Path(sys.executable).parent / "ratchet"
runner = CliRunner()
needs_coq = pytest.mark.skipif(shutil.which("coqtop") is None, reason="Coq is not installed (make test installs it)")


def summary_row(r: int, last: bool = False) -> dict:
    s = {"round": r, "seconds": 1234.0,
         "heldout": {"greedy_pass@1": 0.5, "pass@1": 0.25, "pass@k": 0.75, "entropy": 1.5}}
    if not last:
        s.update(pool={"verified": 12345, "theorems_proved": 432}, admitted=1365, contamination=0.0,
                 train={"loss_last": 0.2})
    return s


def rendered(table, width: int) -> list[str]:
    from rich.console import Console

    console = Console(width=width, record=True, file=open(os.devnull, "w"))
    console.print(table)
    return console.export_text().splitlines()


@pytest.mark.parametrize("k", [8, 64])
def test_the_round_table_fits_80_columns_with_whole_headers(k):
    rows = load_rounds([summary_row(0), summary_row(1), summary_row(12, last=True)])
    lines = rendered(round_table(rows, "quickstart: held-out (125 theorems, judge=coq)", k, 80), 80)
    assert max(len(line) for line in lines) <= 80
    text = "\n".join(lines)
    assert "…" not in text
    shown = fitting(columns(k), rows, 80)
    for c in shown:
        for word in c.header.split("\n"):
            assert word in text, word
    assert {"round", "pass@1", f"pass@{k}", "entropy", "admitted", "seconds"} <= {c.name for c in shown}
    assert "not shown at this width" in text  # and it says which columns a wider terminal adds


def interval_row(r: int) -> dict:
    """A round of a quickstart-sized run (125 theorems) with wide intervals and two-digit counts."""
    s = summary_row(r)
    s["heldout"].update(ci95={"pass@1": [0.19234, 0.29251], "pass@k": [0.55999, 0.72813], "k": 64},
                        vs_base={"n": 256, "theorems": 125.0, "new": {"value": 12.5, "ci95": [7.25, 18.0]},
                                 "lost": {"value": 10.0, "ci95": [4.0, 16.5]},
                                 "sharpening": {"value": 0.7321, "ci95": [0.6571, 0.8042]}})
    return s


@pytest.mark.parametrize("k", [8, 64])
def test_intervals_and_vs_base_print_below_the_table_within_80_columns(k):
    rows = load_rounds([interval_row(0), interval_row(1)])
    lines = rendered(interval_table(rows, k, 80), 80)
    assert max(len(line) for line in lines) <= 80
    text = "\n".join(lines)
    assert "…" not in text and "not shown" not in text  # every column fits at 80
    for c in interval_columns(k):
        for word in c.header.split("\n"):
            assert word in text, word
    assert "[0.19,0.29]" in text and "[0.56,0.73]" in text  # pass@1 and pass@k intervals
    assert "12.5 [7.2,18]" in text and "10 [4,16.5]" in text and "0.73 [0.66,0.80]" in text
    assert "n=256" in lines[0]
    # the round table above it is unchanged by the new keys
    assert rendered(round_table(rows, "t", k, 80), 80) == rendered(
        round_table(load_rounds([summary_row(0), summary_row(1)]), "t", k, 80), 80)


def test_no_interval_block_for_a_summary_written_before_intervals():
    assert interval_table(load_rounds([summary_row(0), summary_row(1, last=True)]), 8, 80) is None


def test_a_wide_terminal_shows_every_column():
    rows = [summary_row(0), summary_row(1, last=True)]
    text = "\n".join(rendered(round_table(rows, "t", 8, 140), 140))
    for c in columns(8):
        assert c.header.split("\n")[-1] in text
    assert "not shown" not in text and "…" not in text


@pytest.mark.parametrize("command", [[], ["run"], ["logs"], ["show"], ["diff"], ["export"], ["report"],
                                     ["ablate"], ["verify"], ["check-policy"], ["bench"], ["bench", "verify"]])
def test_help_shows_flags_without_a_value(command):
    res = runner.invoke(app, command + ["--help"], env={"COLUMNS": "100"})
    assert res.exit_code == 0 and "--help" in res.output
    assert "<bool>" not in res.output  # --resume, --json, --help ... take no value


def test_run_help_names_the_override_form():
    assert "KEY=VALUE" in runner.invoke(app, ["run", "--help"], env={"COLUMNS": "100"}).output


# -- real runs against Coq ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> str:
    return f"model.cache_dir={tmp_path_factory.mktemp('model-cache')}"


def run_cli(out: Path, *sets: str, resume: bool = False):
    args = ["run", str(TINY), "--out", str(out), "--no-progress"] + [a for s in sets for a in ("--set", s)]
    return runner.invoke(app, args + (["--resume"] if resume else []), env={"COLUMNS": "80"})


def numbers(out: Path) -> list[dict]:
    """Every per-round number but wall-clock times."""
    def strip(x):
        if isinstance(x, dict):
            return {k: strip(v) for k, v in x.items() if k not in ("seconds", "cost")}
        return [strip(v) for v in x] if isinstance(x, list) else x
    return strip(json.loads((out / "summary.json").read_text())["rounds"])


@needs_coq
def test_extend_a_finished_run_with_more_rounds(tmp_path, cache):
    small = ("theorems.per_family=12", cache)
    out = tmp_path / "grown"
    res = run_cli(out, "rounds=0", *small)
    assert res.exit_code == 0, res.output
    assert "…" not in res.stderr and max(len(line) for line in res.stderr.splitlines()) <= 80

    res = run_cli(out, "rounds=0", *small, resume=True)
    assert res.exit_code == 0 and "all rounds 0..0 already finished; nothing to run" in res.stderr

    res = run_cli(out, "rounds=1", *small, resume=True)
    assert res.exit_code == 0, res.output
    assert f"resume: {out}: finished with rounds=0; extending to rounds=1" in res.stderr
    assert "rounds: 1" in (out / "config.yaml").read_text()
    assert (out / "rounds" / "round-0" / "adapter" / "train.json").is_file()

    # Exactly what a run asked for two rounds from the start computes.
    direct = tmp_path / "direct"
    assert run_cli(direct, "rounds=1", *small).exit_code == 0
    assert numbers(out) == numbers(direct)
    assert [r["round"] for r in numbers(out)] == [0, 1] and "admitted" in numbers(out)[0]

    # Any other change, or fewer rounds, is refused in one line that names the key.
    res = run_cli(out, "rounds=1", "sampling.k=8", *small, resume=True)
    assert res.exit_code == 2 and len(res.stderr.strip().splitlines()) == 1
    assert "sampling.k: 4 there, 8 given; only rounds may change" in res.stderr
    res = run_cli(out, "rounds=0", *small, resume=True)
    assert res.exit_code == 2 and "rounds can only grow" in res.stderr


@needs_coq
def test_a_failed_start_leaves_nothing_so_the_corrected_command_runs(tmp_path, cache):
    out = tmp_path / "run"
    res = run_cli(out, "rounds=0", "theorems.per_family=12", "theorems.families=[lin,foo]", cache)
    assert res.exit_code == 2 and not out.exists()
    res = run_cli(out, "rounds=0", "theorems.per_family=12", "theorems.families=[lin,ring]", cache)
    assert res.exit_code == 0, res.output
    assert (out / "summary.json").is_file()


@needs_coq
def test_ctrl_c_says_how_to_continue_and_that_command_finishes_the_run(tmp_path, cache):
    out = tmp_path / "run"
    cmd = [str(RATCHET), "run", str(TINY), "--out", str(out), "--no-progress", "--set", "rounds=1",
           "--set", "theorems.per_family=12", "--set", cache]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env,
                            start_new_session=True)
    try:
        deadline = time.time() + 300
        while not (out / "run.db").exists() and time.time() < deadline and proc.poll() is None:
            time.sleep(0.2)
        time.sleep(1.0)
        os.kill(proc.pid, signal.SIGINT)  # what Ctrl-C sends to the foreground process
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, err
    last = err.strip().splitlines()[-1]
    assert last.startswith("interrupted: ") and "Traceback" not in err
    again = shlex.split(last.split("continue with: ", 1)[1])
    assert again[0] == "ratchet" and again[-1] == "--resume"
    done = subprocess.run([str(RATCHET)] + again[1:], capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "resume: " in done.stderr
    assert [r["round"] for r in numbers(out)] == [0, 1]
