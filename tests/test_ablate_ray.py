"""`ratchet ablate --ray`: arms as Ray tasks write the same run directories and CSV as local arm processes."""
from __future__ import annotations

import csv
import os
import textwrap
from pathlib import Path

import pytest

from loop.ablate import run_ablation

pytest.importorskip("ray")
from loop.ablate_ray import RayArms  # noqa: E402  (needs ray)

ROOT = Path(__file__).resolve().parent.parent

# A run function whose summary depends on the arm (and, for one arm, fails), written where Ray's
# workers import it from: they inherit PYTHONPATH from the test, which starts the Ray instance.
FAKE_MODULE = '''
import json, os
from pathlib import Path

def run_experiment(cfg, out_dir, resume=False):
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    print("arm", cfg.name, "in pid", os.getpid(), flush=True)
    if cfg.seed == 7:
        raise RuntimeError("this arm breaks")
    rounds = [{"round": r, "heldout": {"pass@1": 0.1 * r + 0.01 * cfg.seed, "entropy": 1.0,
               "pass@k_curve": {"1": 0.1, "2": 0.2}},
               "cost": {"seconds": {"sample": 1.0}, "cpu_seconds": {"sample": 2.0}}, "seconds": 3.0}
              for r in range(cfg.rounds + 1)]
    (out / "summary.json").write_text(json.dumps({"rounds": rounds}))
'''


def read_csv(path: Path) -> tuple[list[str], list[dict]]:
    with path.open() as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames or []), list(reader)


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text))
    return path


def test_ray_arms_write_the_same_csv_as_local_processes(tmp_path, monkeypatch):
    (tmp_path / "fake_ray_run.py").write_text(FAKE_MODULE)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(tmp_path), str(ROOT), os.environ.get("PYTHONPATH", "")]))
    cfg = write(tmp_path / "abl.yaml", """
        base: {rounds: 1}
        arms: [{gate.kind: judge}, {gate.kind: none}]
        grid: {seed: [0, 7]}
    """)
    target = "fake_ray_run:run_experiment"
    local = run_ablation(cfg, tmp_path / "local", jobs=2, target=target, echo=lambda s: None)
    with RayArms("", cpus_per_arm=1) as arms:
        on_ray = run_ablation(cfg, tmp_path / "ray", jobs=2, target=target, echo=lambda s: None, runner=arms)
    assert [(o.arm, o.status) for o in on_ray.outcomes] == [(o.arm, o.status) for o in local.outcomes]
    assert sorted(o.status for o in on_ray.outcomes) == ["done", "done", "failed", "failed"]
    assert all("this arm breaks" in o.error for o in on_ray.failed)
    cols_local, rows_local = read_csv(tmp_path / "local" / "ablation.csv")
    cols_ray, rows_ray = read_csv(tmp_path / "ray" / "ablation.csv")
    assert cols_ray == cols_local and len(rows_ray) == 2 * 2
    assert rows_ray == rows_local
    log = (tmp_path / "ray" / "logs" / "gate-judge_seed-0.log").read_text()
    assert "[ray task on" in log and "arm gate-judge_seed-0 in pid" in log
    assert str(os.getpid()) not in log.split("in pid")[1].split()[0]  # it ran in a Ray worker, not here


@pytest.mark.slow
def test_ray_arms_of_the_real_loop_match_local_arms(tmp_path):
    """Two arms of the tiny config (one round), run for real both ways: the same CSV, timing columns aside."""
    cfg = write(tmp_path / "abl.yaml", f"""
        base_config: {ROOT / 'configs' / 'tiny.yaml'}
        base: {{rounds: 1}}
        arms: [{{gate.kind: judge}}, {{gate.kind: none}}]
    """)
    local = run_ablation(cfg, tmp_path / "local", jobs=1, echo=lambda s: None)
    with RayArms("") as arms:
        on_ray = run_ablation(cfg, tmp_path / "ray", jobs=1, echo=lambda s: None, runner=arms)
    assert not local.failed and not on_ray.failed, (local.outcomes, on_ray.outcomes)
    cols_local, rows_local = read_csv(tmp_path / "local" / "ablation.csv")
    cols_ray, rows_ray = read_csv(tmp_path / "ray" / "ablation.csv")
    assert cols_ray == cols_local
    timing = {c for c in cols_local if "seconds" in c or c.endswith("_per_s")}
    strip = [{k: v for k, v in r.items() if k not in timing} for r in rows_local]
    assert [{k: v for k, v in r.items() if k not in timing} for r in rows_ray] == strip
