"""Match local tracks to songs of a Subsonic server: ``search3``, then artist + title + duration.

Each track is searched by its title (without remaster tags), then by ``artist title`` when the
first query finds nothing good enough, reading up to ``max_pages`` pages of ``page_size`` songs.
Every song is scored by :func:`playlists.track_match.candidate_score` (durations further apart
than ``duration_tolerance_s`` cost 0.15); the best one is taken when it reaches ``threshold``,
ties going to the closer duration. A track that matches nothing is reported with the reason
and the best candidate seen; it is never added in a guess.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from playlists._io import present
from playlists.errors import ExportError
from playlists.rules import clean_title
from playlists.subsonic.api import SubsonicApi
from playlists.track_match import candidate_score


@dataclass(frozen=True)
class SubsonicMatchConfig:
    """How local tracks are matched (see the module docstring)."""

    threshold: float = 0.8
    page_size: int = 20
    max_pages: int = 3
    duration_tolerance_s: float = 7.0

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold <= 1.0:
            raise ExportError(f"threshold={self.threshold} must be in (0, 1]")
        if self.page_size < 1 or self.max_pages < 1:
            raise ExportError(f"page_size={self.page_size} and max_pages={self.max_pages} must be >= 1")


@dataclass(frozen=True)
class SubsonicMatch:
    """The outcome for one local track: the server's ``song_id`` (None: unmatched), score, and why not."""

    track_id: str
    artist: str
    title: str
    song_id: str | None
    score: float
    candidate: str = ""
    reason: str = ""


def _label(song: dict) -> str:
    return f"{song.get('artist', '')} - {song.get('title', '')}"


def match_track(api: SubsonicApi, row: dict, config: SubsonicMatchConfig = SubsonicMatchConfig()) -> SubsonicMatch:
    """Match one local track (a track-table row as a dict)."""
    track_id = str(row.get("track_id"))
    artist = str(row["artist"]) if present(row.get("artist")) else ""
    title = str(row["title"]) if present(row.get("title")) else ""
    duration = float(row["duration_s"]) if present(row.get("duration_s")) else None
    if not title:
        return SubsonicMatch(track_id, artist, title, None, 0.0, reason="no title tag to search with")
    queries = list(dict.fromkeys(q for q in (clean_title(title), f"{artist} {clean_title(title)}".strip()) if q))
    best: tuple[float, float, dict] | None = None  # score, -duration gap, song
    for query in queries:
        for songs in api.search_songs(query, page_size=config.page_size, max_pages=config.max_pages):
            for song in songs:
                if not song.get("id") or song.get("isVideo"):
                    continue
                seconds = float(song["duration"]) if song.get("duration") else None
                score = candidate_score(artist, title, duration, candidate_artists=[str(song.get("artist") or "")],
                                        candidate_title=str(song.get("title") or ""), candidate_duration_s=seconds,
                                        duration_tolerance_s=config.duration_tolerance_s)
                gap = -abs(duration - seconds) if duration is not None and seconds is not None else float("-inf")
                if best is None or (score, gap) > best[:2]:
                    best = (score, gap, song)
        if best is not None and best[0] >= config.threshold:
            break
    if best is None:
        return SubsonicMatch(track_id, artist, title, None, 0.0,
                             reason=f"no search results for {' or '.join(repr(q) for q in queries)}")
    score, _, song = best
    if score >= config.threshold:
        return SubsonicMatch(track_id, artist, title, str(song["id"]), round(score, 4), _label(song))
    return SubsonicMatch(track_id, artist, title, None, round(score, 4), _label(song),
                         reason=f"best candidate scored {score:.2f} < threshold {config.threshold:.2f}")


def match_tracks(api: SubsonicApi, tracks: pd.DataFrame,
                 config: SubsonicMatchConfig = SubsonicMatchConfig()) -> list[SubsonicMatch]:
    """Match every row of ``tracks`` (in order)."""
    return [match_track(api, row, config) for row in tracks.to_dict("records")]
