"""The fusion model on a library store (``ctk train-fusion``) and the three vector spaces of ``ctk similar``.

The audio tokens of a track are its stored fragment vectors; its lyric tokens are the line-run vectors
of the ``lyrics`` table (``ctk embed --lyrics``). After training, every ``ok`` track's fused vector is
written to the derived table ``fused_embeddings`` (``track_id``, ``embedding``, ``audio_model``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from cluster_toolkit.errors import UsageError
from cluster_toolkit.store.lyrics import TABLE as LYRICS_TABLE
from cluster_toolkit.store.protocol import Store
from embeddings.models.fusion import FusionConfig
from embeddings.training.fusion import FusionResult, FusionTrack, FusionTrainConfig, fuse, train_fusion
from playlists.library import Library

FUSED_TABLE = "fused_embeddings"
POSITIVES = ("track", "folder", "tag")


@dataclass(frozen=True)
class FusionLibraryResult:
    result: FusionResult
    tracks: int
    with_lyrics: int


def _group(row: pd.Series, positives: str) -> str | None:
    if positives == "folder":
        return str(Path(str(row["path"])).parent)
    if positives == "tag":
        genre = row.get("genre")
        first = str(genre).split(";")[0].strip() if isinstance(genre, str) else ""
        return first or None
    return None


def fusion_tracks(store: Store, *, positives: str = "track") -> tuple[list[str], list[FusionTrack]]:
    """Every ``ok`` track with fragments as a :class:`FusionTrack` (lyrics from the ``lyrics`` table)."""
    if positives not in POSITIVES:
        raise UsageError(f"--positives {positives!r} must be one of {', '.join(POSITIVES)}")
    if not store.has_table(LYRICS_TABLE):
        raise UsageError(f"{store.root}: no lyrics table; run `ctk embed MUSIC_DIR --lyrics` first")
    tracks = store.tracks().set_index("track_id")
    frames, vectors = store.fragment_embeddings()
    lyrics = store.read_table(LYRICS_TABLE).set_index("track_id")
    ids, out = [], []
    for track_id, rows in frames.groupby("track_id", sort=True).indices.items():
        segments = lyrics["segments"].get(track_id) if track_id in lyrics.index else None
        tokens = None
        if segments is not None and lyrics.at[track_id, "has_lyrics"]:
            tokens = np.stack([np.asarray(s, dtype=np.float32) for s in segments])
        group = _group(tracks.loc[track_id], positives) if track_id in tracks.index else None
        ids.append(track_id)
        out.append(FusionTrack(audio=vectors[rows], lyrics=tokens, group=group))
    if len(out) < 2:
        raise UsageError(f"{store.root}: train-fusion needs at least 2 analysed tracks, found {len(out)}")
    return ids, out


def train_fusion_library(
    store: Store,
    out_dir: str | Path,
    *,
    config: FusionTrainConfig,
    positives: str = "track",
    d_model: int = 128,
    embedding_dim: int = 128,
) -> FusionLibraryResult:
    """Train on the store's vectors, save the checkpoint to ``out_dir`` and the fused vectors to the store
    (the caller holds the writer's lock)."""
    ids, tracks = fusion_tracks(store, positives=positives)
    lyrics = store.read_table(LYRICS_TABLE)
    text_dim = next((t.lyrics.shape[1] for t in tracks if t.lyrics is not None), 384)
    model_config = FusionConfig(audio_dim=tracks[0].audio.shape[1], text_dim=text_dim, d_model=d_model,
                                embedding_dim=embedding_dim)
    info = {"audio_model": store.model_id, "text_model": str(lyrics["text_model"].iloc[0]) if len(lyrics) else None,
            "positives": positives, "tracks": len(tracks)}
    result = train_fusion(tracks, model_config=model_config, config=config, out_dir=out_dir, info=info)
    fused = fuse(result.model, tracks)
    store.write_table(FUSED_TABLE, pd.DataFrame({"track_id": ids, "embedding": list(fused),
                                                 "audio_model": store.model_id}))
    return FusionLibraryResult(result=result, tracks=len(tracks),
                               with_lyrics=sum(t.lyrics is not None for t in tracks))


SPACES = ("audio", "lyrics", "fused")


def space_vectors(store: Store, space: str) -> tuple[pd.DataFrame, np.ndarray]:
    """The ``ok`` tracks that have a vector in ``space`` and those vectors, rows aligned: ``audio`` (the
    pooled audio vectors), ``lyrics`` (tracks with lyrics only) or ``fused`` (after ``ctk train-fusion``)."""
    if space not in SPACES:
        raise UsageError(f"--space {space!r} must be one of {', '.join(SPACES)}")
    if space == "audio":
        return store.track_embeddings()
    table, how = (LYRICS_TABLE, "ctk embed MUSIC_DIR --lyrics")
    if space == "fused":
        table, how = FUSED_TABLE, "ctk train-fusion"
    if not store.has_table(table):
        raise UsageError(f"{store.root}: no {space} vectors yet; run `{how}` first")
    rows = store.read_table(table)
    if space == "lyrics":
        rows = rows[rows["has_lyrics"]]
    elif len(rows) and rows["audio_model"].iloc[0] != store.model_id:
        raise UsageError(f"{store.root}: the fused vectors were made from the audio vectors of "
                         f"{rows['audio_model'].iloc[0]}, the store now holds {store.model_id}; run `{how}` again")
    tracks = store.tracks().merge(rows[["track_id", "embedding"]], on="track_id", how="inner")
    if tracks.empty:
        raise UsageError(f"{store.root}: no track has a {space} vector")
    vectors = np.stack([np.asarray(v, dtype=np.float32) for v in tracks.pop("embedding")])
    return tracks.reset_index(drop=True), vectors


def space_library(store: Store, space: str) -> tuple[Library, pd.DataFrame, np.ndarray]:
    """``ctk similar --space lyrics|fused``: the tracks with a vector in ``space`` as a :class:`Library`, with
    one pseudo-fragment per track (its vector), ready for :func:`playlists.recommend.similar`."""
    library = Library(*space_vectors(store, space))
    fragments = pd.DataFrame({"track_id": library.track_ids, "fragment_index": 0, "start_s": np.nan})
    return library, fragments, library.embeddings
