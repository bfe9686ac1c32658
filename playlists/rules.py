"""Rules every generator obeys: no duplicates, no near-duplicates, an artist window, exact length.

* **No duplicate tracks**: a ``track_id`` appears at most once.
* **No near-duplicate recordings** (unless ``allow_near_duplicates``): two tracks whose
  normalised ``artist + title`` are equal (the same song ripped twice, a remaster), or whose
  embeddings are closer than ``near_duplicate_distance`` in cosine distance (over the first
  ``near_duplicate_dims`` dimensions when that is set), are never both in a playlist; the one met
  first (the seed, the better-ranked track) wins.
* **Artist window** (optional): a track's artist differs from the artists of the
  ``artist_window`` tracks before it (``1`` forbids back-to-back repeats).
* **Exact length** when enough admissible candidates exist; otherwise the generator returns
  what it found and a notice saying how many and why (:func:`shortfall_notice`).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from embeddings.errors import ConfigError
from embeddings.tags import normalise_text

# Suffixes that name the same recording: "(Remastered 2011)", "- 2009 Remaster", "[Radio Edit]"...
_SAME_RECORDING = re.compile(
    r"[\(\[][^\)\]]*\b(remaster(ed)?|mono|stereo|radio edit|single version|album version|explicit|clean)\b"
    r"[^\)\]]*[\)\]]"
    r"|\s+-\s+[^-]*\b(remaster(ed)?|mono|stereo|radio edit|single version|album version)\b.*$",
    re.IGNORECASE,
)
_FEATURING = re.compile(r"[\(\[]?\s*\b(feat|ft|featuring)\b\.?.*$", re.IGNORECASE)


@dataclass(frozen=True)
class PlaylistRules:
    """The rules a generator applies.

    Args:
        allow_near_duplicates: keep tracks with the same normalised artist + title or nearly
            identical embeddings.
        near_duplicate_distance: cosine distance below which two embeddings count as the same
            recording (0 disables the embedding test).
        near_duplicate_dims: compare only the first N dimensions of the embeddings for that test (0: all):
            a model whose track vectors end with a block that does not tell recordings apart (the spread
            block of ``hybrid+std``) is judged on the blocks before it.
        artist_window: number of preceding tracks whose artists a track may not repeat
            (0 = off, 1 = no back-to-back repeats).
    """

    allow_near_duplicates: bool = False
    near_duplicate_distance: float = 0.01
    artist_window: int = 0
    near_duplicate_dims: int = 0

    def __post_init__(self) -> None:
        if not 0.0 <= self.near_duplicate_distance < 2.0:
            raise ConfigError(
                f"near_duplicate_distance={self.near_duplicate_distance} must be in [0, 2) (cosine distance)"
            )
        if self.artist_window < 0:
            raise ConfigError(f"artist_window={self.artist_window} must be >= 0")
        if self.near_duplicate_dims < 0:
            raise ConfigError(f"near_duplicate_dims={self.near_duplicate_dims} must be >= 0 (0: all dimensions)")


def clean_title(title: object) -> str:
    """A title without remaster/edit tags and featured artists, otherwise as written."""
    s = "" if title is None or title is pd.NA else str(title)
    if s == "nan":
        s = ""
    s = _SAME_RECORDING.sub("", s)
    return " ".join(_FEATURING.sub("", s).split())


def normalise_title(title: object) -> str:
    """A title reduced to what names the recording: no remaster/edit tags, no featured artists."""
    return normalise_text(clean_title(title))


def normalise_artist(artist: object) -> str:
    """An artist reduced for comparison: no featured artists, no leading "the"."""
    s = "" if artist is None or artist is pd.NA else str(artist)
    if s == "nan":
        s = ""
    s = normalise_text(_FEATURING.sub("", s))
    return s[4:] if s.startswith("the ") else s


def recording_key(artist: object, title: object) -> str:
    """Key shared by near-duplicate recordings; ``""`` when the title is unknown."""
    t = normalise_title(title)
    return f"{normalise_artist(artist)}\x1f{t}" if t else ""


def shortfall_notice(found: int, length: int, what: str, reasons: Counter | None = None) -> str:
    """``"found 7 of 25 tracks: <what>; excluded: 2 near-duplicate, 1 artist window"``."""
    text = f"found {found} of {length} tracks: {what}"
    if reasons:
        parts = ", ".join(f"{n} {reason}" for reason, n in sorted(reasons.items()) if n)
        if parts:
            text += f"; excluded: {parts}"
    return text


class RuleChecker:
    """Applies :class:`PlaylistRules` to indices into a library's track table.

    Normalised keys are computed only for the tracks actually checked, so a checker over a
    large library costs nothing until it is used.

    Args:
        tracks: the library's track table (``track_id``, ``artist``, ``title``...).
        embeddings: ``(n, dim)`` L2-normalised embeddings aligned with ``tracks``.
        rules: the rules.
    """

    def __init__(self, tracks: pd.DataFrame, embeddings: np.ndarray, rules: PlaylistRules) -> None:
        self.rules = rules
        self.embeddings = np.asarray(embeddings, dtype=np.float32)
        self.duplicate_vectors = self.embeddings
        dims = rules.near_duplicate_dims
        if dims and self.embeddings.ndim == 2 and dims < self.embeddings.shape[1]:
            head = self.embeddings[:, :dims]
            norms = np.linalg.norm(head, axis=1, keepdims=True)
            self.duplicate_vectors = head / np.where(norms > 0, norms, 1.0)
        n = len(tracks)
        self._artist_raw = tracks["artist"].tolist() if "artist" in tracks else [""] * n
        self._title_raw = tracks["title"].tolist() if "title" in tracks else [""] * n
        self._keys: dict[int, str] = {}
        self._artists: dict[int, str] = {}

    def key(self, idx: int) -> str:
        """The near-duplicate key of track ``idx`` (``""``: no title, never a duplicate by tags)."""
        if idx not in self._keys:
            self._keys[idx] = recording_key(self._artist_raw[idx], self._title_raw[idx])
        return self._keys[idx]

    def artist(self, idx: int) -> str:
        """The normalised artist of track ``idx`` (``""`` when unknown)."""
        if idx not in self._artists:
            self._artists[idx] = normalise_artist(self._artist_raw[idx])
        return self._artists[idx]

    def selection(self, keep: Iterable[int] = ()) -> Selection:
        """An empty :class:`Selection` under these rules, holding ``keep`` unconditionally."""
        sel = Selection(self)
        for idx in keep:
            if idx not in sel:
                sel.add(int(idx))
        return sel

    def duplicate_reason(self, idx: int, chosen: Sequence[int]) -> str | None:
        """Why ``idx`` may not join ``chosen`` (duplicate / near-duplicate), or None."""
        return self.selection(chosen).reason(idx)

    def window_ok(self, idx: int, before: Sequence[int]) -> bool:
        """True when ``idx``'s artist is not among the last ``artist_window`` of ``before``."""
        w = self.rules.artist_window
        if w == 0 or not self.artist(idx):
            return True
        artist = self.artist(idx)
        return all(self.artist(b) != artist for b in list(before)[-w:])

    def insertion_ok(self, idx: int, route: Sequence[int], position: int) -> bool:
        """True when inserting ``idx`` before ``route[position]`` keeps the artist window."""
        w = self.rules.artist_window
        if w == 0 or not self.artist(idx):
            return True
        artist = self.artist(idx)
        neighbours = list(route[max(0, position - w) : position]) + list(route[position : position + w])
        return all(self.artist(b) != artist for b in neighbours)

    def deduplicate(
        self, preference: Iterable[int], *, keep: Sequence[int] = ()
    ) -> tuple[list[int], Counter]:
        """Drop duplicates and near-duplicates, walking ``preference`` best first.

        ``keep`` (seeds) are admitted first and unconditionally. Returns the admitted indices
        (``keep`` first, then the others in preference order) and a count of rejections by reason.
        """
        sel = self.selection(keep)
        reasons: Counter = Counter()
        for idx in preference:
            reason = sel.reason(int(idx))
            if reason is None:
                sel.add(int(idx))
            else:
                reasons[reason] += 1
        return list(sel.members), reasons

    def filter(self, order: Sequence[int], *, keep: Sequence[int] = ()) -> tuple[list[int], Counter]:
        """Like :meth:`deduplicate` but keeping ``order``'s order (``keep`` members stay where they are)."""
        kept = {int(k) for k in keep}
        admitted, reasons = self.deduplicate([int(i) for i in order if int(i) not in kept], keep=keep)
        chosen = set(admitted)
        out: list[int] = []
        for idx in (int(i) for i in order):
            if idx in chosen:
                out.append(idx)
                chosen.discard(idx)
        return out, reasons

    def arrange(self, order: Sequence[int], *, fixed_first: bool = True) -> tuple[list[int], list[int]]:
        """Apply the artist window to an ordered list with as little reordering as possible.

        At each position the earliest remaining track of ``order`` whose artist is outside
        the window is placed (a track that has to wait keeps its place in the queue). Tracks
        that can never be placed are returned separately.

        Returns:
            ``(arranged, dropped)``.
        """
        queue = [int(i) for i in order]
        if self.rules.artist_window == 0 or not queue:
            return queue, []
        arranged: list[int] = [queue.pop(0)] if fixed_first else []
        while queue:
            for pos, idx in enumerate(queue):
                if self.window_ok(idx, arranged):
                    arranged.append(queue.pop(pos))
                    break
            else:
                break
        return arranged, queue


class Selection:
    """Tracks admitted so far under a :class:`RuleChecker`, checked incrementally.

    Membership, keys and embeddings of the members are kept in sets and a growing matrix, so
    checking a candidate costs one matrix-vector product over the members.
    """

    def __init__(self, checker: RuleChecker) -> None:
        self.checker = checker
        self.members: list[int] = []
        self._ids: set[int] = set()
        self._keys: set[str] = set()
        dim = checker.duplicate_vectors.shape[1] if checker.duplicate_vectors.ndim == 2 else 0
        self._emb = np.zeros((16, dim), dtype=np.float32)

    def __contains__(self, idx: object) -> bool:
        return idx in self._ids

    def __len__(self) -> int:
        return len(self.members)

    def reason(self, idx: int) -> str | None:
        """Why ``idx`` may not join (``"duplicate"``, ``"near-duplicate (...)"``), or None."""
        if idx in self._ids:
            return "duplicate"
        rules = self.checker.rules
        if rules.allow_near_duplicates or not self.members:
            return None
        key = self.checker.key(idx)
        if key and key in self._keys:
            return "near-duplicate (same artist and title)"
        if rules.near_duplicate_distance > 0:
            sims = self._emb[: len(self.members)] @ self.checker.duplicate_vectors[idx]
            if float(sims.max()) > 1.0 - rules.near_duplicate_distance:
                return "near-duplicate (embedding)"
        return None

    def add(self, idx: int) -> None:
        """Admit ``idx`` (no checks: call :meth:`reason` first unless it is a seed)."""
        if len(self.members) == self._emb.shape[0]:
            self._emb = np.concatenate([self._emb, np.zeros_like(self._emb)])
        self._emb[len(self.members)] = self.checker.duplicate_vectors[idx]
        self.members.append(idx)
        self._ids.add(idx)
        key = self.checker.key(idx)
        if key:
            self._keys.add(key)
