"""A learned vector and the handcrafted `features` vector of the same fragment, side by side.

The contrastive encoder learns what separates productions but is blind to the overall level and
dynamics of a fragment (it standardises every fragment) and to whatever its short training did not
reward; the handcrafted descriptors (MFCC, chroma, contrast, loudness, onsets, tempo statistics) keep
exactly those. ``hybrid`` concatenates both, computed from the same log-mel fragment (one decode, one
log-mel, so every speed-up of ``ctk embed``'s front end applies to both halves):

    [ w_learned  * (e - mu_e) / sd_e / sqrt(dim_e) ,  w_features * f / sqrt(dim_f) ]

``e`` is the encoder's embedding, standardised per dimension by fixed reference statistics fitted on
the encoder's training sources (``embedding_stats.json`` next to the checkpoint, written by
``bench/fit_embedding_stats.py``); ``f`` is the `features` vector, already standardised by its own
shipped statistics. Dividing each block by the square root of its width gives both blocks the same
expected squared norm, so neither dominates a cosine or a k-means distance by having more dimensions;
``w_learned`` / ``w_features`` (both 1 by default) shift the balance. Every map is fixed, so a vector
never depends on the library it came from, and the track vector (the mean of the fragment vectors)
is the same concatenation of the two backends' own track vectors.

Pooling ``mean+std`` (spec ``hybrid+std[:PATH]``) adds a third block to the *track* vector: the std over the
track's fragments of the standardised learned vectors ``(e - mu_e) / sd_e``, itself standardised per
dimension by fixed statistics of that std over the training sources' tracks (``pooling_stats.json`` next to
the checkpoint, written by ``bench/fit_pooling_stats.py``, which also holds the block's weight ``w_std``):

    track = [ mean of the fragment vectors (both blocks above) ,  w_std * (s - mu_s) / sd_s / sqrt(dim_e) ]

Fragment vectors keep the store's single width: their std block is zero (a fragment has no spread), so
fragment-to-fragment cosines are those of ``hybrid``'s vectors. A track of fewer than ``STD_MIN_FRAGMENTS``
fragments (a jingle shorter than two fragments) has no spread to measure either: its std block is zero too,
the neutral value, rather than the standardised value of a zero std, which would be far below the training
tracks' and shared by every such track, pulling all short tracks together.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from embeddings.backends.attention_pooling import ATTENTION_FILE, attention_pooled, read_attention_pooling
from embeddings.backends.base import check_mean_std, model_id, read_stats_file
from embeddings.backends.encoder import EncoderBackend
from embeddings.backends.features import FeaturesBackend
from embeddings.errors import CheckpointError

STATS_FORMAT = "ctk-embedding-stats/1"
STATS_FILE = "embedding_stats.json"
POOLING_STATS_FORMAT = "ctk-pooling-stats/1"
POOLING_STATS_FILE = "pooling_stats.json"
POOLINGS = ("mean", "mean+std", "attention")
STD_MIN_FRAGMENTS = 2  # fewer fragments than this: no std block (zeros)


def _write_mean_std(path: str | Path, x: np.ndarray, header: dict[str, Any], *, rows: str) -> dict[str, Any]:
    """``header`` plus the per-dimension mean and std of ``x`` ``(n >= 2, dim)``, as JSON at ``path``. A dimension
    with std below 1e-6 gets std 1 (only centred)."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or len(x) < 2:
        raise CheckpointError(f"need (n_{rows} >= 2, dim) vectors to fit statistics, got {x.shape}")
    stats = {**header, "mean": [round(float(v), 7) for v in x.mean(axis=0)],
             "std": [round(float(v), 7) if v >= 1e-6 else 1.0 for v in x.std(axis=0)]}
    Path(path).write_text(json.dumps(stats, indent=1) + "\n")
    return stats


def write_embedding_stats(
    path: str | Path, embeddings: np.ndarray, *, weights_sha256: str, fitted_on: dict[str, Any]
) -> dict[str, Any]:
    """Per-dimension mean and std of ``embeddings`` ``(n_fragments, dim)`` of the model whose weights hash
    ``weights_sha256``, as JSON at ``path``. A dimension with std below 1e-6 gets std 1 (only centred)."""
    header = {"format": STATS_FORMAT, "weights_sha256": weights_sha256, "fitted_on": fitted_on}
    return _write_mean_std(path, embeddings, header, rows="fragments")


def read_embedding_stats(path: str | Path, *, weights_sha256: str, dim: int) -> dict[str, Any]:
    """The statistics at ``path``, checked against the model they must belong to; :class:`CheckpointError`
    naming the file and the reason otherwise."""
    path = Path(path)
    stats = read_stats_file(path, what="embedding", stats_format=STATS_FORMAT,
                            fit_command=f"python bench/fit_embedding_stats.py {path.parent} TRAIN_FOLDER")
    if stats.get("weights_sha256") != weights_sha256:
        raise CheckpointError(f"embedding statistics {path} were fitted for other weights; refit them")
    check_mean_std(stats, path, what="embedding", dim=dim)
    return stats


def sha256_of(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def write_pooling_stats(
    path: str | Path, track_stds: np.ndarray, *, weight: float, weights_sha256: str, embedding_stats_sha256: str,
    fitted_on: dict[str, Any],
) -> dict[str, Any]:
    """Per-dimension mean and std over tracks of ``track_stds`` ``(n_tracks, dim_e)`` (each the std over a
    track's fragments of its standardised learned vectors), and the std block's ``weight``, as JSON at ``path``;
    tied to the encoder's weights and its embedding statistics by their SHA-256."""
    header = {"format": POOLING_STATS_FORMAT, "weights_sha256": weights_sha256,
              "embedding_stats_sha256": embedding_stats_sha256, "weight": float(weight), "fitted_on": fitted_on}
    return _write_mean_std(path, track_stds, header, rows="tracks")


class HybridBackend:
    """:class:`~embeddings.backends.base.EmbeddingBackend`: standardised encoder vector + `features` vector."""

    name = "hybrid"

    def __init__(
        self,
        encoder: EncoderBackend,
        features: FeaturesBackend | None = None,
        *,
        stats_path: str | Path | None = None,
        learned_weight: float = 1.0,
        features_weight: float = 1.0,
        pooling: str = "mean",
        pooling_stats_path: str | Path | None = None,
        attention_path: str | Path | None = None,
    ) -> None:
        if pooling not in POOLINGS:
            raise CheckpointError(f"hybrid pooling {pooling!r} is not one of {', '.join(POOLINGS)}")
        self.encoder = encoder
        self.features = features if features is not None else FeaturesBackend(encoder.audio)
        if self.features.audio != encoder.audio:
            raise CheckpointError(
                f"hybrid needs one front end: the encoder uses {encoder.audio}, the features {self.features.audio}"
            )
        self.audio = encoder.audio
        path = Path(stats_path) if stats_path is not None else Path(encoder.checkpoint.path) / STATS_FILE
        stats = read_embedding_stats(path, weights_sha256=encoder.checkpoint.weights_sha256, dim=encoder.dim)
        self._mean = np.asarray(stats["mean"], dtype=np.float64)
        self._std = np.asarray(stats["std"], dtype=np.float64)
        self._scale = learned_weight / (self._std * np.sqrt(encoder.dim))
        self._features_scale = features_weight / np.sqrt(self.features.dim)
        self.learned_weight, self.features_weight = float(learned_weight), float(features_weight)
        self.dim = encoder.dim + self.features.dim
        self._stats_hash = sha256_of(path)
        self.pooling = pooling
        if pooling != "mean":
            ppath = (Path(pooling_stats_path) if pooling_stats_path is not None
                     else Path(encoder.checkpoint.path) / POOLING_STATS_FILE)
            pstats = read_stats_file(ppath, what="pooling", stats_format=POOLING_STATS_FORMAT,
                                     fit_command=f"python bench/fit_pooling_stats.py {ppath.parent} TRAIN_FOLDER")
            if (pstats.get("weights_sha256") != encoder.checkpoint.weights_sha256
                    or pstats.get("embedding_stats_sha256") != self._stats_hash):
                raise CheckpointError(f"pooling statistics {ppath} were fitted for other weights or embedding "
                                      "statistics; refit them")
            check_mean_std(pstats, ppath, what="pooling", dim=encoder.dim)
            self._std_mean = np.asarray(pstats["mean"], dtype=np.float64)
            self._std_scale = float(pstats["weight"]) / (np.asarray(pstats["std"], dtype=np.float64)
                                                         * np.sqrt(encoder.dim))
            self.std_weight = float(pstats["weight"])
            self._pooling_hash = sha256_of(ppath)
            self.dim += encoder.dim
        self.attention = None
        if pooling == "attention":
            apath = (Path(attention_path) if attention_path is not None
                     else Path(encoder.checkpoint.path) / ATTENTION_FILE)
            self.attention = read_attention_pooling(apath, ties=self.attention_ties(), dim=self.mean_dim)
            self._attention_hash = sha256_of(apath)

    @property
    def mean_dim(self) -> int:
        """Width of the mean part of a track vector: the learned block and the `features` block."""
        return self.encoder.dim + self.features.dim

    def attention_ties(self) -> dict[str, str]:
        """What an attention head fitted on this backend's vectors is tied to (``mean+std`` or ``attention``)."""
        return {"weights_sha256": self.encoder.checkpoint.weights_sha256, "embedding_stats_sha256": self._stats_hash,
                "pooling_stats_sha256": self._pooling_hash, "features_model": model_id(self.features.describe())}

    @classmethod
    def from_checkpoint(cls, path: str | Path, **kwargs: Any) -> HybridBackend:
        return cls(EncoderBackend.from_checkpoint(path), **kwargs)

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "backend": "hybrid",
            "config": {"learned_weight": self.learned_weight, "features_weight": self.features_weight,
                       "embedding_stats": self._stats_hash,
                       # mean pooling adds no key: stores of mean vectors keep their model id
                       **({"pooling": self.pooling, "pooling_stats": self._pooling_hash,
                           "std_min_fragments": STD_MIN_FRAGMENTS}
                          if self.pooling != "mean" else {}),
                       **({"attention_pooling": self._attention_hash} if self.pooling == "attention" else {})},
            "encoder": self.encoder.describe(),
            "features": self.features.describe(),
            "audio": self.encoder.describe()["audio"],
        }

    def split(self, vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The learned block and the `features` block of hybrid vectors ``(n, dim)``, each still scaled."""
        d = self.encoder.dim
        return vectors[:, :d], vectors[:, d : d + self.features.dim]

    def combine(self, learned: np.ndarray, features: np.ndarray) -> np.ndarray:
        """Hybrid vectors from the two backends' own vectors ``(n, dim_e)`` and ``(n, dim_f)`` (also valid
        for track vectors: every map is affine, so it commutes with the mean over fragments)."""
        e = (np.asarray(learned, dtype=np.float64) - self._mean) * self._scale
        f = np.asarray(features, dtype=np.float64) * self._features_scale
        return np.concatenate([e, f], axis=1).astype(np.float32)

    def standardised(self, learned: np.ndarray) -> np.ndarray:
        """Encoder vectors ``(n, dim_e)`` -> ``(e - mu_e) / sd_e`` by the fixed embedding statistics (float64)."""
        return (np.asarray(learned, dtype=np.float64) - self._mean) / self._std

    def std_block(self, standardised: np.ndarray) -> np.ndarray:
        """The ``mean+std`` pooling's std block ``(dim_e,)`` of one track from its fragments' standardised
        learned vectors ``(k, dim_e)`` (:meth:`standardised`; see the module docstring)."""
        return (np.asarray(standardised).std(axis=0) - self._std_mean) * self._std_scale

    def embed(self, log_mels: np.ndarray) -> np.ndarray:
        """``(batch, n_mels, n_frames)`` float32 log-mels (dB) -> ``(batch, dim)`` float32 (``mean+std``: the
        std block of a fragment is zero)."""
        out = self.combine(self.encoder.embed(log_mels), self.features.embed(log_mels))
        if self.pooling != "mean":
            out = np.concatenate([out, np.zeros((len(out), self.encoder.dim), dtype=np.float32)], axis=1)
        return out

    def pool(self, fragment_vectors: np.ndarray) -> np.ndarray:
        """Track vector ``(dim,)`` from this backend's fragment vectors ``(k, dim)``: their mean (``attention``: the
        head's weighted mean of the mean part), and with ``mean+std`` or ``attention`` the std block computed from
        their learned blocks (zeros below ``STD_MIN_FRAGMENTS``)."""
        x = np.asarray(fragment_vectors)
        track = x.mean(axis=0).astype(np.float32)  # exactly the mean pooling of every other backend
        if self.attention is not None:
            track[: self.mean_dim] = attention_pooled(self.attention, x[:, : self.mean_dim])
        if self.pooling != "mean" and len(x) >= STD_MIN_FRAGMENTS:
            d = self.encoder.dim
            z = x[:, :d].astype(np.float64) * (np.sqrt(d) / self.learned_weight)
            track[d + self.features.dim :] = self.std_block(z)
        return track
