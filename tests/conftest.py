"""Fixtures shared by the whole suite: small real audio files written to tmp dirs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

SR = 22050


def synth(seconds: float, *, sr: int = SR, freq: float = 440.0, seed: int = 0, channels: int = 1) -> np.ndarray:
    """A tone with harmonics, a rhythmic envelope and a little noise: ``(n,)`` or ``(n, channels)``."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    tone = sum(np.sin(2 * np.pi * freq * h * t) / h for h in (1, 2, 3))
    beat = 0.6 + 0.4 * (np.sin(2 * np.pi * (1.5 + seed % 3) * t) > 0)
    y = 0.25 * tone * beat + 0.02 * rng.standard_normal(len(t))
    y = y.astype(np.float32)
    if channels > 1:
        y = np.stack([y * (1 - 0.1 * c) for c in range(channels)], axis=1)
    return y


def write_audio(path: Path, y: np.ndarray, *, sr: int = SR, **kwargs) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, y, sr, **kwargs)
    return path


@pytest.fixture
def music_dir(tmp_path: Path) -> Path:
    """Five decodable tracks (WAV, stereo WAV at 44.1 kHz, FLAC, OGG, MP3) of 12-16 s in sub-folders."""
    root = tmp_path / "music"
    write_audio(root / "A" / "one.wav", synth(12, freq=220, seed=1))
    write_audio(root / "A" / "two.wav", synth(14, sr=44100, freq=330, seed=2, channels=2), sr=44100)
    write_audio(root / "B" / "three.flac", synth(13, freq=440, seed=3))
    write_audio(root / "B" / "four.ogg", synth(15, freq=550, seed=4), format="OGG", subtype="VORBIS")
    write_audio(root / "C" / "five.mp3", synth(16, sr=44100, freq=660, seed=5), sr=44100, format="MP3")
    return root


@pytest.fixture
def bad_files(tmp_path: Path) -> dict[str, Path]:
    """One file per kind of bad input, each in its own folder of ``tmp_path / 'bad'``."""
    root = tmp_path / "bad"
    root.mkdir()
    out = {}
    out["empty"] = root / "empty.wav"
    out["empty"].write_bytes(b"")
    out["corrupt"] = root / "corrupt.flac"
    out["corrupt"].write_bytes(np.random.default_rng(0).integers(0, 256, 50_000, dtype=np.uint8).tobytes())
    full = write_audio(root / "full.wav", synth(10, seed=7))
    out["truncated"] = root / "truncated.wav"
    out["truncated"].write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    full.unlink()
    out["unsupported"] = root / "song.m4a"
    out["unsupported"].write_bytes(b"\x00\x00\x00\x20ftypM4A " + b"\x00" * 100)
    out["silent"] = write_audio(root / "silent.wav", np.zeros(SR * 10, dtype=np.float32))
    out["too_short"] = write_audio(root / "short.wav", synth(1.0, seed=8))
    return out


@pytest.fixture(autouse=True)
def _no_user_config(tmp_path_factory, monkeypatch):
    """Every test sees no ctk config file unless it writes one (the CLI reads $CTK_CONFIG)."""
    monkeypatch.setenv("CTK_CONFIG", str(tmp_path_factory.getbasetemp() / "no-ctk-config.toml"))
