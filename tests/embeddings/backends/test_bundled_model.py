"""The bundled ``ctk-small`` checkpoint ships with the package and loads like any checkpoint."""

from __future__ import annotations

import numpy as np

from embeddings.backends import load_backend, model_id
from embeddings.backends.encoder import BUNDLED_DIR
from embeddings.config import AudioConfig
from embeddings.melspec import log_mel
from tests.conftest import synth


def test_bundled_weights_are_small_and_load():
    assert (BUNDLED_DIR / "model.safetensors").stat().st_size <= 10 * 1024 * 1024
    backend = load_backend("ctk-small")
    assert backend.name == "ctk-small" and backend.dim == 256
    assert backend.audio == AudioConfig()  # trained on ctk's default front end
    assert model_id(backend.describe()).startswith("ctk-small-")


def test_bundled_model_separates_different_sounds_more_than_copies():
    backend = load_backend("ctk-small")
    low = np.stack([synth(10.0, freq=110, seed=1), synth(10.0, freq=112, seed=2)])
    high = synth(10.0, freq=1760, seed=3)[None]
    vectors = backend.embed(log_mel(np.concatenate([low, high]), config=backend.audio).numpy())
    assert vectors.shape == (3, 256) and np.isfinite(vectors).all()
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    assert unit[0] @ unit[1] > unit[0] @ unit[2]
