"""Put a playlist on Spotify: match the tracks, then create the playlist or replace its items."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from playlists.errors import ExportError
from playlists.spotify.api import BATCH, SpotifyApi
from playlists.spotify.match import MatchConfig, TrackMatch, match_tracks


@dataclass
class SpotifyExport:
    """What an export did (or, with ``dry_run``, would do).

    Attributes:
        name: the playlist's name.
        playlist_id, url: the Spotify playlist (None in a dry run that would create one).
        action: ``"create"`` or ``"replace"``.
        uris: the URIs sent, in order (one per matched track; duplicates dropped).
        matches: one :class:`TrackMatch` per local track, in order.
        requests: the write requests made or planned (``"POST /me/playlists"``...).
        dry_run: nothing was written.
        notices: remarks for the user.
    """

    name: str
    playlist_id: str | None
    url: str | None
    action: str
    uris: list[str]
    matches: list[TrackMatch]
    requests: list[str] = field(default_factory=list)
    dry_run: bool = False
    notices: list[str] = field(default_factory=list)

    @property
    def unmatched(self) -> list[TrackMatch]:
        return [m for m in self.matches if m.uri is None]


def export_to_spotify(
    api: SpotifyApi,
    tracks: pd.DataFrame,
    *,
    name: str,
    update: bool = False,
    dry_run: bool = False,
    public: bool = False,
    description: str = "Made with ctk",
    match: MatchConfig = MatchConfig(),
) -> SpotifyExport:
    """Match ``tracks`` (a track table in play order) and write the playlist ``name``.

    Args:
        api: the Spotify API with its retry policy.
        tracks: the playlist's tracks, in order (``track_id``, ``artist``, ``title``, ``isrc``,
            ``duration_s``).
        name: playlist name.
        update: replace the items of your existing playlist of that name (created when none).
        dry_run: only read (profile, search, your playlists); write nothing.
        public: make a new playlist public.
        description: description of a new playlist.
        match: matching settings.
    """
    if not name.strip():
        raise ExportError("a Spotify playlist needs a non-empty name")
    if tracks.empty:
        raise ExportError("the playlist has no tracks to export")
    matches = match_tracks(api, tracks, match)
    notices: list[str] = []
    uris: list[str] = []
    for m in matches:
        if m.uri and m.uri not in uris:
            uris.append(m.uri)
        elif m.uri:
            notices.append(f"{m.artist} - {m.title} matched a Spotify track already in the playlist; added once")
    if not uris:
        raise ExportError(f"none of the {len(matches)} tracks matched a Spotify track; nothing to export")
    me = api.me()
    existing = [p for p in api.my_playlists() if p and p.get("name") == name
                and (p.get("owner") or {}).get("id") == me.get("id")]
    n_batches = -(-len(uris) // BATCH)
    if update and existing:
        target = existing[0]
        if len(existing) > 1:
            notices.append(f"{len(existing)} of your playlists are named {name!r}; replacing the first "
                           f"({target['id']})")
        planned = [f"PUT /playlists/{target['id']}/items"] + [f"POST /playlists/{target['id']}/items"] * (n_batches - 1)
        result = SpotifyExport(name, target["id"], (target.get("external_urls") or {}).get("spotify"), "replace",
                               uris, matches, planned, dry_run, notices)
        if not dry_run:
            api.replace_items(target["id"], uris)
        return result
    if existing and not update:
        notices.append(f"you already have a playlist named {name!r}; a new one is created (--update replaces "
                       "the existing one's items instead)")
    planned = ["POST /me/playlists"] + ["POST /playlists/{new}/items"] * n_batches
    if dry_run:
        return SpotifyExport(name, None, None, "create", uris, matches, planned, True, notices)
    created = api.create_playlist(name, public=public, description=description)
    pid = created.get("id")
    if not pid:
        raise ExportError(f"Spotify created playlist {name!r} but returned no id: {created}")
    api.add_items(pid, uris)
    planned = [r.replace("{new}", pid) for r in planned]
    return SpotifyExport(name, pid, (created.get("external_urls") or {}).get("spotify"), "create", uris, matches,
                         planned, False, notices)
