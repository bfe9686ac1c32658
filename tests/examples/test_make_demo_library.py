from __future__ import annotations

import csv
import sys
from pathlib import Path

import librosa
import numpy as np
import pytest
import soundfile as sf
from mutagen.flac import FLAC
from mutagen.id3 import ID3
from mutagen.oggvorbis import OggVorbis
from mutagen.wave import WAVE
from sklearn.metrics import silhouette_samples

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples"))

from make_demo_library import PLAYLISTS, DemoLibrary, main, make_demo_library, plan_tracks  # noqa: E402

SHORT = (6.0, 10.0)
STYLE_NAMES = ["Ambient", "Electronic", "Acoustic", "Ballad", "Rock", "Jazz"]


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> DemoLibrary:
    return make_demo_library(tmp_path_factory.mktemp("demo") / "music", n_tracks=12, seed=0, duration_range=SHORT)


def decode(path: Path) -> tuple[np.ndarray, int]:
    y, sr = sf.read(path, dtype="float32", always_2d=True)
    return y, sr


def test_layout_formats_and_audio(library):
    tracks = library.tracks
    assert len(tracks) == 12 and [t.style for t in tracks[:6]] == STYLE_NAMES
    assert {t.format for t in tracks} == {"flac", "wav", "ogg", "mp3"}
    assert [t.format for t in tracks[:10]] == ["flac", "wav", "ogg", "flac", "wav", "mp3", "flac", "wav", "ogg", "flac"]
    for t in tracks:
        path = library.root / t.path
        style, artist, name = Path(t.path).parts
        assert (style, artist) == (t.style, t.artist)
        assert name == f"{t.tracknumber:02d} - {t.title}.{t.format}"
        y, sr = decode(path)
        assert sr == (44100 if t.format == "mp3" else 22050) == t.sample_rate
        assert y.shape[1] == t.channels
        assert SHORT[0] <= t.duration_s <= SHORT[1]
        # MP3 decoders add encoder delay / padding frames
        assert abs(len(y) / sr - t.duration_s) < (0.1 if t.format == "mp3" else 1 / sr + 1e-9)
        peak = np.abs(y).max()
        assert 0.5 < peak <= 1.0 and np.sqrt(np.mean(y**2)) > 0.03
    # every artist numbers its own tracks 1, 2, ...
    per_artist: dict[str, list[int]] = {}
    for t in tracks:
        per_artist.setdefault(t.artist, []).append(t.tracknumber)
    assert all(nums == list(range(1, len(nums) + 1)) for nums in per_artist.values())
    assert len(per_artist) == 12 and len({t.title for t in tracks}) == 12


def _tags(path: Path, fmt: str) -> dict[str, str | None]:
    if fmt in ("flac", "ogg"):
        audio = FLAC(path) if fmt == "flac" else OggVorbis(path)
        get = {k: audio.get(k.upper(), [None])[0] for k in ("title", "artist", "album", "genre", "tracknumber",
                                                           "isrc", "lyrics")}
        return get
    id3 = WAVE(path).tags if fmt == "wav" else ID3(path)
    frames = {"title": "TIT2", "artist": "TPE1", "album": "TALB", "genre": "TCON", "tracknumber": "TRCK",
              "isrc": "TSRC"}
    out = {k: (str(id3[f].text[0]) if f in id3 else None) for k, f in frames.items()}
    uslt = id3.getall("USLT")
    out["lyrics"] = uslt[0].text if uslt else None
    return out


def test_tags_read_back_with_mutagen(library):
    for i, t in enumerate(library.tracks):
        tags = _tags(library.root / t.path, t.format)
        assert (tags["title"], tags["artist"], tags["album"], tags["genre"], tags["tracknumber"]) == (
            t.title, t.artist, t.album, t.style, str(t.tracknumber)), t.path
        assert tags["isrc"] == (f"XXCTK26{i + 1:05d}" if i % 2 == 0 else None)
        if t.isrc:
            assert len(t.isrc) == 12 and t.isrc[:5].isalpha() and t.isrc[5:].isdigit()
        if t.lyrics == "embedded":
            assert tags["lyrics"] and len(tags["lyrics"].splitlines()) >= 4
        else:
            assert tags["lyrics"] is None
    assert {t.lyrics for t in library.tracks} == {"lrc", "embedded", None}


def test_lrc_sidecars_next_to_their_tracks(library):
    with_lrc = [t for t in library.tracks if t.lyrics == "lrc"]
    assert len(with_lrc) == 3
    for t in with_lrc:
        lines = (library.root / t.path).with_suffix(".lrc").read_text(encoding="utf-8").splitlines()
        assert lines[:3] == [f"[ti:{t.title}]", f"[ar:{t.artist}]", f"[al:{t.album}]"]
        stamps = [line[1:9] for line in lines[3:]]
        assert len(stamps) >= 4 and all(s[2] == ":" and s[5] == "." for s in stamps)
        seconds = [int(s[:2]) * 60 + float(s[3:]) for s in stamps]
        assert seconds == sorted(seconds) and seconds[-1] < t.duration_s
    assert len(list(library.root.rglob("*.lrc"))) == 3


def test_playlists_reference_existing_files(library):
    assert set(library.playlists) == set(PLAYLISTS)
    for name, path in library.playlists.items():
        lines = path.read_text(encoding="utf-8").splitlines()
        assert lines[0] == "#EXTM3U"
        infos, entries = lines[1::2], lines[2::2]
        assert all(i.startswith("#EXTINF:") for i in infos) and len(infos) == len(entries)
        targets = [(path.parent / e).resolve() for e in entries]
        assert all(not Path(e).is_absolute() and "\\" not in e for e in entries)
        assert all(p.is_file() for p in targets)
        expected = [t for t in library.tracks if t.style in PLAYLISTS[name]]
        assert targets == [(library.root / t.path).resolve() for t in expected]
        assert infos == [f"#EXTINF:{round(t.duration_s)},{t.artist} - {t.title}" for t in expected]


def test_labels_csv(library):
    with open(library.labels_path, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [(r["path"], r["style"], r["artist"]) for r in rows] == [(t.path, t.style, t.artist) for t in library.tracks]
    assert all((library.root / r["path"]).is_file() for r in rows)
    assert [float(r["tempo_bpm"]) for r in rows] == [t.tempo_bpm for t in library.tracks]


def _mfcc_summary(path: Path) -> np.ndarray:
    y, sr = decode(path)
    y = librosa.resample(y.mean(axis=1), orig_sr=sr, target_sr=22050, res_type="soxr_hq") if sr != 22050 else y.mean(1)
    mfcc = librosa.feature.mfcc(y=y, sr=22050, n_mfcc=20)
    return np.concatenate([mfcc.mean(axis=1), mfcc.std(axis=1)])


def test_styles_are_spectrally_distinct(library):
    styles = np.array([t.style for t in library.tracks])
    feats = np.stack([_mfcc_summary(library.root / t.path) for t in library.tracks])
    feats = (feats - feats.mean(axis=0)) / feats.std(axis=0)
    # tracks of a style cluster together: a positive silhouette, and the nearest other track is mostly of the
    # same style (chance: 1 in 6) even on 6-10 s excerpts summarised by 40 numbers
    silhouette = silhouette_samples(feats, styles)
    distances = np.linalg.norm(feats[:, None] - feats[None], axis=-1)
    np.fill_diagonal(distances, np.inf)
    same_style_nn = (styles[distances.argmin(axis=1)] == styles).mean()
    assert silhouette.mean() > 0.15 and same_style_nn >= 0.75, (silhouette, same_style_nn)
    # and they differ the way they were designed: pads/piano are dark and calm, rock and techno bright and busy
    centroid, activity = {}, {}
    for t in library.tracks:
        y, sr = decode(library.root / t.path)
        y = y.mean(axis=1)
        centroid.setdefault(t.style, []).append(librosa.feature.spectral_centroid(y=y, sr=sr).mean())
        activity.setdefault(t.style, []).append(librosa.onset.onset_strength(y=y, sr=sr).mean())
    c = {s: np.mean(v) for s, v in centroid.items()}
    a = {s: np.mean(v) for s, v in activity.items()}
    assert max(c["Ambient"], c["Ballad"]) < min(c["Acoustic"], c["Rock"], c["Electronic"], c["Jazz"])
    assert max(a["Ambient"], a["Ballad"]) < min(a["Electronic"], a["Acoustic"], a["Rock"])


def test_same_seed_same_audio_and_bytes(tmp_path):
    first = make_demo_library(tmp_path / "a", n_tracks=6, seed=3, duration_range=SHORT)
    second = make_demo_library(tmp_path / "b", n_tracks=6, seed=3, duration_range=SHORT)
    assert first.tracks == second.tracks
    for t in first.tracks:
        a, b = (lib.root / t.path for lib in (first, second))
        np.testing.assert_array_equal(decode(a)[0], decode(b)[0])
        assert a.read_bytes() == b.read_bytes(), t.path
    other = make_demo_library(tmp_path / "c", n_tracks=6, seed=4, duration_range=SHORT)
    assert [t.title for t in other.tracks] != [t.title for t in first.tracks]


def test_first_tracks_do_not_depend_on_the_library_size():
    kwargs = dict(seed=0, duration_range=(30, 60), sr=22050, formats=("flac", "wav", "ogg", "mp3"))
    assert plan_tracks(n_tracks=5, **kwargs) == plan_tracks(n_tracks=40, **kwargs)[:5]
    full = plan_tracks(n_tracks=40, **kwargs)
    assert {t.style for t in full} == set(STYLE_NAMES) and len({t.artist for t in full}) == 18
    assert all(30 <= t.duration_s <= 60 for t in full)


def test_rerun_reuses_an_identical_library_and_replaces_another(tmp_path):
    out = tmp_path / "music"
    first = make_demo_library(out, n_tracks=3, duration_range=SHORT)
    mtimes = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    again = make_demo_library(out, n_tracks=3, duration_range=SHORT)
    assert again.reused and not first.reused and again.tracks == first.tracks
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()} == mtimes
    replaced = make_demo_library(out, n_tracks=2, seed=1, duration_range=SHORT)
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    expected = sorted([t.path for t in replaced.tracks] + [t.path[:-len(t.format)] + "lrc" for t in replaced.tracks
                                                            if t.lyrics == "lrc"]
                      + [f"Playlists/{n}.m3u8" for n in replaced.playlists] + ["labels.csv", ".demo_library.json"])
    assert files == expected


def test_refuses_a_folder_that_is_not_a_demo_library(tmp_path):
    (tmp_path / "mine.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="not empty"):
        make_demo_library(tmp_path, n_tracks=2, duration_range=SHORT)
    assert (tmp_path / "mine.txt").read_text() == "keep me"
    with pytest.raises(ValueError, match="n_tracks=0"):
        make_demo_library(tmp_path / "new", n_tracks=0)


def test_cli(tmp_path, capsys):
    assert main([str(tmp_path / "m"), "--n-tracks", "2", "--short", "--seed", "5"]) == 0
    out = capsys.readouterr().out
    assert "2 tracks (1 FLAC, 1 WAV), 2 playlists" in out
    with open(tmp_path / "m" / "labels.csv", encoding="utf-8") as f:
        assert len(f.read().splitlines()) == 3
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "f").write_text("")
    assert main([str(tmp_path / "x"), "--short"]) == 2
    assert "error:" in capsys.readouterr().err
