"""Where training metrics go: a JSON-lines file always, TensorBoard or Weights & Biases on request.

The external loggers are optional: asking for one that is not installed is a :class:`ConfigError`
saying what to install, never a silent no-op.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from embeddings.errors import ConfigError


class MetricsLog:
    """Append metric records (dicts with a ``step`` and a ``kind``) to ``path`` and to the chosen logger."""

    def __init__(self, path: Path, *, logger: str = "none", run_dir: Path | None = None, config: dict | None = None):
        self.path = Path(path)
        self.logger = logger
        self._tb = None
        self._wandb = None
        if logger == "tensorboard":
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError as exc:
                raise ConfigError(
                    "--logger tensorboard needs the tensorboard package: pip install tensorboard"
                ) from exc
            self._tb = SummaryWriter(log_dir=str((run_dir or self.path.parent) / "tensorboard"))
        elif logger == "wandb":
            try:
                import wandb
            except ImportError as exc:
                raise ConfigError("--logger wandb needs the wandb package: pip install wandb") from exc
            self._wandb = wandb.init(project="ctk", dir=str(run_dir or self.path.parent), config=config or {})
        elif logger != "none":
            raise ConfigError(f"logger={logger!r} must be one of none, tensorboard, wandb")

    def truncate_after(self, step: int) -> None:
        """Drop records past ``step`` (a resumed run repeats nothing it logged after its checkpoint)."""
        if not self.path.exists():
            return
        kept = [line for line in self.path.read_text().splitlines() if line and json.loads(line)["step"] <= step]
        self.path.write_text("".join(line + "\n" for line in kept))

    def write(self, record: dict[str, Any]) -> None:
        clean = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in record.items()}
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(clean, sort_keys=True) + "\n")
        numbers = {k: v for k, v in clean.items() if isinstance(v, int | float) and k not in ("step", "epoch")}
        if self._tb is not None:
            for key, value in numbers.items():
                self._tb.add_scalar(f"{record['kind']}/{key}", value, record["step"])
        if self._wandb is not None:
            self._wandb.log({f"{record['kind']}/{k}": v for k, v in numbers.items()}, step=record["step"])

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()
        if self._wandb is not None:
            self._wandb.finish()


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """The records of a ``metrics.jsonl`` file."""
    if not Path(path).exists():
        return []
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line]


def plot_loss_curve(records: list[dict[str, Any]], out: Path) -> Path:
    """Train loss (raw and smoothed) and validation loss against step, and validation Recall@k, as a PNG."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    train = [r for r in records if r["kind"] == "train" and r.get("loss") is not None]
    val = [r for r in records if r["kind"] == "val" and r.get("val_loss") is not None]
    fig = Figure(figsize=(11, 4))  # no pyplot: a notebook's backend and figures stay as they are
    FigureCanvasAgg(fig)
    ax_loss, ax_recall = fig.subplots(1, 2)
    if train:
        steps = [r["step"] for r in train]
        losses = [r["loss"] for r in train]
        smooth, ema = [], losses[0]
        for value in losses:
            ema = 0.9 * ema + 0.1 * value
            smooth.append(ema)
        ax_loss.plot(steps, losses, color="tab:blue", alpha=0.3, label="train")
        ax_loss.plot(steps, smooth, color="tab:blue", label="train (smoothed)")
    if val:
        ax_loss.plot(
            [r["step"] for r in val], [r["val_loss"] for r in val], "o-", color="tab:orange", label="validation"
        )
        for key, colour in (("recall@1", "tab:green"), ("recall@10", "tab:red")):
            points = [(r["step"], r[key]) for r in val if r.get(key) is not None]
            if points:
                ax_recall.plot(*zip(*points, strict=True), "o-", color=colour, label=f"same-track {key}")
    ax_loss.set(xlabel="step", ylabel="loss", title="loss")
    ax_recall.set(xlabel="step", ylabel="recall", title="validation retrieval", ylim=(0, 1.02))
    for ax in (ax_loss, ax_recall):
        if ax.get_legend_handles_labels()[0]:
            ax.legend()
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out, dpi=100)
    return out
