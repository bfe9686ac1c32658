"""Errors of the store, clustering and CLI layer; all derive from :class:`CtkError`."""

from __future__ import annotations

from embeddings.errors import AudioDecodeError, CheckpointError, ConfigError, CtkError

__all__ = [
    "AudioDecodeError",
    "CheckpointError",
    "ClusteringError",
    "ConfigError",
    "CtkError",
    "StoreError",
    "UsageError",
]


class StoreError(CtkError):
    """The library store is missing, unwritable, corrupt or was made by another model."""

    exit_code = 2


class UsageError(CtkError):
    """The command line asks for something impossible (missing folder, bad combination of options)."""

    exit_code = 2


class ClusteringError(CtkError):
    """A clustering request cannot be carried out as asked."""
