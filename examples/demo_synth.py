"""Numpy-only synthesis of the demo library's six styles.

Instruments are small functions returning one note or one drum hit as a float32 array; a style
renders a whole track from a :class:`TrackSpec` (key, tempo, duration, artist parameters, seed).
Everything is driven by the spec's seed, so the same spec always gives the same samples.

=============  ======  ===================================================================
style          tempo   sound
=============  ======  ===================================================================
Ambient        56-76   detuned-saw pads on slow minor chords, long reverb, no drums
Electronic     120-132 four-on-the-floor kick, claps, hats, off-beat saw bass, minor stabs
Acoustic       84-116  Karplus-Strong plucked arpeggios on major progressions, light shaker
Ballad         60-80   sparse piano (inharmonic partials): left-hand roots, slow melody
Rock           132-168 distorted power chords in eighths, dense kick/snare/hat, crashes
Jazz           110-190 swung ride, walking bass, FM electric-piano seventh-chord comping
=============  ======  ===================================================================
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.fft

MAJOR = (0, 2, 4, 5, 7, 9, 11)
MINOR = (0, 2, 3, 5, 7, 8, 10)


@dataclass(frozen=True)
class TrackSpec:
    """What to render: style, key (root pitch class 0-11 and mode), tempo, length, artist parameters."""

    style: str
    root: int
    mode: str
    tempo: float
    duration_s: float
    seed: int
    params: dict[str, Any] = field(default_factory=dict)


def midi_hz(midi: float) -> float:
    return 440.0 * 2.0 ** ((midi - 69) / 12)


def chord(root: int, mode: str, degree: int, *, octave: int = 3, size: int = 3) -> list[int]:
    """MIDI notes of the diatonic chord on ``degree`` (0-based) stacked in thirds."""
    scale = MAJOR if mode == "major" else MINOR
    notes = []
    for k in range(size):
        step = degree + 2 * k
        notes.append(12 * (octave + 1) + root + scale[step % 7] + 12 * (step // 7))
    return notes


def scale_note(root: int, mode: str, step: int, *, octave: int) -> int:
    scale = MAJOR if mode == "major" else MINOR
    return 12 * (octave + 1) + root + scale[step % 7] + 12 * (step // 7)


# ----------------------------------------------------------------------------- building blocks


def _t(n: int, sr: int) -> np.ndarray:
    return np.arange(n, dtype=np.float32) / np.float32(sr)


def envelope(n: int, *, sr: int, attack: float, release: float) -> np.ndarray:
    """Linear attack, flat sustain, linear release, ``(n,)``."""
    env = np.ones(n, dtype=np.float32)
    a, r = min(n, max(1, int(attack * sr))), min(n, max(1, int(release * sr)))
    env[:a] *= np.linspace(0, 1, a, dtype=np.float32)
    env[n - r:] *= np.linspace(1, 0, r, dtype=np.float32)
    return env


def spectral_filter(y: np.ndarray, *, sr: int, low: float | None = None, high: float | None = None,
                    order: int = 2) -> np.ndarray:
    """Zero-phase Butterworth-shaped low-pass (``high``) and/or high-pass (``low``) via one FFT
    (zero-padded to a fast length, so the filter also wraps a little of the end into the padding)."""
    n_fft = scipy.fft.next_fast_len(len(y), real=True)
    spec = scipy.fft.rfft(y, n_fft)
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sr).astype(np.float32)
    gain = np.ones_like(freqs)
    if high is not None:
        gain /= np.sqrt(1 + (freqs / high) ** (2 * order))
    if low is not None:
        gain /= np.sqrt(1 + (low / np.maximum(freqs, 1.0)) ** (2 * order))
    return scipy.fft.irfft(spec * gain, n_fft)[: len(y)].astype(np.float32)


def reverb(y: np.ndarray, *, sr: int, seconds: float, wet: float, rng: np.random.Generator) -> np.ndarray:
    """Convolution with exponentially decaying noise (``seconds`` = T60), mixed ``wet`` : ``1 - wet``."""
    n_ir = int(seconds * sr)
    ir = rng.standard_normal(n_ir).astype(np.float32) * np.exp(-6.9 * _t(n_ir, sr) / seconds)
    ir = spectral_filter(ir, sr=sr, high=4000.0)
    ir /= np.sqrt(np.sum(ir**2))
    n_fft = scipy.fft.next_fast_len(len(y) + n_ir, real=True)
    tail = scipy.fft.irfft(scipy.fft.rfft(y, n_fft) * scipy.fft.rfft(ir, n_fft), n_fft)[: len(y)]
    return ((1 - wet) * y + wet * tail).astype(np.float32)


def place(buf: np.ndarray, sound: np.ndarray, at_s: float, *, sr: int, gain: float = 1.0) -> None:
    """Add ``sound`` into ``buf`` starting at ``at_s`` seconds, cut to the extent of ``buf``."""
    start = int(round(at_s * sr))
    head = max(0, -start)  # a sound that starts before the track is cut at the start
    start += head
    end = min(len(buf), start + len(sound) - head)
    if end > start:
        buf[start:end] += gain * sound[head : head + end - start]


class NoteCache:
    """``cache(instrument, *args, **kwargs)``: renders each distinct call once per track."""

    def __init__(self) -> None:
        self._cache: dict[tuple, np.ndarray] = {}

    def __call__(self, instrument: Callable[..., np.ndarray], *args: Any, **kwargs: Any) -> np.ndarray:
        key = (instrument, args, tuple(sorted(kwargs.items())))
        if key not in self._cache:
            self._cache[key] = instrument(*args, **kwargs)
        return self._cache[key]


# ----------------------------------------------------------------------------- instruments


def saw(freq: float, n: int, *, sr: int, phase: float = 0.0) -> np.ndarray:
    return (2.0 * ((freq * _t(n, sr) + phase) % 1.0) - 1.0).astype(np.float32)


def power_chord(midi: int, seconds: float, *, sr: int) -> np.ndarray:
    """Root, fifth and octave saws (clean: distort the whole guitar stem afterwards)."""
    n = int(seconds * sr)
    return sum(saw(midi_hz(m), n, sr=sr, phase=0.1 * i) for i, m in enumerate((midi, midi + 7, midi + 12)))


def saw_bass(freq: float, seconds: float, *, sr: int, decay: float | None = None) -> np.ndarray:
    n = int(seconds * sr)
    tone = saw(freq, n, sr=sr) * envelope(n, sr=sr, attack=0.003, release=0.02)
    return tone * np.exp(-_t(n, sr) / decay) if decay else tone


def pad_note(freq: float, seconds: float, *, sr: int, detune_cents: float, attack: float) -> np.ndarray:
    n = int(seconds * sr)
    voices = sum(saw(freq * 2 ** (c / 1200), n, sr=sr, phase=0.3 * i)
                 for i, c in enumerate((-detune_cents, 0.0, detune_cents)))
    return voices * envelope(n, sr=sr, attack=attack, release=attack) / 3


def pluck(freq: float, seconds: float, *, sr: int, rng: np.random.Generator, brightness: float,
          decay: float = 0.996) -> np.ndarray:
    """Karplus-Strong string: ``y[n] = decay * (y[n-N] + y[n-N-1]) / 2`` from a noise burst.

    Vectorised one period at a time: every sample of a period only depends on the period before.
    """
    n, period = int(seconds * sr), max(2, int(round(sr / freq)))
    burst = rng.uniform(-1, 1, period).astype(np.float32)
    for _ in range(int(round((1 - brightness) * 6))):  # darker: smooth the excitation
        burst = 0.5 * (burst + np.roll(burst, 1))
    blocks = np.empty((-(-n // period), period), dtype=np.float32)
    blocks[0] = burst
    last = np.float32(0.0)
    for k in range(1, len(blocks)):
        prev = blocks[k - 1]
        shifted = np.concatenate(([last], prev[:-1]))
        last = prev[-1]
        blocks[k] = decay * 0.5 * (prev + shifted)
    out = blocks.ravel()[:n]
    return out * envelope(n, sr=sr, attack=0.002, release=0.05)


def piano(freq: float, seconds: float, *, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Eight slightly inharmonic partials with faster decay up the series, plus a hammer thump."""
    n = int(seconds * sr)
    t = _t(n, sr)
    out = np.zeros(n, dtype=np.float32)
    for k in range(1, 9):
        fk = k * freq * np.sqrt(1 + 4e-4 * k * k)
        if fk >= sr / 2:
            break
        out += np.sin(2 * np.pi * fk * t) * np.exp(-(0.7 + 0.5 * k) * t) / k**1.3
    thump = rng.standard_normal(min(n, int(0.01 * sr))).astype(np.float32) * 0.05
    out[: len(thump)] += thump
    return out * envelope(n, sr=sr, attack=0.003, release=0.2)


def fm_keys(freq: float, seconds: float, *, sr: int, index: float) -> np.ndarray:
    """Electric-piano-like FM tone: carrier = modulator frequency, index decaying."""
    n = int(seconds * sr)
    t = _t(n, sr)
    mod = index * np.exp(-3 * t) * np.sin(2 * np.pi * freq * t)
    return np.sin(2 * np.pi * freq * t + mod) * np.exp(-1.5 * t) * envelope(n, sr=sr, attack=0.004, release=0.1)


def bass_pluck(freq: float, seconds: float, *, sr: int) -> np.ndarray:
    n = int(seconds * sr)
    t = _t(n, sr)
    tone = np.sin(2 * np.pi * freq * t) + 0.35 * np.sin(4 * np.pi * freq * t) + 0.1 * np.sin(6 * np.pi * freq * t)
    return tone * np.exp(-2.5 * t) * envelope(n, sr=sr, attack=0.004, release=0.05)


def kick(*, sr: int, punch: float = 1.0) -> np.ndarray:
    t = _t(int(0.35 * sr), sr)
    freq = 45 + 110 * np.exp(-t / 0.03)
    phase = 2 * np.pi * np.cumsum(freq) / sr
    return (np.sin(phase) * np.exp(-t / (0.09 * punch))).astype(np.float32)


def snare(*, sr: int, rng: np.random.Generator, tone_hz: float = 185.0) -> np.ndarray:
    t = _t(int(0.22 * sr), sr)
    noise = spectral_filter(rng.standard_normal(len(t)).astype(np.float32), sr=sr, low=1200.0)
    return 0.7 * noise * np.exp(-t / 0.05) + 0.5 * np.sin(2 * np.pi * tone_hz * t) * np.exp(-t / 0.04)


def hat(*, sr: int, rng: np.random.Generator, seconds: float = 0.06) -> np.ndarray:
    t = _t(int(max(seconds * 4, 0.1) * sr), sr)
    noise = spectral_filter(rng.standard_normal(len(t)).astype(np.float32), sr=sr, low=6000.0, order=4)
    return noise * np.exp(-t / seconds)


def cymbal(*, sr: int, rng: np.random.Generator, seconds: float, low: float = 3000.0) -> np.ndarray:
    """Crash or ride: metallic inharmonic partials plus high-passed noise."""
    t = _t(int(seconds * sr), sr)
    metal = sum(np.sin(2 * np.pi * f * t) for f in (3150.0, 4215.0, 5371.0, 6627.0, 8112.0)) / 5
    noise = spectral_filter(rng.standard_normal(len(t)).astype(np.float32), sr=sr, low=low, order=3)
    return (0.4 * metal + noise) * np.exp(-4.0 * t / seconds)


def clap(*, sr: int, rng: np.random.Generator) -> np.ndarray:
    t = _t(int(0.2 * sr), sr)
    noise = spectral_filter(rng.standard_normal(len(t)).astype(np.float32), sr=sr, low=800.0, high=5000.0)
    bursts = sum(np.exp(-np.maximum(t - d, 0) / 0.008) * (t >= d) for d in (0.0, 0.01, 0.02))
    return noise * (0.5 * bursts + np.exp(-t / 0.06))
