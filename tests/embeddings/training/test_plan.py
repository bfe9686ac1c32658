"""The training commands' options -> one run's configs (no training here: checkpoints are written directly)."""

import pytest
import torch

from embeddings.checkpoint import save_checkpoint
from embeddings.config import AudioConfig, FragmentConfig, TrainConfig
from embeddings.errors import CheckpointError, ConfigError
from embeddings.models import ContrastiveModel
from embeddings.training.plan import crop_frames, plan_finetune, plan_new_run, plan_resume
from embeddings.training.train import LAST, STATE
from tests.embeddings.tiny import TINY

AUDIO = AudioConfig(n_mels=16)


def _run_folder(path, training=None, data=None):
    """A folder laid out like a ``ctk train`` run: the exported encoder and ``last/`` with its state file."""
    model = ContrastiveModel(TINY)
    fields = dict(name="tiny", encoder=TINY, audio=AUDIO, fragments=FragmentConfig(n_seconds=4.0, step=4.0),
                  training=training or TrainConfig(epochs=5, lr=2e-3), data=data or {})
    save_checkpoint(path, module=model.encoder, contents="encoder", **fields)
    save_checkpoint(path / LAST, module=model, contents="full", **fields)
    torch.save({}, path / LAST / STATE)
    return path


def test_a_new_run_sizes_the_encoder_from_the_fragment_length(tmp_path):
    plan = plan_new_run(tmp_path / "run", music_dir=tmp_path, seconds=2.0, crop_seconds=1.0,
                        encoder={"d_model": 32, "n_heads": 2}, training={"loss": "barlow", "epochs": 3})
    assert plan.fragments == FragmentConfig(n_seconds=2.0, step=2.0)
    assert (plan.encoder.n_frames, plan.encoder.n_mels, plan.encoder.d_model) == (87, 128, 32)  # 1 + 44100 // 512
    assert plan.config == TrainConfig(loss="barlow", epochs=3, augment=plan.config.augment)
    assert plan.config.augment.crop_frames == crop_frames(1.0, 2.0, plan.audio) == 44
    assert plan.kwargs()["source_dir"] == tmp_path.resolve() and not plan.resume and plan.init_from is None
    with pytest.raises(ConfigError, match="needs --playlists"):
        plan_new_run(tmp_path / "run", music_dir=tmp_path, training={"positives": "playlist"})
    with pytest.raises(ConfigError, match=r"--crop-seconds 3.0: must be in \(0, --seconds 2.0\]"):
        plan_new_run(tmp_path / "run", music_dir=tmp_path, seconds=2.0, crop_seconds=3.0)


def test_init_takes_the_base_models_configs_and_resume_the_saved_ones(tmp_path):
    base = _run_folder(tmp_path / "base", data={"music_dir": str(tmp_path)})
    plan = plan_new_run(tmp_path / "new", music_dir=tmp_path, init=base / "model.json", encoder={"d_model": 64})
    assert plan.encoder == TINY and plan.audio == AUDIO and plan.fragments.n_seconds == 4.0  # flags ignored
    assert plan.init_from == base
    with pytest.raises(ConfigError, match=f"continue it with --resume {base}"):
        plan_new_run(base, music_dir=tmp_path)
    with pytest.raises(CheckpointError, match="^--init .*nope: no such checkpoint folder"):
        plan_new_run(tmp_path / "new", music_dir=tmp_path, init=tmp_path / "nope")
    resumed = plan_resume(base, epochs=9, max_steps=None)
    assert resumed.resume and resumed.music_dir == tmp_path.resolve()  # the folder the run recorded
    assert resumed.config == TrainConfig(epochs=9, lr=2e-3) and resumed.encoder == TINY


def test_finetune_keeps_the_base_recipe_and_adds_the_kmeans_term(tmp_path):
    base = _run_folder(tmp_path / "base", training=TrainConfig(batch_size=16, views=4, lr=2e-3))
    plan = plan_finetune(tmp_path / "km", model=base, k=5, weight=0.3, epochs=2, crop_seconds=2.0,
                         overrides={"seed": 7})
    config = plan.config
    assert (config.batch_size, config.views, config.seed) == (16, 4, 7)  # the base run's, plus overrides
    assert (config.kmeans_k, config.kmeans_weight, config.epochs, config.lr) == (5, 0.3, 2, 1e-4)
    assert config.augment.crop_frames == 87 and plan.init_from == base and plan.encoder == TINY
    with pytest.raises(ConfigError, match="plain training run"):
        plan_finetune(base, model=base, k=5, resume=True)
    with pytest.raises(ConfigError, match="holds no fine-tuning run"):
        plan_finetune(tmp_path / "km", model=base, k=5, resume=True)
    with pytest.raises(CheckpointError, match="^--model nowhere: no such checkpoint folder"):
        plan_finetune(tmp_path / "km", model="nowhere", k=5)
