import json
from dataclasses import replace

import pytest
import torch

from embeddings.checkpoint import BUNDLED, load_checkpoint, load_encoder, resolve_checkpoint_dir, save_checkpoint
from embeddings.config import AudioConfig, AugmentConfig, FragmentConfig, TrainConfig
from embeddings.errors import CheckpointError
from embeddings.models import ContrastiveModel
from tests.embeddings.tiny import TINY

AUDIO = AudioConfig(n_mels=16)


def _save(tmp_path, contents="full", **kwargs):
    torch.manual_seed(0)
    model = ContrastiveModel(TINY)
    module = model if contents == "full" else model.encoder
    save_checkpoint(
        tmp_path / "ckpt",
        module=module,
        name="tiny",
        contents=contents,
        encoder=TINY,
        audio=AUDIO,
        fragments=FragmentConfig(),
        training=TrainConfig(lr=1e-3),
        data={"n_tracks": 3},
        step=7,
        epoch=1,
        **kwargs,
    )
    return model, tmp_path / "ckpt"


@pytest.mark.parametrize("contents", ["full", "encoder"])
def test_round_trip_restores_configs_and_weights(tmp_path, contents):
    model, path = _save(tmp_path, contents, metrics={"val_loss": 1.5})
    ckpt = load_checkpoint(path)
    assert (ckpt.name, ckpt.contents, ckpt.step, ckpt.epoch) == ("tiny", contents, 7, 1)
    assert ckpt.encoder == TINY and ckpt.audio == AUDIO and ckpt.fragments == FragmentConfig()
    assert ckpt.training == TrainConfig(lr=1e-3) and ckpt.data == {"n_tracks": 3} and ckpt.metrics == {"val_loss": 1.5}
    encoder = load_encoder(ckpt)
    x = torch.randn(2, 16, 40)
    model.eval()
    with torch.no_grad():
        assert torch.allclose(encoder(x), model.encoder(x))


def test_files_can_be_named_directly(tmp_path):
    _, path = _save(tmp_path)
    assert resolve_checkpoint_dir(path / "model.json") == path
    assert load_checkpoint(path / "model.safetensors").step == 7


def test_the_training_config_is_typed_and_old_dicts_still_load(tmp_path):
    bundled = load_checkpoint("ctk-small")  # written as a plain dict before TrainConfig was stored typed
    assert bundled.path == BUNDLED["ctk-small"] and isinstance(bundled.training, TrainConfig)
    assert (bundled.training.positives, bundled.training.views, bundled.training.max_steps) == ("folder", 8, 600)
    assert bundled.training.augment.crop_frames == 216 and bundled.training.augment.mix_db == (-20.0, -10.0)
    _, path = _save(tmp_path)
    meta = json.loads((path / "model.json").read_text())
    assert meta["training"]["augment"]["mix_db"] == [-20.0, -10.0]  # the JSON holds plain lists
    meta["training"] = {"lr": 0.002, "augment": {"p_mix": 0.0}}  # a run from before the newer fields
    (path / "model.json").write_text(json.dumps(meta))
    assert load_checkpoint(path).training == TrainConfig(lr=0.002, augment=AugmentConfig(p_mix=0.0))
    meta["training"] = {}  # not trained by ctk train
    (path / "model.json").write_text(json.dumps(meta))
    assert load_checkpoint(path).training is None
    meta["training"] = {"lr": 0.002, "momentum": 0.9}
    (path / "model.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match=r"invalid 'training' config \(unknown TrainConfig field\(s\): momentum"):
        load_checkpoint(path)


def test_one_resolver_for_bundled_names_folders_and_files(tmp_path):
    _, path = _save(tmp_path)
    assert resolve_checkpoint_dir("ctk-small") == BUNDLED["ctk-small"]
    assert resolve_checkpoint_dir(path) == resolve_checkpoint_dir(path / "model.safetensors") == path
    with pytest.raises(CheckpointError, match=r"^--init .*nope: no such checkpoint folder"):
        resolve_checkpoint_dir(tmp_path / "nope", label="--init")


def test_missing_folder_and_files(tmp_path):
    with pytest.raises(CheckpointError, match="no such checkpoint folder"):
        load_checkpoint(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="missing model.json"):
        load_checkpoint(tmp_path / "empty")


def test_corrupt_weights_are_refused_in_one_line(tmp_path):
    _, path = _save(tmp_path)
    weights = path / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(CheckpointError, match="weights do not match model.json") as info:
        load_checkpoint(path)
    assert "\n" not in str(info.value)


def test_garbage_weights_with_matching_hash_are_refused(tmp_path):
    _, path = _save(tmp_path)
    (path / "model.safetensors").write_bytes(b"not a safetensors file at all")
    meta = json.loads((path / "model.json").read_text())
    import hashlib

    meta["weights_sha256"] = hashlib.sha256(b"not a safetensors file at all").hexdigest()
    (path / "model.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="corrupt safetensors file"):
        load_checkpoint(path)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda m: m.update(format="something"), "not a ctk encoder checkpoint"),
        (lambda m: m.update(version=99), "checkpoint version 99"),
        (lambda m: m.update(contents="half"), "contents='half'"),
        (lambda m: m["encoder"].update(n_heads=3), "invalid 'encoder' config"),
        (lambda m: m["audio"].update(sample_rate=-1), "invalid 'audio' config"),
        (lambda m: m["fragments"].update(bogus=1), "unknown FragmentConfig field"),
        (lambda m: m.pop("audio"), "'audio' is missing"),
        (lambda m: m["encoder"].update(d_model=32), "shape"),
        (lambda m: m["encoder"].update(n_layers=2), "weights do not fit the encoder config"),
    ],
)
def test_wrong_config_is_refused(tmp_path, edit, message):
    _, path = _save(tmp_path)
    meta = json.loads((path / "model.json").read_text())
    edit(meta)
    (path / "model.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(path)


def test_corrupt_json(tmp_path):
    _, path = _save(tmp_path)
    (path / "model.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="corrupt JSON"):
        load_checkpoint(path)


def test_save_refuses_unknown_contents(tmp_path):
    with pytest.raises(CheckpointError, match="contents='weights'"):
        save_checkpoint(
            tmp_path,
            module=torch.nn.Linear(1, 1),
            name="x",
            contents="weights",
            encoder=TINY,
            audio=AUDIO,
            fragments=FragmentConfig(),
        )
    assert replace(TINY) == TINY
