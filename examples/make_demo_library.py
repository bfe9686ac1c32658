"""Synthesise a deterministic demo music library (numpy synthesis, soundfile + mutagen to write).

    python examples/make_demo_library.py OUT_DIR [--n-tracks 40] [--seed 0] [--short | --durations MIN MAX]

Six styles (see ``demo_styles``) with three artists each; track ``i`` belongs to style ``i % 6``
and artist ``(i // 6) % 3``, with its own key, tempo, length and seed. Layout::

    OUT_DIR/<Style>/<Artist>/NN - Title.<flac|wav|ogg|mp3>   (+ NN - Title.lrc for some tracks)
    OUT_DIR/Playlists/{Chill,Party,Unplugged}.m3u8          (#EXTINF, paths relative to the playlist)
    OUT_DIR/labels.csv                                      (path, style, artist, ... for evaluation)
    OUT_DIR/.demo_library.json                              (parameters and track list of this run)

Formats cycle FLAC, WAV, OGG/Vorbis, FLAC, WAV, MP3, FLAC, WAV, OGG, FLAC (MP3 only where
libsndfile can write it, FLAC otherwise; MP3 at 44.1 kHz, the rest at ``sr``); every fourth track
is stereo. Tags (title, artist, album,
genre = style, track number; an ISRC on every other track; embedded lyrics on some) are written with
mutagen: Vorbis comments for FLAC/OGG, ID3v2 for MP3 and for WAV (an ``id3 `` RIFF chunk, which
libsndfile skips when decoding). Same seed, same parameters, same libraries: identical bytes in every
format (libsndfile's random Ogg stream serial number is replaced by one derived from the track's seed).

A folder that already holds a demo library made with the same parameters is left as it is; one made
with other parameters is replaced; any other non-empty folder is refused.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
from demo_styles import STYLES, render
from demo_synth import TrackSpec
from mutagen.flac import FLAC
from mutagen.id3 import ID3, TALB, TCON, TIT2, TPE1, TRCK, TSRC, USLT
from mutagen.ogg import OggPage
from mutagen.oggvorbis import OggVorbis
from mutagen.wave import WAVE

MANIFEST = ".demo_library.json"
MANIFEST_VERSION = 1
# MPEG-2 layer III (22.05 kHz) written by libsndfile makes libmpg123 print bit-reservoir errors when
# read back in blocks; MPEG-1 at 44.1 kHz (what real MP3s use) decodes cleanly.
MP3_SAMPLE_RATE = 44100
WRITE_BLOCK_FRAMES = 1 << 16
FORMAT_CYCLE = ("flac", "wav", "ogg", "flac", "wav", "mp3", "flac", "wav", "ogg", "flac")
SOUNDFILE_FORMAT = {"flac": ("FLAC", "PCM_16"), "wav": ("WAV", "PCM_16"), "ogg": ("OGG", "VORBIS"),
                    "mp3": ("MP3", "MPEG_LAYER_III")}
PLAYLISTS = {"Chill": ("Ambient", "Ballad"), "Party": ("Electronic", "Rock"), "Unplugged": ("Acoustic", "Jazz")}
PITCHES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
ADJECTIVES = ("Amber", "Silver", "Hollow", "Electric", "Quiet", "Paper", "Velvet", "Northern", "Broken",
              "Golden", "Distant", "Crimson", "Weightless", "Midnight", "Faded", "Neon", "Salt", "Winter",
              "Lucid", "Wild", "Copper", "Blue", "Éphémère", "Tender")
NOUNS = ("Harbour", "Signal", "Garden", "Engine", "Lantern", "Horizon", "Letters", "Static", "Orchard",
         "Tides", "Avenue", "Echoes", "Satellite", "Meadow", "Mirrors", "Rooftops", "Café", "Embers",
         "Highway", "Compass", "Weather", "Pulse", "Rivers", "Skyline")
LYRIC_WORDS = ("light", "river", "home", "night", "slow", "burning", "hold", "again", "city", "dream",
               "falling", "stay", "heart", "window", "morning", "gone", "run", "sky", "close", "away")


@dataclass(frozen=True)
class DemoTrack:
    """One generated file and the ground truth it was made from."""

    path: str  # relative to the library root, POSIX separators
    style: str
    artist: str
    album: str
    title: str
    tracknumber: int
    key: str  # e.g. "A minor"
    tempo_bpm: float
    duration_s: float
    format: str  # flac | wav | ogg | mp3
    sample_rate: int  # of the file: ``sr``, but 44100 for MP3
    channels: int
    isrc: str | None
    lyrics: str | None  # "lrc" (sidecar file) | "embedded" | None
    seed: int


@dataclass(frozen=True)
class DemoLibrary:
    """Summary of a generated library; paths in ``tracks`` are relative to ``root``."""

    root: Path
    tracks: tuple[DemoTrack, ...]
    playlists: dict[str, Path]
    labels_path: Path
    reused: bool  # True when an identical library was already there and nothing was written


def plan_tracks(*, n_tracks: int, seed: int, duration_range: tuple[float, float], sr: int,
                formats: tuple[str, ...]) -> list[DemoTrack]:
    """The track list of a library (no audio). Track ``i`` does not depend on ``n_tracks``."""
    rng = np.random.default_rng(seed)
    tracks: list[DemoTrack] = []
    titles: set[str] = set()
    per_artist: dict[str, int] = {}
    for i in range(n_tracks):
        style = STYLES[i % len(STYLES)]
        artist = style.artists[(i // len(STYLES)) % len(style.artists)]
        root = int(rng.integers(12))
        mode = style.mode if style.mode != "either" else ("major", "minor")[int(rng.integers(2))]
        tempo = round(float(rng.uniform(*artist.tempo)) * 2) / 2
        duration = round(float(rng.uniform(*duration_range)), 1)
        title = f"{ADJECTIVES[int(rng.integers(len(ADJECTIVES)))]} {NOUNS[int(rng.integers(len(NOUNS)))]}"
        track_seed = int(rng.integers(2**31))
        while title in titles:
            title += " II"
        titles.add(title)
        per_artist[artist.name] = number = per_artist.get(artist.name, 0) + 1
        fmt = FORMAT_CYCLE[i % len(FORMAT_CYCLE)]
        fmt = fmt if fmt in formats else "flac"
        tracks.append(DemoTrack(
            path=f"{style.name}/{artist.name}/{number:02d} - {title}.{fmt}",
            style=style.name, artist=artist.name, album=artist.album, title=title, tracknumber=number,
            key=f"{PITCHES[root]} {mode}", tempo_bpm=tempo, duration_s=duration, format=fmt,
            sample_rate=MP3_SAMPLE_RATE if fmt == "mp3" else sr, channels=2 if i % 4 == 3 else 1,
            isrc=f"XXCTK26{i + 1:05d}" if i % 2 == 0 else None, lyrics={1: "lrc", 3: "embedded"}.get(i % 4),
            seed=track_seed,
        ))
    return tracks


def render_track(track: DemoTrack, *, sr: int) -> np.ndarray:
    """Samples of one track: ``(n,)`` mono or ``(n, 2)`` stereo float32."""
    style = next(s for s in STYLES if s.name == track.style)
    artist = next(a for a in style.artists if a.name == track.artist)
    pitch, mode = track.key.split()
    spec = TrackSpec(style=track.style, root=PITCHES.index(pitch), mode=mode, tempo=track.tempo_bpm,
                     duration_s=track.duration_s, seed=track.seed, params=artist.params)
    y = render(spec, sr=sr)
    if track.channels == 2:  # a fixed pan; the mono mix-down is the rendered track
        y = np.stack([1.1 * y, 0.9 * y], axis=1) / 1.1
    return y.astype(np.float32)


def write_audio(path: Path, y: np.ndarray, *, sr: int, container: str, subtype: str) -> None:
    """Write in blocks: libvorbis allocates one whole write on the stack, so writing a track of more
    than ~2M samples to OGG in one call overflows an 8 MB stack and segfaults (xiph/vorbis#99)."""
    channels = 1 if y.ndim == 1 else y.shape[1]
    with sf.SoundFile(path, "w", samplerate=sr, channels=channels, format=container, subtype=subtype) as f:
        for start in range(0, len(y), WRITE_BLOCK_FRAMES):
            f.write(y[start : start + WRITE_BLOCK_FRAMES])


def fix_ogg_serial(path: Path, *, serial: int) -> None:
    """Give every Ogg page the same stream serial number: libsndfile picks a random one per file, the
    only thing that made two OGG files of the same audio differ byte for byte (CRCs are recomputed)."""
    pages = []
    with open(path, "rb") as f:
        while True:
            try:
                pages.append(OggPage(f))
            except EOFError:
                break
    for page in pages:
        page.serial = serial & 0xFFFFFFFF
    path.write_bytes(b"".join(page.write() for page in pages))


def lyrics_text(track: DemoTrack) -> list[str]:
    rng = np.random.default_rng(track.seed + 1)
    return [" ".join(LYRIC_WORDS[int(j)] for j in rng.integers(len(LYRIC_WORDS), size=int(rng.integers(3, 7))))
            .capitalize() for _ in range(int(rng.integers(4, 7)))]


def lrc_text(track: DemoTrack) -> str:
    lines = [f"[ti:{track.title}]", f"[ar:{track.artist}]", f"[al:{track.album}]"]
    text = lyrics_text(track)
    step = (track.duration_s - 2.0) / len(text)  # every line inside the track
    for k, line in enumerate(text):
        at = 1.0 + k * step
        lines.append(f"[{int(at // 60):02d}:{at % 60:05.2f}]{line}")
    return "\n".join(lines) + "\n"


def write_tags(path: Path, track: DemoTrack) -> None:
    """Title, artist, album, genre, track number, ISRC and embedded lyrics where the track has them."""
    lyrics = "\n".join(lyrics_text(track)) if track.lyrics == "embedded" else None
    if track.format in ("flac", "ogg"):
        audio = FLAC(path) if track.format == "flac" else OggVorbis(path)
        audio["TITLE"], audio["ARTIST"], audio["ALBUM"] = track.title, track.artist, track.album
        audio["GENRE"], audio["TRACKNUMBER"] = track.style, str(track.tracknumber)
        if track.isrc:
            audio["ISRC"] = track.isrc
        if lyrics:
            audio["LYRICS"] = lyrics
        audio.save()
        return
    frames = [TIT2(encoding=3, text=track.title), TPE1(encoding=3, text=track.artist),
              TALB(encoding=3, text=track.album), TCON(encoding=3, text=track.style),
              TRCK(encoding=3, text=str(track.tracknumber))]
    if track.isrc:
        frames.append(TSRC(encoding=3, text=track.isrc))
    if lyrics:
        frames.append(USLT(encoding=3, lang="eng", desc="", text=lyrics))
    if track.format == "wav":
        wave = WAVE(path)
        wave.add_tags()
        for frame in frames:
            wave.tags.add(frame)
        wave.save()
    else:
        id3 = ID3()
        for frame in frames:
            id3.add(frame)
        id3.save(path)


def write_playlist(path: Path, tracks: list[DemoTrack], root: Path) -> None:
    lines = ["#EXTM3U"]
    for t in tracks:
        rel = Path(os.path.relpath(root / t.path, path.parent)).as_posix()
        lines += [f"#EXTINF:{round(t.duration_s)},{t.artist} - {t.title}", rel]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _params(n_tracks: int, seed: int, duration_range: tuple[float, float], sr: int) -> dict:
    return {"version": MANIFEST_VERSION, "n_tracks": n_tracks, "seed": seed,
            "duration_range": [float(d) for d in duration_range], "sr": sr}


def _existing(out_dir: Path, params: dict) -> DemoLibrary | None:
    """The library already in ``out_dir`` when it was made with ``params`` and is complete."""
    manifest = json.loads((out_dir / MANIFEST).read_text())
    if manifest.get("params") != params:
        return None
    tracks = tuple(DemoTrack(**t) for t in manifest["tracks"])
    playlists = {name: out_dir / "Playlists" / f"{name}.m3u8" for name in manifest["playlists"]}
    files = [out_dir / t.path for t in tracks] + list(playlists.values()) + [out_dir / "labels.csv"]
    if not all(f.is_file() for f in files):
        return None
    return DemoLibrary(out_dir, tracks, playlists, out_dir / "labels.csv", reused=True)


def _remove_previous(out_dir: Path) -> None:
    """Delete the files a previous run listed in its manifest (and folders left empty)."""
    manifest = json.loads((out_dir / MANIFEST).read_text())
    names = [t["path"] for t in manifest.get("tracks", [])]
    names += [t["path"][: -len(t["format"])] + "lrc" for t in manifest.get("tracks", []) if t.get("lyrics") == "lrc"]
    names += [f"Playlists/{p}.m3u8" for p in manifest.get("playlists", [])] + ["labels.csv", MANIFEST]
    for name in names:
        (out_dir / name).unlink(missing_ok=True)
    for folder in sorted((p for p in out_dir.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
        if not any(folder.iterdir()):
            folder.rmdir()


def make_demo_library(out_dir: Path, *, n_tracks: int = 40, seed: int = 0,
                      duration_range: tuple[float, float] = (30, 60), sr: int = 22050) -> DemoLibrary:
    """Write the demo library into ``out_dir`` and return its summary (see the module docstring)."""
    if n_tracks < 1 or sr < 8000 or not 1.0 <= duration_range[0] <= duration_range[1]:
        raise ValueError(f"need n_tracks={n_tracks} >= 1, sr={sr} >= 8000 and "
                         f"1 <= duration_range[0] <= duration_range[1], got {duration_range}")
    out_dir = Path(out_dir)
    params = _params(n_tracks, seed, duration_range, sr)
    if (out_dir / MANIFEST).is_file():
        existing = _existing(out_dir, params)
        if existing is not None:
            return existing
        _remove_previous(out_dir)
    elif out_dir.exists() and any(out_dir.iterdir()):
        raise FileExistsError(f"{out_dir} is not empty and holds no demo library ({MANIFEST}); choose an empty folder")

    formats = tuple(f for f in SOUNDFILE_FORMAT if SOUNDFILE_FORMAT[f][0] in sf.available_formats())
    tracks = plan_tracks(n_tracks=n_tracks, seed=seed, duration_range=duration_range, sr=sr, formats=formats)
    for track in tracks:
        path = out_dir / track.path
        path.parent.mkdir(parents=True, exist_ok=True)
        container, subtype = SOUNDFILE_FORMAT[track.format]
        y = render_track(track, sr=sr)
        if track.sample_rate != sr:
            y = soxr.resample(y, sr, track.sample_rate, quality="HQ")
        write_audio(path, y, sr=track.sample_rate, container=container, subtype=subtype)
        write_tags(path, track)
        if track.format == "ogg":
            fix_ogg_serial(path, serial=track.seed)
        if track.lyrics == "lrc":
            path.with_suffix(".lrc").write_text(lrc_text(track), encoding="utf-8")

    playlists = {}
    (out_dir / "Playlists").mkdir(exist_ok=True)
    for name, styles in PLAYLISTS.items():
        members = [t for t in tracks if t.style in styles]
        if members:
            playlists[name] = out_dir / "Playlists" / f"{name}.m3u8"
            write_playlist(playlists[name], members, out_dir)

    labels_path = out_dir / "labels.csv"
    with open(labels_path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["path", "style", "artist", "album", "title", "key", "tempo_bpm", "format"])
        for t in tracks:
            writer.writerow([t.path, t.style, t.artist, t.album, t.title, t.key, t.tempo_bpm, t.format])
    manifest = {"params": params, "playlists": list(playlists), "tracks": [asdict(t) for t in tracks]}
    (out_dir / MANIFEST).write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return DemoLibrary(out_dir, tuple(tracks), playlists, labels_path, reused=False)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out_dir", type=Path)
    ap.add_argument("--n-tracks", type=int, default=40)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--short", action="store_true", help="6-10 s tracks instead of 30-60 s (for tests)")
    ap.add_argument("--durations", type=float, nargs=2, metavar=("MIN_S", "MAX_S"),
                    help="track lengths in seconds (e.g. 180 240 for benchmarks); overrides --short")
    args = ap.parse_args(argv)
    durations = tuple(args.durations) if args.durations else (6, 10) if args.short else (30, 60)
    start = time.perf_counter()
    try:
        library = make_demo_library(args.out_dir, n_tracks=args.n_tracks, seed=args.seed,
                                    duration_range=durations)
    except (ValueError, FileExistsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    counts = {f: sum(t.format == f for t in library.tracks) for f in SOUNDFILE_FORMAT}
    verb = "already up to date" if library.reused else f"written in {time.perf_counter() - start:.1f} s"
    print(f"demo library {library.root}: {len(library.tracks)} tracks "
          f"({', '.join(f'{n} {f.upper()}' for f, n in counts.items() if n)}), "
          f"{len(library.playlists)} playlists, labels in {library.labels_path.name}; {verb}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
