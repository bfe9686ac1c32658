"""The six styles of the demo library: arrangements over the instruments of ``demo_synth``.

Each style has three artists (parameter variations: tempo range, brightness, density, effects), so
tracks of one style share instruments and rhythm but differ by key, tempo, artist and seed.
``render(spec, sr=...)`` returns a mono float32 track peak-normalised to -1 dBFS.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from demo_synth import (
    NoteCache,
    TrackSpec,
    bass_pluck,
    chord,
    clap,
    cymbal,
    fm_keys,
    hat,
    kick,
    midi_hz,
    pad_note,
    piano,
    place,
    pluck,
    power_chord,
    reverb,
    saw_bass,
    scale_note,
    snare,
    spectral_filter,
)


@dataclass(frozen=True)
class Artist:
    name: str
    album: str
    tempo: tuple[float, float]
    params: dict[str, Any]


@dataclass(frozen=True)
class Style:
    name: str
    mode: str  # "major", "minor" or "either"
    artists: tuple[Artist, ...]
    render: Callable[[TrackSpec, np.random.Generator, int], np.ndarray]


def _progression(spec: TrackSpec, rng: np.random.Generator, options: list[list[int]]) -> list[int]:
    return options[int(rng.integers(len(options)))]


def _bars(spec: TrackSpec, beats_per_bar: int = 4) -> tuple[float, int]:
    beat = 60.0 / spec.tempo
    return beat, int(np.ceil(spec.duration_s / (beats_per_bar * beat))) + 1


# ----------------------------------------------------------------------------- arrangements


def ambient(spec: TrackSpec, rng: np.random.Generator, sr: int) -> np.ndarray:
    p, cache = spec.params, NoteCache()
    beat, n_bars = _bars(spec)
    n = int(spec.duration_s * sr)
    pads, shimmer = np.zeros(n, np.float32), np.zeros(n, np.float32)
    prog = _progression(spec, rng, [[0, 5, 2, 6], [0, 3, 5, 4], [0, 6, 5, 6]])
    chord_s = 2 * 4 * beat
    for i in range(int(np.ceil(spec.duration_s / chord_s)) + 1):
        notes = chord(spec.root, spec.mode, prog[i % len(prog)], octave=3, size=4)
        for m in notes:
            note = cache(pad_note, midi_hz(m), chord_s + 2.0, sr=sr, detune_cents=p["detune"], attack=1.8)
            place(pads, note, i * chord_s - 1.0, sr=sr, gain=0.3)
        for _ in range(p["shimmer_notes"]):
            m = notes[int(rng.integers(len(notes)))] + 24
            t0 = i * chord_s + rng.uniform(0, chord_s)
            tone = cache(pad_note, midi_hz(m), 3.0, sr=sr, detune_cents=3.0, attack=1.2)
            place(shimmer, tone, t0, sr=sr, gain=0.08)
    mix = spectral_filter(pads, sr=sr, high=p["cutoff"]) + spectral_filter(shimmer, sr=sr, high=5000.0)
    return reverb(mix, sr=sr, seconds=p["reverb"], wet=0.55, rng=rng)


def electronic(spec: TrackSpec, rng: np.random.Generator, sr: int) -> np.ndarray:
    p, cache = spec.params, NoteCache()
    beat, n_bars = _bars(spec)
    n = int(spec.duration_s * sr)
    drums, bass, stabs = (np.zeros(n, np.float32) for _ in range(3))
    k, c, h, oh = kick(sr=sr, punch=p["punch"]), clap(sr=sr, rng=rng), hat(sr=sr, rng=rng), hat(
        sr=sr, rng=rng, seconds=0.2)
    prog = _progression(spec, rng, [[0, 5, 6, 4], [0, 0, 5, 6], [0, 3, 5, 6]])
    for bar in range(n_bars):
        t_bar = bar * 4 * beat
        degree = prog[(bar // 2) % len(prog)]
        root = chord(spec.root, spec.mode, degree, octave=1)[0]
        for b in range(4):
            place(drums, k, t_bar + b * beat, sr=sr, gain=1.0)
            if b in (1, 3):
                place(drums, c, t_bar + b * beat, sr=sr, gain=0.5)
            for s in range(p["hat_steps"]):
                pos = b * beat + s * beat / p["hat_steps"]
                accent = 0.35 if s == p["hat_steps"] // 2 else 0.15
                place(drums, oh if (b == 3 and s == p["hat_steps"] // 2) else h, t_bar + pos, sr=sr,
                      gain=accent * rng.uniform(0.8, 1.2))
            for half in (0.5,) if p["bass"] == "offbeat" else (0.0, 0.25, 0.5, 0.75):
                m = root + (12 if rng.random() < 0.2 else 0)
                note = cache(saw_bass, midi_hz(m), 0.22, sr=sr, decay=0.08)
                place(bass, note, t_bar + (b + half) * beat, sr=sr, gain=0.45)
        if bar % 2 == 1 or p["stabs_every_bar"]:
            for pos in (1.5, 2.75):
                for m in chord(spec.root, spec.mode, degree, octave=4):
                    stab = cache(pad_note, midi_hz(m), 0.18, sr=sr, detune_cents=12.0, attack=0.005)
                    place(stabs, stab, t_bar + pos * beat, sr=sr, gain=0.25)
    stabs = reverb(spectral_filter(stabs, sr=sr, high=p["stab_cutoff"]), sr=sr, seconds=1.2, wet=0.3, rng=rng)
    return drums + spectral_filter(bass, sr=sr, high=500.0) + stabs


def acoustic(spec: TrackSpec, rng: np.random.Generator, sr: int) -> np.ndarray:
    p, cache = spec.params, NoteCache()
    beat, n_bars = _bars(spec)
    n = int(spec.duration_s * sr)
    strings, perc = np.zeros(n, np.float32), np.zeros(n, np.float32)
    prog = _progression(spec, rng, [[0, 4, 5, 3], [0, 3, 4, 0], [0, 5, 3, 4]])
    pattern = p["pattern"]
    step = beat / p["steps_per_beat"]
    shaker = hat(sr=sr, rng=rng, seconds=0.03)
    for bar in range(n_bars):
        t_bar = bar * 4 * beat
        tones = chord(spec.root, spec.mode, prog[bar % len(prog)], octave=3)
        tones = tones + [tones[0] + 12, tones[1] + 12]
        low = tones[0] - 12
        note = cache(pluck, midi_hz(low), 2.5, sr=sr, rng=rng, brightness=0.3)
        place(strings, note, t_bar, sr=sr, gain=0.6)
        for s in range(4 * p["steps_per_beat"]):
            m = tones[pattern[s % len(pattern)]]
            tone = cache(pluck, midi_hz(m), 1.6, sr=sr, rng=rng, brightness=p["brightness"])
            place(strings, tone, t_bar + s * step + rng.normal(0, 0.004), sr=sr, gain=rng.uniform(0.3, 0.45))
            if p["shaker"] and s % 2 == 0:
                place(perc, shaker, t_bar + s * step, sr=sr, gain=0.05)
    return reverb(strings, sr=sr, seconds=1.0, wet=0.2, rng=rng) + perc


def ballad(spec: TrackSpec, rng: np.random.Generator, sr: int) -> np.ndarray:
    p, cache = spec.params, NoteCache()
    beat, n_bars = _bars(spec)
    n = int(spec.duration_s * sr)
    keys = np.zeros(n, np.float32)
    prog = _progression(spec, rng, [[0, 5, 3, 4], [0, 2, 3, 4], [5, 3, 0, 4]])
    melody_step = 2
    for bar in range(n_bars):
        t_bar = bar * 4 * beat
        degree = prog[bar % len(prog)]
        tones = chord(spec.root, spec.mode, degree, octave=3)
        for m, at, g in ((tones[0] - 12, 0.0, 0.5), (tones[0] - 5, 2.0, 0.3)):
            note = cache(piano, midi_hz(m), 3.0, sr=sr, rng=rng)
            place(keys, note, t_bar + at * beat, sr=sr, gain=g)
        for m in tones[1:]:
            note = cache(piano, midi_hz(m), 3.0, sr=sr, rng=rng)
            place(keys, note, t_bar + 0.02, sr=sr, gain=0.15)
        beat_pos = 0.0
        while beat_pos < 4:
            if rng.random() < p["melody_density"]:
                melody_step = int(np.clip(melody_step + rng.integers(-2, 3), 0, 9))
                m = scale_note(spec.root, spec.mode, melody_step, octave=5)
                note = cache(piano, midi_hz(m), 3.0, sr=sr, rng=rng)
                place(keys, note, t_bar + beat_pos * beat + rng.normal(0, 0.015), sr=sr, gain=0.35)
            beat_pos += float(rng.choice([1.0, 2.0]))
    return reverb(keys, sr=sr, seconds=p["reverb"], wet=0.3, rng=rng)


def rock(spec: TrackSpec, rng: np.random.Generator, sr: int) -> np.ndarray:
    p, cache = spec.params, NoteCache()
    beat, n_bars = _bars(spec)
    n = int(spec.duration_s * sr)
    guitar, drums, bass = (np.zeros(n, np.float32) for _ in range(3))
    k, s, h = kick(sr=sr, punch=0.8), snare(sr=sr, rng=rng), hat(sr=sr, rng=rng, seconds=0.05)
    crash = cymbal(sr=sr, rng=rng, seconds=1.5)
    prog = _progression(spec, rng, [[0, 6, 5, 6], [0, 3, 6, 4], [0, 5, 2, 6]])
    for bar in range(n_bars):
        t_bar = bar * 4 * beat
        root = chord(spec.root, spec.mode, prog[bar % len(prog)], octave=2)[0]
        if bar % 4 == 0:
            place(drums, crash, t_bar, sr=sr, gain=0.35)
        for e in range(8):
            at = t_bar + e * beat / 2
            muted = e % 2 == 1 and p["palm_mute"]
            length = 0.12 if muted else beat / 2
            power = cache(power_chord, root, length, sr=sr)
            place(guitar, power, at, sr=sr, gain=0.5 if muted else 0.8)
            place(drums, h, at, sr=sr, gain=0.25 * rng.uniform(0.8, 1.1))
            note = cache(saw_bass, midi_hz(root - 12), beat / 2, sr=sr)
            place(bass, note, at, sr=sr, gain=0.4)
        for b in range(4):
            place(drums, s if b in (1, 3) else k, t_bar + b * beat, sr=sr, gain=0.9 if b in (1, 3) else 1.0)
        for extra in p["extra_kicks"]:
            place(drums, k, t_bar + extra * beat, sr=sr, gain=0.8)
    dist = np.tanh(p["drive"] * guitar).astype(np.float32)
    dist = spectral_filter(dist, sr=sr, low=90.0, high=p["cab_cutoff"])
    return 0.6 * dist + drums + spectral_filter(bass, sr=sr, high=400.0)


def jazz(spec: TrackSpec, rng: np.random.Generator, sr: int) -> np.ndarray:
    p, cache = spec.params, NoteCache()
    beat, n_bars = _bars(spec)
    n = int(spec.duration_s * sr)
    ride, bass, keys = (np.zeros(n, np.float32) for _ in range(3))
    ride_hit = cymbal(sr=sr, rng=rng, seconds=1.2, low=5000.0)
    foot = hat(sr=sr, rng=rng, seconds=0.03)
    swing = p["swing"]
    degrees = [1, 4, 0, 5]  # ii7 V7 Imaj7 vi7
    for bar in range(n_bars):
        t_bar = bar * 4 * beat
        tones = chord(spec.root, "major", degrees[bar % 4], octave=2, size=4)
        next_root = chord(spec.root, "major", degrees[(bar + 1) % 4], octave=2)[0]
        walk = [tones[0], tones[int(rng.integers(1, 4))], tones[int(rng.integers(1, 4))],
                next_root + (1 if rng.random() < 0.5 else -1)]
        for b, m in enumerate(walk):
            note = cache(bass_pluck, midi_hz(m), beat * 1.1, sr=sr)
            place(bass, note, t_bar + b * beat, sr=sr, gain=0.7)
            place(ride, ride_hit, t_bar + b * beat, sr=sr, gain=0.18)
            if b in (1, 3):
                place(ride, ride_hit, t_bar + (b + swing) * beat, sr=sr, gain=0.12)
                place(ride, foot, t_bar + b * beat, sr=sr, gain=0.1)
        voicing = [m + 12 for m in tones[1:]] + [tones[0] + 24]
        for pos in rng.choice([0.0, 1.0 + swing, 2.0, 2.0 + swing, 3.0 + swing], size=p["comps"], replace=False):
            for m in voicing:
                note = cache(fm_keys, midi_hz(m), 1.2, sr=sr, index=p["fm_index"])
                place(keys, note, t_bar + pos * beat, sr=sr, gain=0.12)
    return reverb(ride + bass + keys, sr=sr, seconds=0.8, wet=0.15, rng=rng)


STYLES: tuple[Style, ...] = (
    Style("Ambient", "minor", (
        Artist("Glass Harbour", "Tidal Glass", (56, 64),
               {"cutoff": 900.0, "reverb": 3.0, "detune": 9.0, "shimmer_notes": 1}),
        Artist("Slow Meridian", "Halflight", (60, 68),
               {"cutoff": 1400.0, "reverb": 2.5, "detune": 14.0, "shimmer_notes": 3}),
        Artist("Nocturne Fields", "Fieldnotes at Dusk", (64, 76),
               {"cutoff": 700.0, "reverb": 3.5, "detune": 6.0, "shimmer_notes": 2}),
    ), ambient),
    Style("Electronic", "minor", (
        Artist("Pulse Engine", "Night Drive", (120, 124), {"punch": 1.0, "hat_steps": 2, "bass": "offbeat",
                                                           "stab_cutoff": 3000.0, "stabs_every_bar": False}),
        Artist("Neon Circuit", "Circuit Bent", (124, 128), {"punch": 1.3, "hat_steps": 4, "bass": "rolling",
                                                            "stab_cutoff": 4500.0, "stabs_every_bar": True}),
        Artist("Kilohertz", "Oscillate", (128, 132), {"punch": 0.8, "hat_steps": 4, "bass": "offbeat",
                                                      "stab_cutoff": 2000.0, "stabs_every_bar": False}),
    ), electronic),
    Style("Acoustic", "major", (
        Artist("Juniper Lane", "Porch Songs", (84, 96), {"steps_per_beat": 2, "pattern": [0, 2, 1, 2, 3, 2, 1, 2],
                                                         "brightness": 0.6, "shaker": False}),
        Artist("The Cedar Strings", "Grain & Timber", (96, 108),
               {"steps_per_beat": 2, "pattern": [0, 1, 2, 3, 4, 3, 2, 1], "brightness": 0.8, "shaker": True}),
        Artist("Willow & Ash", "Riverbend", (100, 116), {"steps_per_beat": 4, "pattern": [0, 2, 3, 4],
                                                         "brightness": 0.5, "shaker": False}),
    ), acoustic),
    Style("Ballad", "either", (
        Artist("Clara Vey", "Quiet Rooms", (60, 68), {"melody_density": 0.5, "reverb": 1.8}),
        Artist("Ivory Hours", "Letters Unsent", (66, 74), {"melody_density": 0.7, "reverb": 1.4}),
        Artist("Mireille Sol", "Été Lointain", (70, 80), {"melody_density": 0.35, "reverb": 2.2}),
    ), ballad),
    Style("Rock", "minor", (
        Artist("Rust Avenue", "Overdrive City", (132, 144),
               {"drive": 8.0, "cab_cutoff": 4500.0, "palm_mute": True, "extra_kicks": [2.5]}),
        Artist("Static Wolves", "Feedback Season", (144, 156),
               {"drive": 14.0, "cab_cutoff": 5500.0, "palm_mute": False, "extra_kicks": [1.5, 2.5]}),
        Artist("Low Voltage", "Amplified", (156, 168),
               {"drive": 10.0, "cab_cutoff": 3800.0, "palm_mute": True, "extra_kicks": []}),
    ), rock),
    Style("Jazz", "major", (
        Artist("The Blue Quarter", "After Hours", (110, 130), {"swing": 0.66, "comps": 2, "fm_index": 1.5}),
        Artist("Monk Street Trio", "Late Set", (140, 160), {"swing": 0.62, "comps": 3, "fm_index": 2.5}),
        Artist("Velvet Brushes", "Swing Theory", (170, 190), {"swing": 0.7, "comps": 1, "fm_index": 1.0}),
    ), jazz),
)


def render(spec: TrackSpec, *, sr: int) -> np.ndarray:
    """Render one track: mono float32, ``(round(duration_s * sr),)``, peak at -1 dBFS, faded ends."""
    style = next(s for s in STYLES if s.name == spec.style)
    rng = np.random.default_rng(spec.seed)
    y = style.render(spec, rng, sr)[: int(spec.duration_s * sr)].astype(np.float32)
    fade_in, fade_out = int(0.05 * sr), int(min(2.0, spec.duration_s / 4) * sr)
    y[:fade_in] *= np.linspace(0, 1, fade_in, dtype=np.float32)
    y[len(y) - fade_out:] *= np.linspace(1, 0, fade_out, dtype=np.float32)
    peak = float(np.max(np.abs(y)))
    return (y * (0.89 / peak)).astype(np.float32) if peak > 0 else y
