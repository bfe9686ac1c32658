"""Decoding audio files to mono float32 at a target sample rate.

soundfile (libsndfile) decodes WAV, FLAC, OGG/Vorbis, Opus and MP3; soxr resamples.
:func:`load_audio` decodes a whole track; :func:`load_spans` reads the header's length, asks the
caller which spans it wants, seeks to each and decodes only those (libsndfile's seeks are
sample-exact in all five formats; ``tests/embeddings/test_audio_spans.py`` checks each against a
full decode). Every failure is an :class:`AudioDecodeError` whose message names the file and the
reason, so the caller can record it and go on with the next file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from embeddings.errors import AudioDecodeError
from embeddings.tags import read_tags

__all__ = [
    "AUDIO_EXTENSIONS",
    "DECODABLE_EXTENSIONS",
    "DecodedAudio",
    "DecodedSpans",
    "is_audio_file",
    "load_audio",
    "load_spans",
    "read_tags",
]

#: Extensions libsndfile decodes.
DECODABLE_EXTENSIONS = frozenset({".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aiff", ".aif", ".w64"})
#: Audio extensions we recognise but cannot decode; they are reported, not silently skipped.
UNSUPPORTED_EXTENSIONS = frozenset(
    {".m4a", ".aac", ".mp4", ".wma", ".ape", ".alac", ".wv", ".mod", ".xm", ".it", ".s3m", ".mid", ".midi"}
)
AUDIO_EXTENSIONS = DECODABLE_EXTENSIONS | UNSUPPORTED_EXTENSIONS

#: Files whose peak stays below this level (-60 dBFS) are refused as silent.
SILENCE_PEAK = 1e-3
_BLOCK_FRAMES = 1 << 18
#: soxr quality of every resampling (``"HQ"``; ``bench/decode_levers.py`` measured the cheaper ones).
RESAMPLE_QUALITY = "HQ"
#: Context decoded on each side of a span so that resampling it matches resampling the whole track.
SPAN_MARGIN_S = 0.1


@dataclass(frozen=True)
class DecodedAudio:
    """Mono samples ``y`` at ``sr`` plus what the file itself declared."""

    y: np.ndarray
    sr: int
    source_sr: int
    channels: int
    format: str

    @property
    def duration_s(self) -> float:
        return len(self.y) / self.sr


def _truncation_hint(extra_info: str) -> str:
    """libsndfile's own diagnosis of a cut file, from its header report (WAV and Ogg)."""
    for line in extra_info.splitlines():
        line = line.strip()
        if line.startswith("data") and "should be" in line:
            # "data : 441000 (should be 220478)": fewer bytes than the header declares
            numbers = [int(t) for t in line.replace("(", " ").replace(")", " ").split() if t.isdigit()]
            if len(numbers) == 2 and numbers[1] < 0.98 * numbers[0]:
                return f"WAV data chunk has {numbers[1]} of {numbers[0]} bytes"
        if "lacks an end-of-stream" in line:
            return "Ogg stream has no end-of-stream page"
    return ""


def is_audio_file(path: Path) -> bool:
    return path.suffix.lower() in AUDIO_EXTENSIONS


def load_audio(path: str | Path, *, sr: int, check_silence: bool = True) -> DecodedAudio:
    """Decode ``path`` to mono float32 samples at ``sr`` Hz.

    Channels are averaged; the file is read block by block so no multi-channel copy of a
    long file is kept. Raises :class:`AudioDecodeError` for a missing, empty, unsupported,
    corrupt, truncated or silent file.
    """
    path = Path(path)
    _check_readable(path, sr=sr)
    try:
        with sf.SoundFile(path) as f:
            source_sr, channels, declared = f.samplerate, f.channels, f.frames
            fmt = f.format
            truncation = _truncation_hint(f.extra_info)
            # mono samples go straight into one buffer: no per-channel or per-block copies of the track
            y = np.empty(max(declared, 0) if 0 < declared < (1 << 40) else 0, dtype=np.float32)
            block_buf = np.empty((_BLOCK_FRAMES, channels), dtype=np.float32)
            n = 0
            # f.read returns a view of the frames it actually read; soundfile's blocks() yields the whole
            # buffer after a short read, i.e. the previous block's samples again (made-up audio)
            while (m := len(block := f.read(out=block_buf))) > 0:
                if n + m > len(y):
                    y = np.resize(y, max(2 * len(y), n + m))
                dest = y[n : n + m]
                # column adds: numpy's mean over a short last axis is several times slower
                np.copyto(dest, block[:, 0])
                for c in range(1, channels):
                    dest += block[:, c]
                if channels > 1:
                    dest *= 1.0 / channels
                n += m
            y = y[:n]
    except (sf.LibsndfileError, RuntimeError, ValueError) as exc:
        raise _decode_failure(path, exc) from exc
    if truncation:
        raise AudioDecodeError(f"{path}: truncated ({truncation})")
    if len(y) == 0:
        raise AudioDecodeError(f"{path}: no audio frames")
    # libsndfile reports a declared length for WAV/FLAC; decoding far less means a cut file.
    if 0 < declared < (1 << 62) and len(y) < 0.98 * declared:
        raise AudioDecodeError(
            f"{path}: truncated (decoded {len(y) / source_sr:.1f} s of {declared / source_sr:.1f} s declared)"
        )
    peak = _finite_peak(path, y)
    if check_silence:
        _check_not_silent(path, peak)
    if source_sr != sr:
        y = soxr.resample(y, source_sr, sr, quality=RESAMPLE_QUALITY).astype(np.float32, copy=False)
    return DecodedAudio(y=y, sr=sr, source_sr=source_sr, channels=channels, format=fmt)


def _check_readable(path: Path, *, sr: int) -> None:
    """Refuse, before decoding, a bad target rate and a missing, empty or unsupported file."""
    if sr <= 0:
        raise AudioDecodeError(f"{path}: sr={sr} must be positive")
    suffix = path.suffix.lower()
    if suffix in UNSUPPORTED_EXTENSIONS:
        raise AudioDecodeError(f"{path}: unsupported format {suffix} (libsndfile cannot decode it; convert to FLAC)")
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise AudioDecodeError(f"{path}: cannot read ({exc.strerror})") from exc
    if size == 0:
        raise AudioDecodeError(f"{path}: empty file (0 bytes)")


def _decode_failure(path: Path, exc: Exception) -> AudioDecodeError:
    """The one-line error for an exception libsndfile raised while opening or decoding ``path``."""
    suffix = path.suffix.lower()
    reason = str(exc).split(":", 1)[-1].strip() or type(exc).__name__
    if "possibly a pipe" in reason or "Format not recognised" in reason:
        # libsndfile's words when no decoder accepts the bytes (for MP3: "File does not exist or is
        # not a regular file (possibly a pipe?)" about a file that does exist)
        reason = f"no {suffix.lstrip('.').upper() or 'audio'} stream found in its bytes"
        return AudioDecodeError(f"{path}: corrupt or not audio ({reason})")
    if suffix not in DECODABLE_EXTENSIONS:
        return AudioDecodeError(f"{path}: unsupported format {suffix or '(no extension)'} ({reason})")
    return AudioDecodeError(f"{path}: corrupt or truncated ({reason})")


def _finite_peak(path: Path, y: np.ndarray) -> float:
    """The peak magnitude of ``y``; refuses non-finite samples."""
    peak = max(float(y.max()), -float(y.min()))  # NaN or inf anywhere makes this non-finite
    if not np.isfinite(peak):
        raise AudioDecodeError(f"{path}: corrupt (non-finite samples)")
    return peak


def _check_not_silent(path: Path, peak: float) -> None:
    """Refuse a track whose peak stays below -60 dBFS."""
    if peak < SILENCE_PEAK:
        level = 20 * np.log10(peak) if peak > 0 else -np.inf
        raise AudioDecodeError(f"{path}: silent (peak {level:.0f} dBFS)")


# ---------------------------------------------------------------------------------- spans
@dataclass(frozen=True)
class DecodedSpans:
    """Mono samples of chosen spans of a track, ``(k, n_samples)`` at ``sr``, and what the header declared."""

    samples: np.ndarray
    starts_s: np.ndarray  # (k,) float64 seconds
    sr: int
    duration_s: float  # the whole track's, from the header
    source_sr: int
    channels: int
    format: str


def _mono(block: np.ndarray) -> np.ndarray:
    """``(n, channels)`` -> ``(n,)`` channel mean, by column adds (numpy's mean over a short axis is slower)."""
    y = block[:, 0].copy()
    for c in range(1, block.shape[1]):
        y += block[:, c]
    if block.shape[1] > 1:
        y *= 1.0 / block.shape[1]
    return y


def _read_span(f: sf.SoundFile, path: Path, *, first: int, n_frames: int, declared: int) -> np.ndarray:
    """Frames ``[first, first + n_frames)`` of an open file, mono; a short read means a cut file."""
    f.seek(first)
    block = f.read(n_frames, dtype="float32", always_2d=True)
    if len(block) < n_frames:
        sr = f.samplerate
        raise AudioDecodeError(
            f"{path}: truncated (no audio after {(first + len(block)) / sr:.1f} s of {declared / sr:.1f} s declared)"
        )
    return _mono(block)


def load_spans(
    path: str | Path,
    *,
    sr: int,
    n_seconds: float,
    choose_starts: Callable[[float], np.ndarray],
    check_silence: bool = True,
) -> DecodedSpans:
    """Decode only some ``n_seconds`` spans of ``path``, mono float32 at ``sr`` Hz.

    The track's duration comes from the header; ``choose_starts(duration_s)`` returns the span starts
    in seconds (it may raise, e.g. for a track too short to use). Each span is read by seeking, with
    ``SPAN_MARGIN_S`` of context on each side that is resampled with it and then cut off, so a span
    equals the same samples cut from :func:`load_audio`'s output to within soxr's numerical noise. A
    track shorter than ``n_seconds`` is decoded whole and looped to full length, as
    :func:`~embeddings.fragments.fragment_samples` does. A span that cannot be read to its end (the
    file is shorter than its header says) raises :class:`AudioDecodeError`, never padding; so do
    the failures :func:`load_audio` refuses (silence and non-finite samples judged on the spans).
    Audio outside the spans is never decoded, so damage there goes unnoticed.
    """
    path = Path(path)
    _check_readable(path, sr=sr)
    try:
        with sf.SoundFile(path) as f:
            source_sr, channels, declared, fmt = f.samplerate, f.channels, f.frames, f.format
            truncation = _truncation_hint(f.extra_info)
            if truncation:
                raise AudioDecodeError(f"{path}: truncated ({truncation})")
            if not 0 < declared < (1 << 40):
                raise AudioDecodeError(f"{path}: the header declares no usable length ({declared} frames)")
            duration_s = declared / source_sr
            starts = np.asarray(choose_starts(duration_s), dtype=np.float64)
            n_out = int(round(n_seconds * sr))
            margin = int(round(SPAN_MARGIN_S * source_sr))
            span_frames = int(round(n_seconds * source_sr))
            out = np.empty((len(starts), n_out), dtype=np.float32)
            peak = 0.0
            for i, start in enumerate(starts):
                first = int(round(start * source_sr))
                if span_frames >= declared:  # shorter than a fragment: the whole track, looped
                    y = _read_span(f, path, first=0, n_frames=declared, declared=declared)
                    lead = 0
                else:
                    first = min(max(first, 0), declared - span_frames)
                    lo, hi = max(first - margin, 0), min(first + span_frames + margin, declared)
                    y = _read_span(f, path, first=lo, n_frames=hi - lo, declared=declared)
                    lead = first - lo
                peak = max(peak, _finite_peak(path, y))
                if source_sr != sr:
                    y = soxr.resample(y, source_sr, sr, quality=RESAMPLE_QUALITY).astype(np.float32, copy=False)
                    lead = int(round(lead * sr / source_sr))
                y = y[lead : lead + n_out]
                out[i] = np.resize(y, n_out) if len(y) < n_out else y
    except (sf.LibsndfileError, RuntimeError, ValueError) as exc:
        raise _decode_failure(path, exc) from exc
    if check_silence and len(out):
        _check_not_silent(path, peak)
    return DecodedSpans(samples=out, starts_s=starts, sr=sr, duration_s=duration_s, source_sr=source_sr,
                        channels=channels, format=fmt)
