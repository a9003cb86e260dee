"""CPU seconds per stage: running and reaped descendants are counted, and the report shows the shares."""
from __future__ import annotations

import subprocess
import sys
from types import SimpleNamespace

from loop.cputime import cpu_seconds
from loop.report import _cost_table

BURN = "import time\nt = time.process_time()\nwhile time.process_time() - t < {s}: pass\nprint('done', flush=True)\n" \
       "time.sleep(30)"


def test_a_running_child_counts_before_it_is_reaped_and_nothing_jumps_when_it_is():
    before = cpu_seconds()
    child = subprocess.Popen([sys.executable, "-c", BURN.format(s=0.6)], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "done"  # it has burnt 0.6 s and now sleeps, unreaped
        alive = cpu_seconds() - before
        assert alive >= 0.55, alive  # counted while it still runs (RUSAGE_CHILDREN alone would say 0)
    finally:
        child.kill()
        child.wait()
    reaped = cpu_seconds() - before
    assert alive - 0.05 <= reaped <= alive + 0.5, (alive, reaped)  # moved to RUSAGE_CHILDREN, not doubled


def test_cost_table_gives_each_stage_its_share_of_wall_and_cpu():
    rounds = [{"round": 0, "cost": {"seconds": {"sample": 0.0, "verify": 30.0, "train": 0.0, "eval": 10.0},
                                    "cpu_seconds": {"sample": 0.0, "verify": 60.0, "train": 0.0, "eval": 20.0}}},
              {"round": 1, "cost": {"seconds": {"sample": 10.0, "verify": 10.0, "train": 20.0, "eval": 10.0}}}]
    from loop.summary import load_rounds
    rows = _cost_table(SimpleNamespace(round_summaries=lambda: load_rounds(rounds)))
    assert rows[0]["verification (wall)"] == "75%" and rows[0]["evaluation (CPU)"] == "25%"
    assert rows[0]["wall s"] == "40.0" and rows[0]["CPU s"] == "80.0"
    assert rows[1]["training (wall)"] == "40%" and rows[1]["training (CPU)"] == "–"  # an older summary
    assert rows[1]["CPU s"] == "–"
