"""Hand-crafted audio descriptors: the baseline every learned backend must beat.

The descriptors are computed from the log-mel fragment alone, which is the one narrow interface
between the audio front end and every backend (``embed(log_mels) -> vectors``). That makes the
baseline cheap (no second decode, no STFT) but some descriptors are approximations of their
usual STFT-based definitions:

* **MFCC** (``librosa.feature.mfcc(S=log_mel)``): exact, librosa expects a dB-scaled mel power
  spectrogram for ``S``.
* **Chroma**: the mel power is mapped to the 12 pitch classes through librosa's STFT chroma
  filterbank composed with the (row-normalised) mel filterbank, ``W = chroma_fb @ mel_fb.T``
  (both sampled on an 8192-point FFT grid):
  each mel band spreads its energy over the pitch classes of the FFT bins it was made from.
  Mel bands are ~26 Hz wide below 1 kHz, so below ~200 Hz a band covers several semitones and
  the chroma is blurred there; above ~400 Hz bands are at most about a semitone wide.
* **Spectral contrast, centroid, flatness**: librosa's functions on the mel *power* spectrum with
  the mel band centre frequencies (``librosa.mel_frequencies``) as the frequency axis. The
  centroid therefore weights bands, not Hz, and is lower than the STFT centroid; it still rises
  with brightness.
* **Onsets and tempo**: ``librosa.onset.onset_strength(S=log_mel)``; onsets are the peaks of the
  envelope found by ``scipy.signal.find_peaks`` (prominence 10 % of its range and at least 1 dB,
  2 frames apart).
  ``librosa.onset.onset_detect`` is not used: its peak picker is a numba gufunc cached on disk,
  and two processes compiling it at once (two ``ctk embed`` workers on a fresh install) can leave
  a cache that segfaults every later run (numba issue #10128). The tempo is
  ``librosa.feature.tempo`` given a single tempogram frame (the autocorrelation of the whole
  fragment's onset envelope), far cheaper than librosa's default sliding tempogram.
* **Loudness**: the dB level of the frame's total mel power.
* **dB floors are per fragment**: loudness and the peaks/valleys of the spectral contrast are
  clipped at the fragment's own maximum - 80 dB (librosa's ``top_db``), never at a batch-wide
  maximum, so a fragment's vector does not depend on the other fragments of its batch
  (``features-v1`` did: ``power_to_db`` over the whole batch array).

Frame-wise descriptors are summarised by their mean and standard deviation over the fragment.
Each dimension is then standardised with fixed reference statistics shipped in
``embeddings/assets/features_stats.json`` (fitted by ``bench/fit_feature_stats.py``), so a vector
never depends on which library it came from and incremental runs stay consistent.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from functools import cached_property
from pathlib import Path
from typing import Any

import librosa
import numpy as np
import scipy.ndimage
import scipy.signal

from embeddings.backends.base import check_mean_std, read_stats_file
from embeddings.config import AudioConfig, config_from_dict
from embeddings.errors import CheckpointError, ConfigError

DESCRIPTOR_VERSION = "features-v2"  # v2: dB floors per fragment, not per batch
STATS_FORMAT = "ctk-features-stats/1"
DEFAULT_STATS_PATH = Path(__file__).resolve().parent.parent / "assets" / "features_stats.json"

N_MFCC = 20
N_CONTRAST_BANDS = 6
CONTRAST_FMIN = 200.0
TEMPO_MIN_BPM, TEMPO_MAX_BPM = 30.0, 320.0
ONSET_PROMINENCE, ONSET_MIN_FRAMES = 0.1, 2
ONSET_MIN_RISE_DB = 1.0  # onset strength is a mean rise in dB over the mel bands
CHROMA_N_FFT = 8192
TEMPO_SMOOTHING_FRAMES = 1.0  # Gaussian sigma
PULSE_RIPPLE_DB = 0.2  # envelope wobble (std, dB) that does not count as a pulse
TOP_DB = 80.0  # dB floor below each fragment's own maximum (librosa's default top_db)

# (group, size); a group of frame-wise descriptors contributes its mean then its std.
_FRAMEWISE_GROUPS = (("mfcc", N_MFCC), ("chroma", 12), ("contrast", N_CONTRAST_BANDS + 1),
                     ("centroid", 1), ("flatness", 1), ("loudness", 1))
_GLOBAL_NAMES = ("onset_rate", "log2_tempo", "pulse_clarity")
PITCH_CLASSES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


def descriptor_names() -> list[str]:
    """Names of the vector's dimensions, in order (``mfcc_mean_00``, ..., ``pulse_clarity``)."""
    names: list[str] = []
    for stat in ("mean", "std"):
        for group, size in _FRAMEWISE_GROUPS:
            names += [f"{group}_{stat}_{i:02d}" for i in range(size)] if size > 1 else [f"{group}_{stat}"]
    return names + list(_GLOBAL_NAMES)


def mel_band_frequencies(*, audio: AudioConfig) -> np.ndarray:
    """Centre frequencies in Hz of the mel bands, ``(n_mels,)`` (the peaks of librosa's filters)."""
    return librosa.mel_frequencies(n_mels=audio.n_mels + 2, fmin=audio.fmin, fmax=audio.fmax)[1:-1]


def mel_to_chroma_matrix(*, audio: AudioConfig) -> np.ndarray:
    """``(12, n_mels)`` map from mel power to pitch-class energy, index 0 = C.

    ``chroma_fb @ mel_fb.T`` with each mel filter scaled to unit sum, so a mel band hands its energy
    to the pitch classes of the frequencies under its triangle. Both filterbanks are sampled on a
    fine FFT grid (``CHROMA_N_FFT``), independent of the front end's ``n_fft``: the mel triangles
    are defined in Hz, and the fine grid maps each one to pitch classes more precisely.
    """
    mel_fb = librosa.filters.mel(sr=audio.sample_rate, n_fft=CHROMA_N_FFT, n_mels=audio.n_mels,
                                 fmin=audio.fmin, fmax=audio.fmax)
    mel_fb = mel_fb / np.maximum(mel_fb.sum(axis=1, keepdims=True), 1e-12)
    chroma_fb = librosa.filters.chroma(sr=audio.sample_rate, n_fft=CHROMA_N_FFT, n_chroma=12)
    return (chroma_fb @ mel_fb.T).astype(np.float32)


def feature_descriptors(log_mels: np.ndarray, *, audio: AudioConfig,
                        chroma_matrix: np.ndarray | None = None) -> np.ndarray:
    """Raw (unstandardised) descriptors of log-mel fragments.

    ``log_mels``: ``(batch, n_mels, n_frames)`` dB-scaled mel power (``power_to_db``, ref 1.0).
    Returns ``(batch, len(descriptor_names()))`` float64, in the order of :func:`descriptor_names`.
    """
    log_mels = _check_log_mels(log_mels, audio=audio)
    sr, hop = audio.sample_rate, audio.hop_length
    batch, _, n_frames = log_mels.shape
    s_db = log_mels.astype(np.float32)
    power = librosa.db_to_power(s_db)
    freqs = mel_band_frequencies(audio=audio)
    if chroma_matrix is None:
        chroma_matrix = mel_to_chroma_matrix(audio=audio)

    chroma = librosa.util.normalize(np.einsum("cm,bmt->bct", chroma_matrix, power), norm=np.inf, axis=-2)
    framewise = [
        librosa.feature.mfcc(S=s_db, n_mfcc=N_MFCC),
        chroma,
        # one fragment per call: spectral_contrast clips its dB peaks and valleys at the max of its input
        np.stack([librosa.feature.spectral_contrast(S=p, sr=sr, freq=freqs, fmin=CONTRAST_FMIN,
                                                    n_bands=N_CONTRAST_BANDS) for p in power]),
        librosa.feature.spectral_centroid(S=power, freq=freqs) / 1000.0,  # kHz
        librosa.feature.spectral_flatness(S=power, power=1.0),
        _power_to_db_per_fragment(power.sum(axis=-2, keepdims=True)),
    ]
    framewise_means = [f.mean(axis=-1) for f in framewise]
    framewise_stds = [f.std(axis=-1) for f in framewise]

    envelope = librosa.onset.onset_strength(S=s_db, sr=sr, hop_length=hop)  # (batch, n_frames)
    n_onsets = np.array([_count_onsets(e) for e in envelope], dtype=np.float64)
    onset_rate = n_onsets / (n_frames * hop / sr)
    tempo, clarity = _tempo_and_pulse_clarity(envelope, sr=sr, hop_length=hop)

    columns = framewise_means + framewise_stds + [onset_rate[:, None], np.log2(tempo)[:, None],
                                                  clarity[:, None]]
    out = np.concatenate([c.reshape(batch, -1).astype(np.float64) for c in columns], axis=1)
    return out


def _power_to_db_per_fragment(power: np.ndarray) -> np.ndarray:
    """``librosa.power_to_db`` of ``(batch, ...)`` power with the ``TOP_DB`` floor of each fragment's own maximum
    (equal to ``power_to_db`` of that fragment alone)."""
    db = librosa.power_to_db(power, top_db=None)
    return np.maximum(db, db.max(axis=tuple(range(1, db.ndim)), keepdims=True) - TOP_DB)


def _count_onsets(envelope: np.ndarray) -> int:
    """Number of onsets in one onset envelope ``(n_frames,)``: its peaks that rise above their
    surroundings by 10 % of the envelope's range, and by at least ``ONSET_MIN_RISE_DB``, so that
    the tiny ripples of a steady tone do not count as onsets."""
    prominence = max(ONSET_PROMINENCE * float(envelope.max() - envelope.min()), ONSET_MIN_RISE_DB)
    peaks, _ = scipy.signal.find_peaks(envelope, prominence=prominence, distance=ONSET_MIN_FRAMES)
    return int(peaks.size)


def _tempo_and_pulse_clarity(envelope: np.ndarray, *, sr: int, hop_length: int) -> tuple[np.ndarray, ...]:
    """Tempo (BPM) and pulse clarity of onset envelopes ``(batch, n_frames)`` -> two ``(batch,)``.

    One tempogram frame per fragment: the autocorrelation of the smoothed, Hann-windowed envelope,
    scaled to 1 at lag 0, handed to ``librosa.feature.tempo`` (log-normal prior around 120 BPM).
    Pulse clarity is the highest autocorrelation of the mean-removed envelope at lags between 30 and
    320 BPM, relative to its energy plus that of a 0.2 dB ripple, so a near-steady sound has none.
    """
    n_frames = envelope.shape[-1]
    # smoothing over ~2 frames keeps a beat whose period is not a whole number of frames from
    # splitting its autocorrelation peak between two lags (which favours the doubled period)
    envelope = scipy.ndimage.gaussian_filter1d(envelope, TEMPO_SMOOTHING_FRAMES, axis=-1)
    window = np.hanning(n_frames + 2)[1:-1]
    bpms = librosa.tempo_frequencies(n_frames, hop_length=hop_length, sr=sr)
    in_range = (bpms >= TEMPO_MIN_BPM) & (bpms <= TEMPO_MAX_BPM)

    ac = librosa.autocorrelate(envelope * window, axis=-1)
    tempogram = np.clip(ac / np.maximum(ac[..., :1], 1e-10), 0.0, None)[..., None]  # (batch, n_lags, 1)
    tempo = librosa.feature.tempo(tg=tempogram, sr=sr, hop_length=hop_length, max_tempo=TEMPO_MAX_BPM)

    centred = librosa.autocorrelate((envelope - envelope.mean(axis=-1, keepdims=True)) * window, axis=-1)
    ripple_energy = np.sum(window**2) * PULSE_RIPPLE_DB**2
    clarity = centred[:, in_range].max(axis=-1) / (centred[:, 0] + ripple_energy) if in_range.any() else (
        np.zeros(len(envelope)))
    return tempo.reshape(-1), np.clip(clarity, 0.0, 1.0)


def _check_log_mels(log_mels: np.ndarray, *, audio: AudioConfig) -> np.ndarray:
    log_mels = np.asarray(log_mels)
    if log_mels.ndim != 3 or log_mels.shape[1] != audio.n_mels:
        raise ConfigError(f"log_mels must have shape (batch, n_mels={audio.n_mels}, n_frames), "
                          f"got {log_mels.shape}")
    if log_mels.shape[2] < 2:
        raise ConfigError(f"log_mels has n_frames={log_mels.shape[2]}; need at least 2 frames")
    if not np.isfinite(log_mels).all():
        raise ConfigError("log_mels contains NaN or infinite values")
    return log_mels


def stats_file_hash(path: Path) -> str:
    """blake2b (16 hex digits) of the reference statistics file's bytes."""
    return hashlib.blake2b(Path(path).read_bytes(), digest_size=8).hexdigest()


def write_feature_stats(path: Path, descriptors: np.ndarray, *, audio: AudioConfig,
                        fitted_on: dict[str, Any]) -> dict[str, Any]:
    """Fit and write the reference statistics (per-dimension mean and std) of raw descriptors.

    ``descriptors``: ``(n_fragments, dim)`` from :func:`feature_descriptors`. A dimension whose std
    is below 1e-6 gets std 1 (it is then only centred).
    """
    names = descriptor_names()
    if descriptors.ndim != 2 or descriptors.shape[1] != len(names) or len(descriptors) < 2:
        raise ConfigError(f"need (n_fragments >= 2, {len(names)}) descriptors, got {descriptors.shape}")
    std = descriptors.std(axis=0)
    stats = {
        "format": STATS_FORMAT,
        "version": DESCRIPTOR_VERSION,
        "audio": asdict(audio),
        "fitted_on": fitted_on,
        "names": names,
        "mean": [round(float(v), 6) for v in descriptors.mean(axis=0)],
        "std": [round(float(v), 6) if v >= 1e-6 else 1.0 for v in std],
    }
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(stats, indent=1) + "\n")
    return stats


class FeaturesBackend:
    """``embed(log_mels) -> standardised descriptor vectors``; see the module docstring.

    ``stats_path`` defaults to the statistics shipped with ctk. Raises :class:`CheckpointError`
    when the statistics are missing, unreadable or were fitted for another descriptor version or
    another audio front end.
    """

    name = "features"

    def __init__(self, audio: AudioConfig | None = None, *, stats_path: Path | None = None) -> None:
        self.audio = audio if audio is not None else AudioConfig()
        self.stats_path = Path(stats_path) if stats_path is not None else DEFAULT_STATS_PATH
        stats = _read_stats(self.stats_path)
        fitted_audio = config_from_dict(AudioConfig, stats["audio"])
        if fitted_audio != self.audio:
            raise CheckpointError(
                f"feature statistics {self.stats_path} were fitted for {fitted_audio}, but the backend "
                f"uses {self.audio}; refit them with `python bench/fit_feature_stats.py FOLDER`"
            )
        self._mean = np.asarray(stats["mean"], dtype=np.float64)
        self._std = np.asarray(stats["std"], dtype=np.float64)
        self.dim = len(self._mean)
        self._hash = stats_file_hash(self.stats_path)
        self._chroma_matrix = mel_to_chroma_matrix(audio=self.audio)

    @cached_property
    def names(self) -> list[str]:
        return descriptor_names()

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "config": {"version": DESCRIPTOR_VERSION, "descriptors": self.names,
                       "stats_file": self.stats_path.name},
            "audio": asdict(self.audio),
            "weights_hash": self._hash,
        }

    def embed(self, log_mels: np.ndarray) -> np.ndarray:
        """``(batch, n_mels, n_frames)`` float32 dB log-mels -> ``(batch, dim)`` float32 z-scores."""
        raw = feature_descriptors(log_mels, audio=self.audio, chroma_matrix=self._chroma_matrix)
        return ((raw - self._mean) / self._std).astype(np.float32)


def _read_stats(path: Path) -> dict[str, Any]:
    stats = read_stats_file(path, what="feature", stats_format=STATS_FORMAT,
                            fit_command=f"python bench/fit_feature_stats.py FOLDER --out {path}")
    names = descriptor_names()
    if stats.get("version") != DESCRIPTOR_VERSION or stats.get("names") != names:
        raise CheckpointError(
            f"feature statistics {path} are for descriptor version {stats.get('version')!r}, this ctk "
            f"computes {DESCRIPTOR_VERSION!r}; refit them with `python bench/fit_feature_stats.py FOLDER`"
        )
    check_mean_std(stats, path, what="feature", dim=len(names))
    return stats
