from dataclasses import replace

import numpy as np
import pytest
import torch

from embeddings.backends import load_backend, model_id
from embeddings.backends.base import EmbeddingBackend
from embeddings.backends.encoder import EncoderBackend
from embeddings.checkpoint import save_checkpoint
from embeddings.config import AudioConfig, FragmentConfig
from embeddings.errors import CheckpointError, ConfigError
from embeddings.models import ContrastiveModel
from tests.embeddings.tiny import TINY

AUDIO = AudioConfig(sample_rate=8000, n_fft=256, hop_length=128, n_mels=16, fmax=4000)


@pytest.fixture
def checkpoint(tmp_path):
    torch.manual_seed(0)
    model = ContrastiveModel(TINY).eval()
    save_checkpoint(
        tmp_path / "enc",
        module=model.encoder,
        name="tiny",
        contents="encoder",
        encoder=TINY,
        audio=AUDIO,
        fragments=FragmentConfig(),
    )
    return tmp_path / "enc", model


def test_embeds_with_the_encoder_before_the_head(checkpoint):
    path, model = checkpoint
    backend = EncoderBackend.from_checkpoint(path, batch_size=3)
    assert isinstance(backend, EmbeddingBackend)
    assert (backend.name, backend.dim, backend.audio) == ("tiny", 12, AUDIO)
    x = np.random.default_rng(0).normal(size=(7, 16, 40)).astype(np.float32)
    out = backend.embed(x)
    assert out.shape == (7, 12) and out.dtype == np.float32
    with torch.no_grad():
        assert np.allclose(out, model.encoder(torch.from_numpy(x)).numpy(), atol=1e-5)


def test_describe_names_the_weights_and_changes_with_them(checkpoint, tmp_path):
    path, _ = checkpoint
    a = EncoderBackend.from_checkpoint(path).describe()
    assert a["name"] == "tiny" and len(a["weights"]) == 64 and a["audio"]["sample_rate"] == 8000
    torch.manual_seed(1)
    other = ContrastiveModel(TINY)
    save_checkpoint(
        tmp_path / "other",
        module=other.encoder,
        name="tiny",
        contents="encoder",
        encoder=TINY,
        audio=AUDIO,
        fragments=FragmentConfig(),
    )
    b = load_backend(str(tmp_path / "other")).describe()
    assert model_id(a) != model_id(b) and model_id(a).startswith("tiny-")


def test_refuses_wrong_sample_rate_naming_both(checkpoint):
    backend = EncoderBackend.from_checkpoint(checkpoint[0])
    with pytest.raises(ConfigError, match=r"sr=44100 Hz.*sr=8000 Hz"):
        backend.embed_audio(np.zeros((1, 8000), dtype=np.float32), sr=44100)
    y = np.sin(np.arange(8000) / 8000 * 2 * np.pi * 440).astype(np.float32)
    assert backend.embed_audio(y, sr=8000).shape == (1, 12)


def test_refuses_wrong_mels(checkpoint):
    with pytest.raises(ConfigError, match="n_mels=16"):
        EncoderBackend.from_checkpoint(checkpoint[0]).embed(np.zeros((2, 128, 40), dtype=np.float32))


def test_full_training_checkpoints_work_too(tmp_path):
    model = ContrastiveModel(TINY).eval()
    save_checkpoint(
        tmp_path / "full",
        module=model,
        name="run",
        contents="full",
        encoder=TINY,
        audio=AUDIO,
        fragments=FragmentConfig(),
    )
    x = np.zeros((1, 16, 32), dtype=np.float32)
    x[0, 3] = 10
    with torch.no_grad():
        expected = model.encoder(torch.from_numpy(x)).numpy()
    assert np.allclose(EncoderBackend.from_checkpoint(tmp_path / "full").embed(x), expected, atol=1e-5)


def test_unknown_or_corrupt_model(tmp_path):
    with pytest.raises(CheckpointError, match="unknown model"):
        load_backend(str(tmp_path / "missing"))
    (tmp_path / "junk").mkdir()
    with pytest.raises(CheckpointError, match="not a ctk checkpoint"):
        load_backend(str(tmp_path / "junk"))


def test_fields_added_later_enter_the_description_only_when_set(checkpoint, tmp_path):
    described = EncoderBackend.from_checkpoint(checkpoint[0]).describe()["config"]
    assert "input_norm" not in described  # a library embedded before the field existed keeps its model id
    fixed = replace(TINY, input_norm="fixed")
    torch.manual_seed(0)
    save_checkpoint(tmp_path / "fixed", module=ContrastiveModel(fixed).encoder, name="tiny", contents="encoder",
                    encoder=fixed, audio=AUDIO, fragments=FragmentConfig())
    assert EncoderBackend.from_checkpoint(tmp_path / "fixed").describe()["config"]["input_norm"] == "fixed"
