"""Errors of the playlist side; all derive from :class:`CtkError`."""

from __future__ import annotations

from embeddings.errors import CtkError


class PlaylistError(CtkError):
    """A playlist cannot be generated as asked (unknown seed, too few candidates...)."""


class ExportError(CtkError):
    """A playlist could not be exported (file, JSON or Spotify)."""
