"""report_to: tensorboard | wandb mirrors each round's summary and the LoRA loss (loop.tracking)."""
from __future__ import annotations

import shutil

import pytest

from chat_fixtures import qwen2_chat_checkpoint
from loop.config import validate_config
from loop.tracking import flatten

coq = pytest.mark.skipif(shutil.which("coqtop") is None, reason="Coq is not installed")


def test_flatten_keeps_numeric_leaves_by_path():
    s = {"round": 1, "heldout": {"pass@1": 0.25, "entropy": None}, "lockin": {"ok": True},
         "cost": {"seconds": {"sample": 2}}, "checkpoint": "round-1"}
    assert flatten(s) == {"round": 1.0, "heldout/pass@1": 0.25, "cost/seconds/sample": 2.0}


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return qwen2_chat_checkpoint(tmp_path_factory.mktemp("qwen2") / "model")


def _cfg(checkpoint, report_to: str):
    return validate_config({"name": f"track-{report_to}", "rounds": 1, "backend": "coq", "report_to": report_to,
                            "theorems": {"families": ["lin"], "per_family": 10, "heldout_fraction": 0.3},
                            "model": {"name_or_path": str(checkpoint)}, "gate": {"kind": "none"},
                            "sampling": {"k": 2, "max_new_tokens": 8}, "eval": {"n": 2, "k": 2, "probe_size": 2},
                            "verifier": {"workers": 1}, "lora": {"r": 4, "alpha": 8, "epochs": 2, "batch_size": 4}})


@coq
def test_tensorboard_gets_round_summaries_and_every_loss_step(tmp_path, checkpoint):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from loop.run import run_experiment

    summary = run_experiment(_cfg(checkpoint, "tensorboard"), tmp_path / "run", progress=False)
    events = EventAccumulator(str(tmp_path / "run" / "tensorboard"))
    events.Reload()
    pass1 = [(e.step, e.value) for e in events.Scalars("heldout/pass@1")]
    assert pass1 == [(r["round"], pytest.approx(r["heldout"]["pass@1"])) for r in summary["rounds"]]
    losses = [e.value for e in events.Scalars("train/loss")]
    train = summary["rounds"][0]["train"]
    assert len(losses) == train["steps"] > 0
    assert losses[0] == pytest.approx(train["loss_first"]) and losses[-1] == pytest.approx(train["loss_last"])


@coq
def test_wandb_offline_run_is_written(tmp_path, checkpoint, monkeypatch):
    pytest.importorskip("wandb")
    from loop.run import run_experiment

    monkeypatch.setenv("WANDB_SILENT", "true")
    run_experiment(_cfg(checkpoint, "wandb"), tmp_path / "run", progress=False)
    runs = list((tmp_path / "run" / "wandb").glob("offline-run-*"))
    assert len(runs) == 1
    records = list(runs[0].glob("*.wandb"))
    data = records[0].read_bytes()  # protobuf records: the logged keys appear in them as strings
    assert b"heldout/pass@1" in data and b"train/loss" in data
