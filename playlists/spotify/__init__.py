"""Spotify export: client construction, bounded retries, track matching, playlist upload."""

from playlists.spotify.api import RetryPolicy, SpotifyApi
from playlists.spotify.client import make_client, make_session
from playlists.spotify.export import SpotifyExport, export_to_spotify
from playlists.spotify.match import MatchConfig, TrackMatch, match_score, match_tracks
from playlists.spotify.settings import SpotifySettings

__all__ = [
    "MatchConfig",
    "RetryPolicy",
    "SpotifyApi",
    "SpotifyExport",
    "SpotifySettings",
    "TrackMatch",
    "export_to_spotify",
    "make_client",
    "make_session",
    "match_score",
    "match_tracks",
]
