"""Decoding audio files to mono float32 at a target sample rate.

soundfile (libsndfile) decodes WAV, FLAC, OGG/Vorbis, Opus and MP3; soxr resamples.
Every failure is an :class:`AudioDecodeError` whose message names the file and the reason,
so the caller can record it and go on with the next file.
"""

from __future__ import annotations

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
    "is_audio_file",
    "load_audio",
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
        reason = str(exc).split(":", 1)[-1].strip() or type(exc).__name__
        if "possibly a pipe" in reason or "Format not recognised" in reason:
            # libsndfile's words when no decoder accepts the bytes (for MP3: "File does not exist or is
            # not a regular file (possibly a pipe?)" about a file that does exist)
            reason = f"no {suffix.lstrip('.').upper() or 'audio'} stream found in its bytes"
            raise AudioDecodeError(f"{path}: corrupt or not audio ({reason})") from exc
        if suffix not in DECODABLE_EXTENSIONS:
            raise AudioDecodeError(f"{path}: unsupported format {suffix or '(no extension)'} ({reason})") from exc
        raise AudioDecodeError(f"{path}: corrupt or truncated ({reason})") from exc
    if truncation:
        raise AudioDecodeError(f"{path}: truncated ({truncation})")
    if len(y) == 0:
        raise AudioDecodeError(f"{path}: no audio frames")
    # libsndfile reports a declared length for WAV/FLAC; decoding far less means a cut file.
    if 0 < declared < (1 << 62) and len(y) < 0.98 * declared:
        raise AudioDecodeError(
            f"{path}: truncated (decoded {len(y) / source_sr:.1f} s of {declared / source_sr:.1f} s declared)"
        )
    peak = max(float(y.max()), -float(y.min()))  # NaN or inf anywhere makes this non-finite
    if not np.isfinite(peak):
        raise AudioDecodeError(f"{path}: corrupt (non-finite samples)")
    if check_silence:
        if peak < SILENCE_PEAK:
            level = 20 * np.log10(peak) if peak > 0 else -np.inf
            raise AudioDecodeError(f"{path}: silent (peak {level:.0f} dBFS)")
    if source_sr != sr:
        y = soxr.resample(y, source_sr, sr, quality="HQ").astype(np.float32, copy=False)
    return DecodedAudio(y=y, sr=sr, source_sr=source_sr, channels=channels, format=fmt)
