"""Put a playlist on a Music Player Daemon (MPD) as a stored playlist, through python-mpd2.

MPD knows songs by their URI: the path relative to its ``music_directory``. Each local track is
found in MPD's database

1. **by path**: the track's path relative to the local folder that is MPD's music directory
   (``music_dir``; given, asked of MPD with ``config`` over a local socket, or inferred from the
   first track whose path suffix MPD knows), checked with ``find file URI``;
2. **by tags** otherwise: ``search artist A title T``, the candidate with the best
   :func:`playlists.track_match.candidate_score` taken when it reaches ``threshold`` (a copy of
   the music on the MPD machine under another layout still matches).

A track found neither way is reported with the reason and never added in a guess. The playlist
is written under a temporary name, then renamed over ``name`` (``--update``), so a failure
midway leaves the old playlist whole. Writes go in one command list.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import pandas as pd

from playlists._io import present
from playlists.errors import ExportError
from playlists.track_match import candidate_score

DEFAULT_PORT = 6600
MAX_SUFFIX_PROBES = 3  # tracks tried when inferring MPD's music directory from path suffixes


@dataclass(frozen=True)
class MpdSettings:
    """Where the MPD server is. ``password`` never appears in ``repr``.

    ``from_env`` reads ``MPD_HOST`` (``[password@]host``, as ``mpc`` does), ``MPD_PORT`` and
    ``CTK_MPD_MUSIC_DIR`` (the local path of MPD's music directory).
    """

    host: str = "localhost"
    port: int = DEFAULT_PORT
    password: str | None = field(default=None, repr=False)
    music_dir: Path | None = None
    timeout_s: float = 10.0

    def __post_init__(self) -> None:
        if not 1 <= self.port <= 65535:
            raise ExportError(f"MPD port={self.port} is not a TCP port")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> MpdSettings:
        """Settings from ``env`` (default ``os.environ``); ``overrides`` that are not None win."""
        env = os.environ if env is None else env
        host = env.get("MPD_HOST") or "localhost"
        password = None
        if "@" in host and not host.startswith("/"):
            password, _, host = host.rpartition("@")
        port_text = env.get("MPD_PORT") or str(DEFAULT_PORT)
        try:
            port = int(port_text)
        except ValueError:
            raise ExportError(f"MPD_PORT={port_text!r} is not a port number") from None
        music_dir = env.get("CTK_MPD_MUSIC_DIR")
        values: dict[str, Any] = {"host": host, "port": port, "password": password or None,
                                  "music_dir": Path(music_dir) if music_dir else None}
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


def connect_mpd(settings: MpdSettings):
    """A connected ``mpd.MPDClient`` (python-mpd2), logged in when a password is set."""
    try:
        import mpd
    except ImportError:
        raise ExportError("MPD export needs python-mpd2: pip install 'ctk[mpd]'") from None
    client = mpd.MPDClient()
    client.timeout = settings.timeout_s
    try:
        client.connect(settings.host, settings.port)
    except (OSError, mpd.ConnectionError) as exc:
        where = settings.host if settings.host.startswith("/") else f"{settings.host}:{settings.port}"
        raise ExportError(f"cannot reach MPD at {where}: {exc} (is mpd running? set MPD_HOST/MPD_PORT)") from None
    if settings.password:
        try:
            client.password(settings.password)
        except mpd.CommandError as exc:
            client.disconnect()
            raise ExportError(f"MPD refused the password: {exc}") from None
    return client


@dataclass(frozen=True)
class MpdMatch:
    """The outcome for one local track: ``uri`` in MPD's database (None: not found), how, and why not."""

    track_id: str
    artist: str
    title: str
    path: str
    uri: str | None
    how: str | None
    reason: str = ""


@dataclass
class MpdExport:
    """What an export did (or, with ``dry_run``, would do)."""

    name: str
    action: str  # "create" or "replace"
    matches: list[MpdMatch]
    music_dir: Path | None
    dry_run: bool = False
    notices: list[str] = field(default_factory=list)

    @property
    def uris(self) -> list[str]:
        return [m.uri for m in self.matches if m.uri]

    @property
    def unmatched(self) -> list[MpdMatch]:
        return [m for m in self.matches if m.uri is None]


def mpd_uri(track_path: str, music_dir: Path) -> str | None:
    """The MPD URI of a local file: its path relative to ``music_dir`` (POSIX), None when outside it."""
    try:
        rel = os.path.relpath(os.path.abspath(track_path), os.path.abspath(music_dir))
    except ValueError:  # another drive (Windows)
        return None
    if rel == "." or rel.startswith(".."):
        return None
    return Path(rel).as_posix()


def _known(client, uri: str) -> bool:
    import mpd

    try:
        return bool(client.find("file", uri))
    except mpd.CommandError as exc:
        if "permission" in str(exc).lower():
            raise ExportError(f"MPD refused reading its database: {exc} (a password? MPD_HOST=password@host)") \
                from None
        return False


def infer_music_dir(client, paths: list[str]) -> Path | None:
    """The local folder that is MPD's music directory: asked of MPD, else inferred from path suffixes.

    MPD answers ``config`` only over a local socket; otherwise each of the first tracks' path
    suffixes (``c.flac``, ``b/c.flac``, ...) is looked up, and the first one MPD knows tells the
    prefix. None when nothing fits.
    """
    import mpd

    try:
        configured = client.config()
        if configured:
            return Path(str(configured))
    except mpd.CommandError:
        pass
    for path in paths[:MAX_SUFFIX_PROBES]:
        parts = PurePosixPath(Path(os.path.abspath(path)).as_posix()).parts
        for cut in range(len(parts) - 1, 0, -1):
            if _known(client, "/".join(parts[cut:])):
                return Path(*parts[:cut])
    return None


def _by_tags(client, artist: str, title: str, duration_s: float | None, threshold: float) -> str | None:
    import mpd

    try:
        found = client.search("artist", artist, "title", title)
    except mpd.CommandError:
        return None
    best: tuple[float, str] | None = None
    for song in found:
        artists = song.get("artist") or []
        artists = [artists] if isinstance(artists, str) else list(artists)
        duration = song.get("duration") or song.get("time")
        score = candidate_score(artist, title, duration_s, candidate_artists=artists,
                                candidate_title=str(song.get("title") or ""),
                                candidate_duration_s=float(duration) if duration else None)
        if song.get("file") and (best is None or score > best[0]):
            best = (score, song["file"])
    return best[1] if best and best[0] >= threshold else None


def match_tracks_in_mpd(client, tracks: pd.DataFrame, music_dir: Path | None, *,
                        threshold: float = 0.8) -> list[MpdMatch]:
    """Find each row of ``tracks`` (in order) in MPD's database, by path, then by tags."""
    out = []
    for row in tracks.to_dict("records"):
        artist = str(row["artist"]) if present(row.get("artist")) else ""
        title = str(row["title"]) if present(row.get("title")) else ""
        duration = float(row["duration_s"]) if present(row.get("duration_s")) else None
        path = str(row.get("path") or "")
        uri = mpd_uri(path, music_dir) if music_dir is not None and path else None
        if uri is not None and _known(client, uri):
            out.append(MpdMatch(str(row["track_id"]), artist, title, path, uri, "path"))
            continue
        tagged = _by_tags(client, artist, title, duration, threshold) if artist and title else None
        if tagged:
            out.append(MpdMatch(str(row["track_id"]), artist, title, path, tagged, "tags"))
            continue
        if uri is not None:
            reason = f"{uri} is not in MPD's database (update it: `mpc update`) and no song has these tags"
        elif music_dir is not None:
            reason = f"outside MPD's music directory {music_dir} and no song has these tags"
        else:
            reason = "MPD's music directory is unknown (give --music-dir) and no song has these tags"
        out.append(MpdMatch(str(row["track_id"]), artist, title, path, None, None, reason))
    return out


def export_to_mpd(
    client,
    tracks: pd.DataFrame,
    *,
    name: str,
    music_dir: Path | None = None,
    update: bool = False,
    dry_run: bool = False,
    threshold: float = 0.8,
) -> MpdExport:
    """Match ``tracks`` (a track table in play order) in MPD and write the stored playlist ``name``.

    Args:
        client: a connected ``mpd.MPDClient`` (:func:`connect_mpd`).
        tracks: the playlist's tracks, in order (``track_id``, ``path``, ``artist``, ``title``, ``duration_s``).
        name: the stored playlist's name.
        music_dir: the local path of MPD's music directory (None: ask MPD or infer it).
        update: replace an existing playlist of that name (else an existing one is an error).
        dry_run: only read; write nothing.
        threshold: lowest tag-match score accepted.
    """
    import mpd

    if not name.strip() or "/" in name:
        raise ExportError(f"MPD playlist name {name!r} must be non-empty and without '/'")
    if tracks.empty:
        raise ExportError("the playlist has no tracks to export")
    notices: list[str] = []
    if music_dir is None:
        music_dir = infer_music_dir(client, [str(p) for p in tracks.get("path", pd.Series(dtype=str)) if present(p)])
        if music_dir is not None:
            notices.append(f"MPD's music directory is {music_dir} here (give --music-dir to set it)")
    matches = match_tracks_in_mpd(client, tracks, music_dir, threshold=threshold)
    uris = [m.uri for m in matches if m.uri]
    if not uris:
        raise ExportError(f"none of the {len(matches)} tracks is in MPD's database: {matches[0].reason}")
    try:
        existing = {p.get("playlist") for p in client.listplaylists()}
    except mpd.CommandError as exc:
        raise ExportError(f"MPD refused listing its stored playlists: {exc} (a password? MPD_HOST=password@host)") \
            from None
    if name in existing and not update:
        raise ExportError(f"MPD already has a stored playlist named {name!r}; give --update to replace it")
    action = "replace" if name in existing else "create"
    result = MpdExport(name, action, matches, music_dir, dry_run, notices)
    if dry_run:
        return result
    scratch = f".{name}.ctk-partial"
    try:
        if scratch in existing:
            client.rm(scratch)
        client.command_list_ok_begin()
        for uri in uris:
            client.playlistadd(scratch, uri)
        client.command_list_end()
        if name in existing:
            client.rm(name)
        client.rename(scratch, name)
    except mpd.CommandError as exc:
        raise ExportError(f"MPD refused writing playlist {name!r}: {exc}") from None
    return result
