import json

import numpy as np
import pytest
import torch

from embeddings.checkpoint import load_checkpoint, load_encoder
from embeddings.errors import ConfigError
from embeddings.training import TrainConfig, train
from embeddings.training.finetune import finetune, finetune_config
from tests.embeddings.tiny import quick_train_config


@pytest.fixture(scope="module")
def base_model(music, tmp_path_factory, tiny_encoder, tiny_audio, tiny_fragments):
    """A tiny encoder trained contrastively for a few epochs: the model to fine-tune."""
    out = tmp_path_factory.mktemp("base") / "base"
    train(
        music,
        out_dir=out,
        encoder=tiny_encoder,
        config=quick_train_config(epochs=4, lr=3e-3),
        audio=tiny_audio,
        fragments=tiny_fragments,
    )
    return out


def _records(out, kind):
    return [r for r in map(json.loads, (out / "metrics.jsonl").read_text().splitlines()) if r["kind"] == kind]


def _finetune(music, base_model, out, **kwargs):
    return finetune(music, model_dir=base_model, out_dir=out, **{"k": 2, "weight": 1.0, "lr": 2e-3, **kwargs})


def test_finetune_lowers_kmeans_term_without_collapse(music, base_model, tmp_path):
    result = _finetune(music, base_model, tmp_path / "km", epochs=4)
    assert result.status == "finished" and result.data["init_from"] == str(base_model) and result.data["init_head"]
    fits = _records(tmp_path / "km", "kmeans")
    assert [f["epoch"] for f in fits] == [0, 1, 2, 3, 4] and fits[-1]["final"]
    before, after = result.collapse["before"], result.collapse["after"]
    assert before == {k: v for k, v in fits[0].items() if k in before}
    # the k-means objective of the training embeddings falls clearly from the base model's
    assert after["kmeans_inertia_mean"] < 0.7 * before["kmeans_inertia_mean"]
    train_records = _records(tmp_path / "km", "train")
    assert all(np.isfinite([r["contrastive_loss"] for r in train_records]))
    assert all(r["loss"] == pytest.approx(r["contrastive_loss"] + r["kmeans_loss"], rel=1e-5) for r in train_records)
    # no collapse: the embeddings keep spanning several directions and stay spread on the sphere
    assert after["effective_rank"] > 2.0 and after["effective_rank"] > 0.3 * before["effective_rank"]
    assert after["uniformity"] < -0.1
    assert sum(after["cluster_sizes"]) == after["n_fragments"] and min(after["cluster_sizes"]) > 0
    # the exported model starts from the base weights and differs from them
    tuned = load_checkpoint(tmp_path / "km")
    assert tuned.step == result.step  # the final model is exported (validation losses span different centroids)
    assert tuned.training.kmeans_k == 2 and tuned.training.kmeans_weight == 1.0
    a, b = load_encoder(load_checkpoint(base_model)).state_dict(), load_encoder(tuned).state_dict()
    assert any(not torch.allclose(a[key], b[key]) for key in a)


def test_kmeans_term_pulls_harder_than_contrastive_alone(music, base_model, tmp_path):
    """Same run with a negligible weight: the k-means objective ends higher than with weight 1."""
    strong = _finetune(music, base_model, tmp_path / "strong", epochs=3)
    weak = _finetune(music, base_model, tmp_path / "weak", epochs=3, weight=1e-6)
    assert strong.collapse["after"]["kmeans_inertia_mean"] < weak.collapse["after"]["kmeans_inertia_mean"]


def test_refuses_kmeans_term_alone_and_bad_parameters(music, base_model, tmp_path):
    with pytest.raises(ConfigError, match="k-means term alone collapses"):
        TrainConfig(kmeans_weight=0.5, contrastive_weight=0.0)
    with pytest.raises(ConfigError, match="contrastive_weight=0"):
        TrainConfig(contrastive_weight=0.0)
    with pytest.raises(ConfigError, match="kmeans_k=1"):
        _finetune(music, base_model, tmp_path / "x", k=1)
    with pytest.raises(ConfigError, match="weight=0"):
        _finetune(music, base_model, tmp_path / "x", weight=0.0)
    with pytest.raises(ConfigError, match="base model's folder"):
        _finetune(music, base_model, base_model)
    assert not (tmp_path / "x").exists()
    assert finetune_config(None, k=3, weight=0.2, epochs=2, lr=1e-4).kmeans_k == 3
    short = finetune_config(None, k=3, weight=0.2, epochs=2, lr=1e-4, cluster_loss="dec", overrides={"max_steps": 5})
    assert (short.max_steps, short.cluster_loss, short.epochs) == (5, "dec", 2)  # overrides win, e.g. a short run
    with pytest.raises(ConfigError, match="cluster_loss='soft'"):
        finetune_config(None, k=3, weight=0.2, epochs=2, lr=1e-4, cluster_loss="soft")


def test_interrupted_finetune_resumes_like_an_uninterrupted_one(music, base_model, tmp_path):
    full = _finetune(music, base_model, tmp_path / "full", epochs=2)

    def interrupt(event):
        if event.get("event") == "step" and event["step"] == 5:
            raise KeyboardInterrupt

    part = _finetune(music, base_model, tmp_path / "part", epochs=2, on_progress=interrupt)
    assert part.status == "interrupted" and part.collapse is None
    with pytest.raises(ConfigError, match="already holds a training run"):
        _finetune(music, base_model, tmp_path / "part", epochs=2)
    resumed = finetune(music, model_dir=base_model, out_dir=tmp_path / "part", k=2, epochs=2, resume=True)
    assert resumed.status == "finished" and resumed.step == full.step
    losses = [[r["loss"] for r in _records(tmp_path / d, "train")] for d in ("full", "part")]
    assert losses[1] == pytest.approx(losses[0], rel=1e-4)
    for when in ("before", "after"):
        for key in ("effective_rank", "uniformity", "kmeans_inertia_mean"):
            assert resumed.collapse[when][key] == pytest.approx(full.collapse[when][key], rel=1e-4), (when, key)


def test_plain_run_cannot_be_resumed_as_finetune(music, base_model, tmp_path):
    with pytest.raises(ConfigError, match="plain training run"):
        finetune(music, model_dir=base_model, out_dir=base_model, k=2, resume=True)


def test_dec_term_tightens_clusters_more_than_contrastive_alone(music, base_model, tmp_path):
    """The soft DEC term, same run as the control above: the training fragments end nearer their centroids."""
    dec = _finetune(music, base_model, tmp_path / "dec", epochs=3, cluster_loss="dec")
    weak = _finetune(music, base_model, tmp_path / "weak", epochs=3, weight=1e-6)
    assert load_checkpoint(tmp_path / "dec").training.cluster_loss == "dec"
    after, control = dec.collapse["after"], weak.collapse["after"]
    assert after["kmeans_inertia_mean"] < control["kmeans_inertia_mean"]
    assert after["effective_rank"] > 0.3 * dec.collapse["before"]["effective_rank"]  # no collapse
    kl = [r["kmeans_loss"] for r in _records(tmp_path / "dec", "train")]
    assert kl and all(0 <= v < 1 for v in kl)  # a KL between soft assignments
