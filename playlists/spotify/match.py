"""Match local tracks to Spotify track URIs: ISRC first, then artist + title search.

1. **ISRC**: a track with an ISRC tag is searched with ``isrc:<code>``; the first result
   whose ``external_ids.isrc`` is that code is taken (the ISRC identifies the recording).
2. **Artist + title**: otherwise (or when the ISRC finds nothing) ``track:<title>
   artist:<artist>`` is searched, up to ``max_pages`` pages; every result is scored by
   :func:`match_score` on normalised text (case, accents, punctuation, remaster tags and
   featured artists removed) and the best one is taken when it reaches ``threshold``.

A track that matches nothing well enough is reported with the reason and the best
candidate seen; it is never added in a guess.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from playlists._io import present
from playlists.errors import ExportError
from playlists.rules import clean_title
from playlists.spotify.api import SpotifyApi
from playlists.track_match import candidate_score


@dataclass(frozen=True)
class MatchConfig:
    """How local tracks are matched.

    Args:
        threshold: lowest :func:`match_score` accepted (0..1).
        page_size: results per search page (the Web API allows up to 50; apps in development mode
            may be held to 10).
        max_pages: search pages read per track.
        use_isrc: try ``isrc:`` searches first.
        market: ISO country code passed to search (None: the account's).
    """

    threshold: float = 0.8
    page_size: int = 10
    max_pages: int = 3
    use_isrc: bool = True
    market: str | None = None

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold <= 1.0:
            raise ExportError(f"threshold={self.threshold} must be in (0, 1]")
        if not 1 <= self.page_size <= 50 or self.max_pages < 1:
            raise ExportError(f"page_size={self.page_size} must be 1..50 and max_pages={self.max_pages} >= 1")


@dataclass(frozen=True)
class TrackMatch:
    """The outcome for one local track.

    Attributes:
        track_id, artist, title: the local track.
        uri: the Spotify URI, or None when unmatched.
        how: ``"isrc"``, ``"search"`` or ``None``.
        score: the match score (1.0 for ISRC matches).
        candidate: ``"artist - title"`` of the Spotify track taken, or of the best one rejected.
        reason: why it is unmatched (empty when matched).
    """

    track_id: str
    artist: str
    title: str
    uri: str | None
    how: str | None
    score: float
    candidate: str = ""
    reason: str = ""


def match_score(artist: str, title: str, duration_s: float | None, item: dict) -> float:
    """How well a Spotify track ``item`` fits a local track, 0..1 (:func:`playlists.track_match.candidate_score`)."""
    ms = item.get("duration_ms")
    return candidate_score(
        artist, title, duration_s,
        candidate_artists=[str(a.get("name") or "") for a in item.get("artists") or []],
        candidate_title=str(item.get("name") or ""),
        candidate_duration_s=ms / 1000.0 if ms else None,
    )


def _label(item: dict) -> str:
    artists = ", ".join(a.get("name", "") for a in item.get("artists") or [])
    return f"{artists} - {item.get('name', '')}"


def _query_value(text: str) -> str:
    return " ".join(text.replace('"', " ").replace(":", " ").split())


def match_track(api: SpotifyApi, row: dict, config: MatchConfig = MatchConfig()) -> TrackMatch:
    """Match one local track (a track-table row as a dict)."""
    track_id = str(row.get("track_id"))
    artist = str(row["artist"]) if present(row.get("artist")) else ""
    title = str(row["title"]) if present(row.get("title")) else ""
    duration = float(row["duration_s"]) if present(row.get("duration_s")) else None
    isrc = str(row["isrc"]).strip().upper() if present(row.get("isrc")) else ""
    if config.use_isrc and isrc:
        for page in api.search_tracks(f"isrc:{isrc}", limit=config.page_size, max_pages=1, market=config.market):
            for item in page.get("items") or []:
                if str((item.get("external_ids") or {}).get("isrc", "")).upper() == isrc and item.get("uri"):
                    return TrackMatch(track_id, artist, title, item["uri"], "isrc", 1.0, _label(item))
    if not title:
        return TrackMatch(track_id, artist, title, None, None, 0.0,
                          reason="no title tag to search with" + (f" and ISRC {isrc} not found" if isrc else ""))
    query = f"track:{_query_value(clean_title(title))}"
    if artist:
        query += f" artist:{_query_value(artist)}"
    best: tuple[float, dict] | None = None
    for page in api.search_tracks(query, limit=config.page_size, max_pages=config.max_pages, market=config.market):
        for item in page.get("items") or []:
            if not item or not item.get("uri"):
                continue
            score = match_score(artist, title, duration, item)
            if best is None or score > best[0]:
                best = (score, item)
        if best is not None and best[0] >= 0.999:
            break
    if best is None:
        return TrackMatch(track_id, artist, title, None, None, 0.0, reason=f"no search results for {query!r}")
    score, item = best
    if score >= config.threshold:
        return TrackMatch(track_id, artist, title, item["uri"], "search", round(score, 4), _label(item))
    return TrackMatch(
        track_id, artist, title, None, None, round(score, 4), _label(item),
        reason=f"best candidate scored {score:.2f} < threshold {config.threshold:.2f}",
    )


def match_tracks(api: SpotifyApi, tracks: pd.DataFrame, config: MatchConfig = MatchConfig()) -> list[TrackMatch]:
    """Match every row of ``tracks`` (in order)."""
    return [match_track(api, row, config) for row in tracks.to_dict("records")]
