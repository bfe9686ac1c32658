"""The one exception root of ctk, and the errors of the audio side.

Library code raises these with the offending values in the message; exactly one place
(``cluster_toolkit.cli.main``) turns them into ``error: ...`` lines and exit codes.
"""

from __future__ import annotations


class CtkError(Exception):
    """Root of every error ctk raises on purpose."""

    exit_code = 1


class ConfigError(CtkError):
    """A configuration value is out of range or inconsistent."""

    exit_code = 2


class AudioDecodeError(CtkError):
    """An audio file could not be turned into usable samples (corrupt, empty, silent, too short...)."""


class CheckpointError(CtkError):
    """A model checkpoint is missing, corrupt or of the wrong kind."""

    exit_code = 2


class PlaylistFileError(CtkError):
    """A playlist file cannot be read (missing, unreadable, binary, not text)."""
