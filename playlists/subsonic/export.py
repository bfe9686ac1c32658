"""Put a playlist on a Subsonic server: match the tracks, then create the playlist or replace its songs."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from playlists.errors import ExportError
from playlists.subsonic.api import SubsonicApi
from playlists.subsonic.match import SubsonicMatch, SubsonicMatchConfig, match_tracks


@dataclass
class SubsonicExport:
    """What an export did (or, with ``dry_run``, would do).

    Attributes:
        name: the playlist's name.
        playlist_id: the server's playlist (None in a dry run that would create one).
        action: ``"create"`` or ``"replace"``.
        song_ids: the songs sent, in order (duplicates dropped).
        matches: one :class:`SubsonicMatch` per local track, in order.
        dry_run: nothing was written.
        notices: remarks for the user.
    """

    name: str
    playlist_id: str | None
    action: str
    song_ids: list[str]
    matches: list[SubsonicMatch]
    dry_run: bool = False
    notices: list[str] = field(default_factory=list)

    @property
    def unmatched(self) -> list[SubsonicMatch]:
        return [m for m in self.matches if m.song_id is None]


def export_to_subsonic(
    api: SubsonicApi,
    tracks: pd.DataFrame,
    *,
    name: str,
    update: bool = False,
    dry_run: bool = False,
    comment: str = "Made with ctk",
    match: SubsonicMatchConfig = SubsonicMatchConfig(),
) -> SubsonicExport:
    """Match ``tracks`` (a track table in play order) and write the playlist ``name``.

    Args:
        api: the Subsonic API client.
        tracks: the playlist's tracks, in order (``track_id``, ``artist``, ``title``, ``duration_s``).
        name: playlist name.
        update: replace the songs of your playlist of that name (created when none).
        dry_run: only read (ping, search, playlists); write nothing.
        comment: comment of a new playlist.
        match: matching settings.
    """
    if not name.strip():
        raise ExportError("a Subsonic playlist needs a non-empty name")
    if tracks.empty:
        raise ExportError("the playlist has no tracks to export")
    api.ping()  # a wrong login fails here, before any search
    matches = match_tracks(api, tracks, match)
    notices: list[str] = []
    song_ids: list[str] = []
    for m in matches:
        if m.song_id and m.song_id not in song_ids:
            song_ids.append(m.song_id)
        elif m.song_id:
            notices.append(f"{m.artist} - {m.title} matched a song already in the playlist; added once")
    if not song_ids:
        raise ExportError(f"none of the {len(matches)} tracks matched a song on the server; nothing to export")
    existing = [p for p in api.playlists() if p.get("name") == name
                and (not p.get("owner") or p.get("owner") == api.settings.user)]
    if update and existing:
        target = str(existing[0]["id"])
        if len(existing) > 1:
            notices.append(f"{len(existing)} of your playlists are named {name!r}; replacing the first ({target})")
        if not dry_run:
            api.replace_songs(target, song_ids)
        return SubsonicExport(name, target, "replace", song_ids, matches, dry_run, notices)
    if existing:
        notices.append(f"you already have a playlist named {name!r}; a new one is created (--update replaces "
                       "the existing one's songs instead)")
    if dry_run:
        return SubsonicExport(name, None, "create", song_ids, matches, True, notices)
    created = api.create_playlist(name, song_ids)
    pid = created.get("id")
    if not pid:  # servers before API 1.14 answer an empty body: find the playlist by name
        fresh = [p for p in api.playlists() if p.get("name") == name and p not in existing]
        pid = fresh[-1].get("id") if fresh else None
    if not pid:
        raise ExportError(f"the server created playlist {name!r} but did not say its id")
    if comment:
        api.set_comment(str(pid), comment)
    return SubsonicExport(name, str(pid), "create", song_ids, matches, False, notices)
