"""Reading tags (title, artist, album, ISRC, genre, lyrics, duration) with mutagen, and tag text for comparison.

Tags are best effort: a file whose tags cannot be read still gets analysed, with empty
tag fields. Lyrics come from :func:`embeddings.lyrics.read_lyrics`: a sidecar ``.lrc`` (timestamps
stripped) or ``.txt`` with the same stem, else the embedded tag; "" for none or an instrumental.
:func:`normalise_text` is the one normaliser of names (artists, titles) that two sources must agree on:
playlists matched to a library, near-duplicate recordings.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path
from typing import Any

import mutagen

from embeddings.lyrics.sources import read_lyrics

TAG_FIELDS = ("title", "artist", "album", "isrc", "genre", "lyrics")

# Keys tried in order, lower-cased, over the tag mapping of any format.
_KEYS: dict[str, tuple[str, ...]] = {
    "title": ("title", "tit2", "\xa9nam"),
    "artist": ("artist", "tpe1", "albumartist", "tpe2", "\xa9art"),
    "album": ("album", "talb", "\xa9alb"),
    "isrc": ("isrc", "tsrc"),
    "genre": ("genre", "tcon", "\xa9gen"),
}

_NON_WORD = re.compile(r"[^\w]+")


def _missing(value: object) -> bool:
    """None, NaN or pandas' NA: a value that is not equal to itself."""
    if value is None:
        return True
    try:
        return bool(value != value)
    except TypeError:  # pandas.NA: its comparisons are NA, which has no truth value
        return True


def normalise_text(text: object) -> str:
    """Case-folded, accent-free, punctuation-free text (``&`` read as ``and``); ``""`` for missing values.

    Letters of every script are kept (a Japanese title is not reduced to nothing).

    >>> normalise_text("Beyoncé  — Halo!")
    'beyonce halo'
    """
    if _missing(text):
        return ""
    s = unicodedata.normalize("NFKD", str(text))
    s = "".join(ch for ch in s if not unicodedata.combining(ch)).casefold()
    s = s.replace("&", " and ").replace("'", "").replace("\u2019", "")
    return " ".join(_NON_WORD.sub(" ", s).split())


def _text(value: Any) -> list[str]:
    if value is None:
        return []
    if hasattr(value, "text"):  # ID3 frames
        value = value.text
    if isinstance(value, (list, tuple)):
        out: list[str] = []
        for v in value:
            out.extend(_text(v))
        return out
    text = str(value).strip()
    return [text] if text else []


def _lookup(tags: Any, names: tuple[str, ...]) -> list[str]:
    lowered: dict[str, list[Any]] = {}
    for key in tags.keys():
        base = str(key).split(":", 1)[0].lower()  # ID3 'USLT::eng' -> 'uslt'
        lowered.setdefault(base, []).append(tags[key])
    for name in names:
        if name in lowered:
            values = [t for v in lowered[name] for t in _text(v)]
            if values:
                return values
    return []


def read_tags(path: str | Path) -> dict[str, Any]:
    """Tags of ``path`` as a flat dict with keys ``title artist album isrc genre lyrics duration_s``.

    Missing fields are empty strings (``duration_s`` is NaN when unknown). Several genres are
    joined with ``"; "``.
    """
    path = Path(path)
    out: dict[str, Any] = {k: "" for k in TAG_FIELDS}
    out["duration_s"] = float("nan")
    try:
        audio = mutagen.File(path)
    except Exception:  # noqa: BLE001 - mutagen raises many types on bad files; tags are optional
        audio = None
    if audio is not None:
        info = getattr(audio, "info", None)
        if info is not None and getattr(info, "length", None):
            out["duration_s"] = float(info.length)
        if audio.tags is not None:
            for field, names in _KEYS.items():
                values = _lookup(audio.tags, names)
                if values:
                    out[field] = "; ".join(dict.fromkeys(values)) if field == "genre" else values[0]
    out["lyrics"] = read_lyrics(path, tags=None if audio is None else audio.tags).text
    if not out["title"]:
        out["title"] = path.stem
    return out
