"""Subsonic export (Navidrome, Airsonic, Gonic): token login, search3 matching, playlist upload."""

from playlists.subsonic.api import SubsonicApi, token_auth
from playlists.subsonic.export import SubsonicExport, export_to_subsonic
from playlists.subsonic.match import SubsonicMatch, SubsonicMatchConfig, match_track, match_tracks
from playlists.subsonic.settings import SubsonicSettings

__all__ = [
    "SubsonicApi",
    "SubsonicExport",
    "SubsonicMatch",
    "SubsonicMatchConfig",
    "SubsonicSettings",
    "export_to_subsonic",
    "match_track",
    "match_tracks",
    "token_auth",
]
