"""Experiment tracking (``report_to: none | tensorboard | wandb``): each round's summary and the
LoRA training loss, sent where researchers already look. Optional: ``pip install -e '.[tracking]'``.

The run store and summary.json stay the record; a tracker only mirrors them. Round summaries
are flattened to scalars (``heldout/pass@1``, ``cost/seconds/sample``, ...) with the round as the
step; the training loss is logged per optimizer step, counted across rounds (``train/loss``).
wandb runs offline unless ``wandb_mode: online`` (``wandb sync`` uploads an offline run later).
"""
from __future__ import annotations

from pathlib import Path


def flatten(summary: dict, prefix: str = "") -> dict[str, float]:
    """The numeric leaves of a nested summary, keyed by their path (booleans and None left out)."""
    out: dict[str, float] = {}
    for key, value in summary.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, name + "/"))
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            out[name] = float(value)
    return out


class NoTracker:
    def log_round(self, r: int, summary: dict) -> None:
        pass

    def log_loss(self, r: int, step: int, loss: float) -> None:
        pass

    def close(self) -> None:
        pass


class TensorboardTracker:
    def __init__(self, out: Path):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as e:
            raise RuntimeError("report_to: tensorboard needs the tensorboard package "
                               "(pip install -e '.[tracking]')") from e
        self.writer = SummaryWriter(log_dir=str(out / "tensorboard"))
        self.steps = 0

    def log_round(self, r: int, summary: dict) -> None:
        for key, value in flatten(summary).items():
            self.writer.add_scalar(key, value, global_step=r)
        self.writer.flush()

    def log_loss(self, r: int, step: int, loss: float) -> None:
        self.steps += 1
        self.writer.add_scalar("train/loss", loss, global_step=self.steps)
        self.writer.add_scalar(f"train/loss_round_{r}", loss, global_step=step)

    def close(self) -> None:
        self.writer.close()


class WandbTracker:
    def __init__(self, out: Path, name: str, config: dict, mode: str):
        try:
            import wandb
        except ImportError as e:
            raise RuntimeError("report_to: wandb needs the wandb package (pip install -e '.[tracking]')") from e
        self.wandb = wandb
        self.run = wandb.init(project="ratchet", name=name, dir=str(out), config=config, mode=mode,
                              reinit="create_new")
        self.run.define_metric("round")
        self.run.define_metric("train/step")
        self.run.define_metric("train/*", step_metric="train/step")
        self.steps = 0

    def log_round(self, r: int, summary: dict) -> None:
        metrics = {k: v for k, v in flatten(summary).items() if not k.startswith("train/")}
        metrics.update({f"round_train/{k[6:]}": v for k, v in flatten(summary).items() if k.startswith("train/")})
        self.run.log({**metrics, "round": r})

    def log_loss(self, r: int, step: int, loss: float) -> None:
        self.steps += 1
        self.run.log({"train/loss": loss, "train/step": self.steps, "train/round": r})

    def close(self) -> None:
        self.run.finish()


def make_tracker(kind: str, out: Path, name: str, config: dict, wandb_mode: str = "offline"):
    if kind == "none":
        return NoTracker()
    if kind == "tensorboard":
        return TensorboardTracker(out)
    if kind == "wandb":
        return WandbTracker(out, name, config, wandb_mode)
    raise ValueError(f"report_to: {kind!r} is not one of none, tensorboard, wandb")
