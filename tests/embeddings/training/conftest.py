import numpy as np
import pytest
import soundfile as sf

from embeddings.config import AudioConfig, FragmentConfig
from tests.embeddings.tiny import TINY_TRAIN

SR = 8000


@pytest.fixture(scope="session")
def tiny_audio():
    return AudioConfig(sample_rate=SR, n_fft=256, hop_length=128, n_mels=16, fmin=20, fmax=4000)


@pytest.fixture(scope="session")
def tiny_fragments():
    return FragmentConfig(n_seconds=1.0, step=1.0, validation_probability=0.25, min_track_seconds=1.0, seed=0)


@pytest.fixture(scope="session")
def tiny_encoder():
    return TINY_TRAIN


@pytest.fixture(scope="session")
def music(tmp_path_factory):
    """Eight 6-second tracks, each a chord of its own two tones with its own rhythm, in two folders."""
    root = tmp_path_factory.mktemp("music")
    rng = np.random.default_rng(0)
    t = np.arange(6 * SR) / SR
    files = []
    for i in range(8):
        f1, f2 = 200 * 1.3**i, 330 * 1.25**i
        envelope = 0.6 + 0.4 * np.sign(np.sin(2 * np.pi * (1 + i) * t))
        y = envelope * (0.4 * np.sin(2 * np.pi * f1 * t) + 0.3 * np.sin(2 * np.pi * f2 * t))
        y = y + 0.02 * rng.standard_normal(len(t))
        folder = root / ("low" if i < 4 else "high")
        folder.mkdir(exist_ok=True)
        path = folder / f"track{i}.wav"
        sf.write(path, y.astype(np.float32), SR)
        files.append((path, f"id{i:02d}"))
    return files
