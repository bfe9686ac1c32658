from __future__ import annotations

import math

import numpy as np
import pandas as pd
from mutagen.flac import FLAC
from mutagen.id3 import ID3, TCON, TIT2, TPE1, TSRC, USLT

from embeddings.tags import normalise_text, read_tags
from tests.conftest import synth, write_audio


def test_flac_vorbis_comments(tmp_path):
    path = write_audio(tmp_path / "t.flac", synth(2.0))
    f = FLAC(path)
    f["title"], f["artist"], f["album"] = "Song", "Band", "Record"
    f["genre"] = ["Rock", "Indie"]
    f["isrc"], f["lyrics"] = "GBAYE0601498", "la la la"
    f.save()
    tags = read_tags(path)
    assert tags["title"] == "Song" and tags["artist"] == "Band" and tags["album"] == "Record"
    assert tags["genre"] == "Rock; Indie"
    assert tags["isrc"] == "GBAYE0601498"
    assert tags["lyrics"] == "la la la"
    assert abs(tags["duration_s"] - 2.0) < 0.01


def test_mp3_id3_frames_with_lyrics(tmp_path):
    path = write_audio(tmp_path / "t.mp3", synth(2.0), format="MP3")
    id3 = ID3()
    id3.add(TIT2(encoding=3, text="Title"))
    id3.add(TPE1(encoding=3, text="Artist"))
    id3.add(TCON(encoding=3, text="Jazz"))
    id3.add(TSRC(encoding=3, text="USRC17607839"))
    id3.add(USLT(encoding=3, lang="eng", desc="", text="words"))
    id3.save(path)
    tags = read_tags(path)
    assert (tags["title"], tags["artist"], tags["genre"], tags["isrc"], tags["lyrics"]) == (
        "Title", "Artist", "Jazz", "USRC17607839", "words"
    )


def test_untagged_file_falls_back_to_stem_and_sidecar_lyrics(tmp_path):
    path = write_audio(tmp_path / "My Song.wav", synth(1.0))
    (tmp_path / "My Song.lrc").write_text("[00:01.00] hello\n")
    tags = read_tags(path)
    assert tags["title"] == "My Song"
    assert tags["artist"] == "" and tags["isrc"] == ""
    assert tags["lyrics"] == "hello"  # LRC timestamps stripped


def test_unreadable_tags_do_not_raise(tmp_path):
    path = tmp_path / "junk.mp3"
    path.write_bytes(b"not an mp3 at all" * 10)
    tags = read_tags(path)
    assert tags["title"] == "junk" and math.isnan(tags["duration_s"])


def test_normalise_text():
    assert normalise_text("Beyoncé  — Halo!") == "beyonce halo"
    assert normalise_text("Simon & Garfunkel") == "simon and garfunkel"
    assert normalise_text("Guns N’ Roses") == normalise_text("GUNS N' ROSES") == "guns n roses"
    assert normalise_text("Straße") == "strasse"  # case-folded, not only lower-cased
    assert normalise_text("宇多田ヒカル") == "宇多田ヒカル"  # every script's letters are kept
    for missing in (None, float("nan"), np.float32("nan"), pd.NA):
        assert normalise_text(missing) == ""
