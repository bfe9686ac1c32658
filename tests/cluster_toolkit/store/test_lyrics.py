"""The lyrics table: real files with sidecars and tags, a real store, the real text encoder; re-runs reuse."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from mutagen.flac import FLAC

from cluster_toolkit.store import LibraryStore
from cluster_toolkit.store.lyrics import TABLE, embed_lyrics, lyric_vectors
from embeddings.text_encoder import TextEncoder, text_hash
from tests.conftest import synth, write_audio

LOVE = "my heart is on fire\nburning all night\nlove me tonight"
FARM = "the tractor in the field\nrusty old plough\nrain on the barley"


def _store(tmp_path):
    music = tmp_path / "music"
    paths = {
        "a": write_audio(music / "a.flac", synth(1.0, seed=1)),
        "b": write_audio(music / "b.flac", synth(1.0, seed=2)),
        "c": write_audio(music / "c.wav", synth(1.0, seed=3)),
        "d": write_audio(music / "d.wav", synth(1.0, seed=4)),
        "e": write_audio(music / "e.wav", synth(1.0, seed=5)),
    }
    (music / "a.lrc").write_text("[ar:X]\n[00:01.00]my heart is on fire\n[00:02.00]burning all night\n"
                                 "[00:03.00]love me tonight\n", encoding="utf-8")
    tags = FLAC(paths["b"])
    tags["LYRICS"] = FARM
    tags.save()
    (music / "c.txt").write_text("[Instrumental]", encoding="utf-8")
    (music / "e.txt").write_text(LOVE, encoding="utf-8")  # same words as a: encoded once
    rows = [{"track_id": f"t{k}", "path": str(p), "size": 1, "mtime": 1.0, "title": k, "status": "ok",
             "n_fragments": 1} for k, p in paths.items()]
    store = LibraryStore.open(tmp_path / "lib", create=True)
    store.set_model({"name": "toy", "dim": 2}, "toy-000000000001", 2)
    store.commit_batch(pd.DataFrame(rows), track_embeddings=np.eye(5, 2, dtype=np.float32))
    return store, music


@pytest.fixture(scope="module")
def encoder():
    return TextEncoder()


def test_table_rows_flags_and_vectors(tmp_path, encoder):
    store, _ = _store(tmp_path)
    summary = embed_lyrics(store, encoder=encoder)
    assert (summary.tracks, summary.with_lyrics, summary.instrumental, summary.without) == (5, 3, 1, 1)
    assert (summary.encoded, summary.reused, summary.problems) == (2, 0, [])
    table = pq.read_table(tmp_path / "lib" / f"{TABLE}.parquet").to_pandas().set_index("track_id")
    assert table.loc[["ta", "tb", "tc", "td", "te"], "source"].tolist() == ["lrc", "vorbis", "txt", "none", "txt"]
    assert table["has_lyrics"].tolist() == [True, True, False, False, True]
    assert table.loc["tc", "instrumental"] and not table.loc["td", "instrumental"]
    assert table.loc["tc", "embedding"] is None and table.loc["td", "segments"] is None  # never a vector
    assert table.loc["ta", "text_hash"] == text_hash(LOVE) == table.loc["te", "text_hash"]
    expected = encoder.encode_lyrics([LOVE])[0]
    np.testing.assert_allclose(np.asarray(table.loc["ta", "embedding"]), expected.track, atol=1e-6)
    assert len(table.loc["ta", "segments"]) == 3
    ids, vectors = lyric_vectors(store)
    assert ids["track_id"].tolist() == ["ta", "tb", "te"] and vectors.shape == (3, 384)
    assert float(vectors[0] @ vectors[2]) == pytest.approx(1.0, abs=1e-6)
    assert float(vectors[0] @ vectors[1]) < 0.5


def test_rerun_reuses_and_only_changed_text_is_encoded(tmp_path, encoder):
    store, music = _store(tmp_path)
    embed_lyrics(store, encoder=encoder)
    first = store.read_table(TABLE)
    again = embed_lyrics(store, encoder=encoder)
    assert (again.encoded, again.reused) == (0, 3)
    pd.testing.assert_frame_equal(store.read_table(TABLE), first)
    (music / "e.txt").write_text("a brand new verse\nsung on the road", encoding="utf-8")
    (music / "d.txt").write_text(FARM, encoding="utf-8")  # d gains the lyrics b already had
    changed = embed_lyrics(store, encoder=encoder)
    assert (changed.encoded, changed.reused, changed.with_lyrics) == (1, 3, 4)
