"""The training commands' test library: 7-second tones at 22.05 kHz, each its own pitch and rhythm."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf


def write_tones(root: Path, n_tracks: int) -> Path:
    """``t0.wav`` ... in ``root``: track ``i`` is 220 Hz x 1.4^i gated at ``i + 1`` Hz; returns ``root``."""
    sr = 22050
    t = np.arange(7 * sr) / sr
    for i in range(n_tracks):
        y = 0.3 * np.sin(2 * np.pi * 220 * 1.4**i * t) * (0.6 + 0.4 * np.sign(np.sin(2 * np.pi * (i + 1) * t)))
        sf.write(root / f"t{i}.wav", y.astype(np.float32), sr)
    return root
