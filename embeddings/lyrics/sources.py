"""Where a track's lyrics come from, tried in order.

1. a sidecar ``.lrc`` next to the audio file (same stem; timestamps and ``[ar:]``-style tag lines stripped),
2. a sidecar ``.txt`` (same stem),
3. the file's own tags, read with mutagen: ID3 ``USLT`` then ``SYLT`` (MP3, and ID3 in WAV/AIFF),
   Vorbis comments ``LYRICS`` then ``UNSYNCEDLYRICS`` (FLAC, Ogg Vorbis, Opus), MP4 ``\xa9lyr`` (M4A).

The first source that holds text wins. A track without any, or whose text only says it is instrumental
(``[Instrumental]``, ``instrumental``, ``(no lyrics)``...), gets :attr:`Lyrics.has_lyrics` ``False``: no lyric
vector is ever computed for it (an empty string would still embed to some vector, which would then look
similar to every other empty one).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mutagen

__all__ = ["NO_LYRICS", "SOURCES", "Lyrics", "lyrics_from_tags", "normalise_text", "read_lyrics", "strip_lrc"]

#: Every value of :attr:`Lyrics.source`, in the order the sources are tried (``none``: nothing found).
SOURCES = ("lrc", "txt", "uslt", "sylt", "vorbis", "mp4", "none")

# [mm:ss], [mm:ss.xx], [mm:ss:xx] line stamps and <mm:ss.xx> word stamps of enhanced LRC
_TIMESTAMP = re.compile(r"[\[<]\d{1,3}:\d{1,2}(?:[.:]\d{1,3})?[\]>]")
# [ar:Artist], [ti:Title], [offset:+100], [#:comment] ... lines that are metadata, not lyrics
_LRC_TAG_LINE = re.compile(r"^\[(?:[A-Za-z#]+):[^\]]*\]$")
# whole-text markers that say there is nothing to sing
_INSTRUMENTAL = re.compile(r"^[\[(]?\s*(?:instrumental|no lyrics|none|n/?a)\s*[\])]?[.!]?$", re.IGNORECASE)
# ID3 frames and Vorbis/MP4 keys, in the order they are tried
_VORBIS_KEYS = ("lyrics", "unsyncedlyrics")
_MP4_KEY = "\xa9lyr"


@dataclass(frozen=True)
class Lyrics:
    """A track's lyrics: normalised ``text`` ("" when none), where it came from, and why it is empty.

    ``source`` is one of :data:`SOURCES`; ``instrumental`` is True when a source said so explicitly.
    ``problem`` is a one-line note about a source that could not be read (the next source was tried).
    """

    text: str
    source: str
    instrumental: bool = False
    problem: str | None = None

    @property
    def has_lyrics(self) -> bool:
        return bool(self.text)


#: The value for a track with no lyrics found anywhere.
NO_LYRICS = Lyrics(text="", source="none")


def normalise_text(text: str) -> str:
    """Lines stripped, Windows/Mac line ends unified, runs of blank lines collapsed to one, ends trimmed."""
    lines = [line.strip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip()


def strip_lrc(text: str) -> str:
    """The sung text of an LRC file: metadata lines (``[ar:...]``, ``[offset:...]``) dropped, line and word
    timestamps removed, then :func:`normalise_text`."""
    lines = []
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line = line.strip()
        if _LRC_TAG_LINE.match(line) and not _TIMESTAMP.match(line):
            continue
        lines.append(_TIMESTAMP.sub("", line))
    return normalise_text("\n".join(lines))


def _result(text: str, source: str, problem: str | None = None) -> Lyrics:
    text = normalise_text(text)
    if _INSTRUMENTAL.match(text):
        return Lyrics(text="", source=source, instrumental=True, problem=problem)
    return Lyrics(text=text, source=source, problem=problem)


def _frame_texts(tags: Any, frame: str) -> list[str]:
    """Texts of the ID3 frames ``USLT``/``SYLT`` (any language or description), in tag order."""
    getall = getattr(tags, "getall", None)
    if getall is None:
        return []
    texts = []
    for item in getall(frame):
        if frame == "SYLT":  # a list of (text, time) pairs
            texts.append("".join(str(t) for t, _ in item.text))
        else:
            texts.append(str(item.text))
    return [t for t in texts if t.strip()]


def _mapping_texts(tags: Any, key: str) -> list[str]:
    """Values of ``key`` (case-insensitive) in a Vorbis-comment or MP4 tag mapping."""
    out: list[str] = []
    for name in list(tags.keys()):
        if str(name).lower() == key:
            values = tags[name]
            values = values if isinstance(values, list | tuple) else [values]
            out.extend(str(v) for v in values if str(v).strip())
    return out


def lyrics_from_tags(tags: Any) -> Lyrics:
    """The lyrics held in a mutagen tag object (``mutagen.File(path).tags``), or :data:`NO_LYRICS`."""
    if tags is None:
        return NO_LYRICS
    for frame, source in (("USLT", "uslt"), ("SYLT", "sylt")):
        texts = _frame_texts(tags, frame)
        if texts:
            return _result(texts[0], source)
    if hasattr(tags, "getall"):  # ID3 holds no Vorbis or MP4 keys
        return NO_LYRICS
    for key in _VORBIS_KEYS:
        texts = _mapping_texts(tags, key)
        if texts:
            return _result(texts[0], "vorbis")
    texts = _mapping_texts(tags, _MP4_KEY)
    if texts:
        return _result(texts[0], "mp4")
    return NO_LYRICS


def _read_sidecar(side: Path) -> str:
    return side.read_bytes().decode("utf-8-sig", errors="replace")


def read_lyrics(path: str | Path, *, tags: Any = None) -> Lyrics:
    """The lyrics of the audio file ``path``, from the first source of the module's list that has text.

    ``tags``: the file's mutagen tags when the caller has read them already (else they are read here).
    Never raises on a bad file: an unreadable sidecar or tag block is noted in :attr:`Lyrics.problem` and
    the next source is tried.
    """
    path = Path(path)
    problems: list[str] = []
    for ext, source in ((".lrc", "lrc"), (".txt", "txt")):
        side = path.with_suffix(ext)
        if not side.is_file():
            continue
        try:
            raw = _read_sidecar(side)
        except OSError as exc:
            problems.append(f"{side}: unreadable lyrics sidecar ({exc.strerror or exc})")
            continue
        found = _result(strip_lrc(raw) if source == "lrc" else raw, source, "; ".join(problems) or None)
        if found.has_lyrics or found.instrumental:
            return found
    if tags is None:
        try:
            audio = mutagen.File(path)
        except Exception as exc:  # noqa: BLE001 - mutagen raises many types on bad files; lyrics are optional
            problems.append(f"{path}: tags unreadable ({type(exc).__name__})")
            audio = None
        tags = None if audio is None else audio.tags
    found = lyrics_from_tags(tags)
    problem = "; ".join(problems) or None
    return Lyrics(text=found.text, source=found.source, instrumental=found.instrumental, problem=problem)
