import json

import numpy as np
import pytest
import torch

from embeddings.augment import AugmentConfig
from embeddings.checkpoint import load_checkpoint, load_encoder
from embeddings.errors import CheckpointError, ConfigError
from embeddings.training import train
from embeddings.training.train import lr_factor
from tests.embeddings.tiny import quick_train_config


def _config(**kwargs):
    return quick_train_config(**{"epochs": 2, "lr": 3e-3, "cache_tracks": 4, **kwargs})


def _run(music, out, tiny_encoder, tiny_audio, tiny_fragments, **kwargs):
    config = kwargs.pop("config", None) or _config()
    return train(
        music,
        out_dir=out,
        encoder=tiny_encoder,
        config=config,
        audio=tiny_audio,
        fragments=tiny_fragments,
        **kwargs,
    )


@pytest.fixture
def tagged(monkeypatch):
    """The fixture's tracks carry genre tags: "low; tone" in the low folder, "high; tone" in the other."""
    import embeddings.training.data as data

    real = data.read_tags

    def tags(path):
        out = real(path)
        out["genre"] = "low; tone" if "low" in str(path) else "high; tone"
        return out

    monkeypatch.setattr(data, "read_tags", tags)


def _train_losses(out):
    return [
        r["loss"] for r in map(json.loads, (out / "metrics.jsonl").read_text().splitlines()) if r["kind"] == "train"
    ]


def test_lr_schedule_warms_up_then_decays():
    f = [lr_factor(s, warmup=4, total=20, min_ratio=0.1, cosine=True) for s in range(21)]
    assert f[:4] == [0.25, 0.5, 0.75, 1.0]
    assert f[4] == pytest.approx(1.0) and f[20] == pytest.approx(0.1)
    assert all(a >= b for a, b in zip(f[3:], f[4:], strict=False))
    assert lr_factor(10, warmup=4, total=20, min_ratio=0.1, cosine=False) == 1.0


def test_training_learns_and_writes_everything(music, tmp_path, tiny_encoder, tiny_audio, tiny_fragments):
    config = _config(epochs=6)
    result = _run(music, tmp_path / "a", tiny_encoder, tiny_audio, tiny_fragments, config=config)
    assert result.status == "finished" and result.step > 10 and result.fragments_per_s > 0
    losses = _train_losses(tmp_path / "a")
    assert all(np.isfinite(losses))
    assert np.mean(losses[-4:]) < 0.8 * np.mean(losses[:4])  # easy task: the loss clearly falls
    for name in (
        "model.json",
        "model.safetensors",
        "metrics.jsonl",
        "loss_curve.png",
        "last/model.json",
        "last/train_state.pt",
    ):
        assert (tmp_path / "a" / name).is_file(), name
    exported = load_checkpoint(tmp_path / "a")
    assert exported.contents == "encoder" and exported.data["n_tracks"] == 8
    assert exported.metrics["val_loss"] == pytest.approx(result.best["val_loss"])
    assert result.best["recall@5"] > 0.5  # held-out fragments find their own track
    assert load_checkpoint(tmp_path / "a" / "last").step == result.step


def test_interrupt_then_resume_continues_like_an_uninterrupted_run(  # and: same seed, same losses
    music, tmp_path, tiny_encoder, tiny_audio, tiny_fragments
):
    config = _config(epochs=2, schedule="plateau", augment=AugmentConfig(p_mix=0.5))
    full = _run(music, tmp_path / "full", tiny_encoder, tiny_audio, tiny_fragments, config=config)

    def interrupt(event):
        if event.get("event") == "step" and event["step"] == 3:
            raise KeyboardInterrupt

    part = _run(
        music, tmp_path / "part", tiny_encoder, tiny_audio, tiny_fragments, config=config, on_progress=interrupt
    )
    assert part.status == "interrupted" and part.step == 3
    assert load_checkpoint(tmp_path / "part" / "last").step == 3
    resumed = _run(music, tmp_path / "part", tiny_encoder, tiny_audio, tiny_fragments, config=config, resume=True)
    assert resumed.status == "finished" and resumed.step == full.step
    assert _train_losses(tmp_path / "part") == pytest.approx(_train_losses(tmp_path / "full"), rel=1e-5)
    a = load_encoder(load_checkpoint(tmp_path / "full" / "last")).state_dict()
    b = load_encoder(load_checkpoint(tmp_path / "part" / "last")).state_dict()
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)


def test_resume_refuses_corrupt_or_changed_runs(music, tmp_path, tiny_encoder, tiny_audio, tiny_fragments):
    config = _config(max_steps=2)
    _run(music, tmp_path / "run", tiny_encoder, tiny_audio, tiny_fragments, config=config)
    with pytest.raises(ConfigError, match="cannot change lr"):
        _run(
            music,
            tmp_path / "run",
            tiny_encoder,
            tiny_audio,
            tiny_fragments,
            config=_config(max_steps=4, lr=1.0),
            resume=True,
        )
    with pytest.raises(ConfigError, match="training tracks changed"):
        _run(
            music[:6],
            tmp_path / "run",
            tiny_encoder,
            tiny_audio,
            tiny_fragments,
            config=_config(max_steps=4),
            resume=True,
        )
    weights = tmp_path / "run" / "last" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-10])
    with pytest.raises(CheckpointError, match="weights do not match"):
        _run(
            music, tmp_path / "run", tiny_encoder, tiny_audio, tiny_fragments, config=_config(max_steps=4), resume=True
        )
    with pytest.raises(CheckpointError, match="nothing to resume"):
        _run(music, tmp_path / "new", tiny_encoder, tiny_audio, tiny_fragments, config=config, resume=True)


@pytest.mark.parametrize("loss", ["barlow", "skipgram", "soft-infonce"])
def test_every_loss_learns_the_toy_set(music, tmp_path, tiny_encoder, tiny_audio, tiny_fragments, tagged, loss):
    """Eight tracks of distinct chords and rhythms: whatever the loss, telling their fragments apart is
    learnable, so the training loss falls clearly within 16 steps (soft-infonce weighs by shared tags)."""
    config = _config(epochs=100, max_steps=16, loss=loss)
    result = _run(music, tmp_path / loss, tiny_encoder, tiny_audio, tiny_fragments, config=config)
    losses = _train_losses(tmp_path / loss)
    assert result.step == 16 and len(losses) == 16 and all(np.isfinite(losses))
    assert np.mean(losses[-4:]) < 0.5 * np.mean(losses[:4]), losses


@pytest.mark.parametrize("positives", ["tag", "folder"])
def test_tag_and_folder_positives_train(music, tmp_path, tiny_encoder, tiny_audio, tiny_fragments, tagged, positives):
    steps = 32 if positives == "tag" else 3
    config = _config(max_steps=steps, epochs=100, positives=positives, tag_weight=0.5 if positives == "tag" else 0.0)
    result = _run(music, tmp_path / positives, tiny_encoder, tiny_audio, tiny_fragments, config=config)
    assert result.step == steps
    assert all(np.isfinite(_train_losses(tmp_path / positives)))
    if positives == "tag":
        assert result.data["positives"]["n_groups"] == 3 and result.data["tags"] == ["tone", "high", "low"]
        # every track is "tone" and one of "high"/"low" (told apart by pitch): a constant guess gets at most 2/3
        # of the tag bits right and a 50/50 guess has BCE ln 2; the tag head learns past both (measured at 32
        # steps: Hamming 0.72, BCE 0.65; at 3 steps 0.31 and 0.74)
        assert result.best["tag_hamming_accuracy"] > 2 / 3
        assert result.best["tag_bce"] < np.log(2)
    if positives == "folder":  # the fixture's two folders, four tracks each
        assert result.data["positives"] == {
            "kind": "folder", "n_groups": 2, "tracks_covered": 8, "median_group_size": 4.0
        }


def test_too_few_tracks(music, tmp_path, tiny_encoder, tiny_audio, tiny_fragments):
    with pytest.raises(ConfigError, match="at least 2 usable tracks"):
        _run(music[:1], tmp_path / "x", tiny_encoder, tiny_audio, tiny_fragments)


def test_ema_exports_the_moving_average_and_resumes_with_it(music, tmp_path, tiny_encoder, tiny_audio, tiny_fragments):
    def weights(path):
        return load_encoder(load_checkpoint(path)).state_dict()

    # the average starts as a copy of the weights after step 1; with a decay near 1 it barely moves,
    # so the exported encoder of a 4-step run is the raw encoder after step 1
    frozen = _config(max_steps=4, ema_decay=0.999999)
    _run(music, tmp_path / "ema", tiny_encoder, tiny_audio, tiny_fragments, config=frozen)
    _run(music, tmp_path / "one", tiny_encoder, tiny_audio, tiny_fragments, config=_config(max_steps=1))
    ema, one, raw = weights(tmp_path / "ema"), weights(tmp_path / "one" / "last"), weights(tmp_path / "ema" / "last")
    assert all(torch.allclose(ema[k], one[k], atol=1e-5) for k in ema)
    assert max(float((raw[k] - ema[k]).abs().max()) for k in ema) > 1e-3  # the raw weights went on training
    # interrupted and resumed, the average is the uninterrupted run's
    config = _config(max_steps=6, ema_decay=0.5)
    _run(music, tmp_path / "full", tiny_encoder, tiny_audio, tiny_fragments, config=config)

    def interrupt(event):
        if event.get("event") == "step" and event["step"] == 4:
            raise KeyboardInterrupt

    _run(music, tmp_path / "part", tiny_encoder, tiny_audio, tiny_fragments, config=config, on_progress=interrupt)
    _run(music, tmp_path / "part", tiny_encoder, tiny_audio, tiny_fragments, config=config, resume=True)
    a, b = weights(tmp_path / "full"), weights(tmp_path / "part")
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)
    with pytest.raises(ConfigError, match="ema_decay"):
        _config(ema_decay=1.0)
