import json
import sys

import numpy as np
import pytest

from embeddings.errors import ConfigError
from embeddings.training.metrics_log import MetricsLog, plot_loss_curve, read_metrics
from tests.pictures import assert_drawn, colour_mask


def test_records_are_json_lines_and_resume_truncates(tmp_path):
    log = MetricsLog(tmp_path / "metrics.jsonl")
    for step in (1, 2, 3):
        log.write({"kind": "train", "step": step, "loss": 1.0 / step})
    log.write({"kind": "val", "step": 3, "val_loss": float("nan"), "recall@1": 0.5})
    records = read_metrics(tmp_path / "metrics.jsonl")
    assert [r["step"] for r in records] == [1, 2, 3, 3]
    assert records[-1]["val_loss"] is None  # NaN is not JSON: stored as null
    log.truncate_after(2)
    assert [json.loads(line)["step"] for line in (tmp_path / "metrics.jsonl").read_text().splitlines()] == [1, 2]


def test_loss_curve_is_a_png(tmp_path):
    records = [{"kind": "train", "step": s, "loss": 3 - 0.1 * s} for s in range(1, 20)]
    records += [{"kind": "val", "step": 10, "val_loss": 2.0, "recall@1": 0.3, "recall@10": 0.8}]
    image = assert_drawn(plot_loss_curve(records, tmp_path / "curve.png"), size=(400, 1100),
                         colours=("tab:blue", "tab:orange", "tab:green", "tab:red"), min_share=1e-4)
    half = image.shape[1] // 2
    for colour, panel in (("tab:blue", "left"), ("tab:orange", "left"), ("tab:green", "right"), ("tab:red", "right")):
        columns = np.flatnonzero(colour_mask(image, colour).any(axis=0))  # losses left, recalls right
        assert (columns < half).all() if panel == "left" else (columns >= half).all(), colour


@pytest.mark.parametrize(("logger", "module"), [("tensorboard", "torch.utils.tensorboard"), ("wandb", "wandb")])
def test_a_missing_logger_says_what_to_install(tmp_path, monkeypatch, logger, module):
    monkeypatch.setitem(sys.modules, module, None)  # makes `import` fail as if not installed
    with pytest.raises(ConfigError, match=f"pip install {logger}"):
        MetricsLog(tmp_path / "m.jsonl", logger=logger)


def test_unknown_logger(tmp_path):
    with pytest.raises(ConfigError, match="logger='mlflow'"):
        MetricsLog(tmp_path / "m.jsonl", logger="mlflow")
