"""A real Music Player Daemon for tests: Debian's ``mpd`` on 127.0.0.1 with a temporary config and music folder.

The Makefile's test set-up installs it (``apt-get install mpd``); a missing ``mpd`` fails the
tests that need it, loudly, rather than skipping them.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import soundfile as sf
from mutagen.flac import FLAC

SR = 8000


def write_tagged_flac(path: Path, *, artist: str, title: str, seconds: float = 1.0, freq: float = 440.0) -> Path:
    """A short FLAC tone with artist and title tags (MPD reads both)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * SR)) / SR
    sf.write(path, (0.2 * np.sin(2 * np.pi * freq * t)).astype(np.float32), SR, format="FLAC")
    tags = FLAC(path)
    tags["artist"], tags["title"] = artist, title
    tags.save()
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running_mpd(root: Path, music: Path, *, password: str | None = None) -> Iterator[tuple[int, Path]]:
    """Start ``mpd --no-daemon`` over ``music`` on a free port; yields (port, playlist folder); stops it."""
    exe = shutil.which("mpd") or ("/usr/bin/mpd" if Path("/usr/bin/mpd").exists() else None)
    assert exe, "mpd is not installed: apt-get install -y mpd (the Makefile's test set-up does it)"
    root.mkdir(parents=True, exist_ok=True)
    playlists = root / "playlists"
    playlists.mkdir(exist_ok=True)
    port = _free_port()
    lines = [
        f'music_directory "{music}"', f'playlist_directory "{playlists}"', f'db_file "{root / "database"}"',
        f'log_file "{root / "log"}"', 'bind_to_address "127.0.0.1"', f'port "{port}"', 'zeroconf_enabled "no"',
        'auto_update "no"', 'audio_output {\n  type "null"\n  name "silence"\n}',
    ]
    if password:
        lines.append(f'password "{password}@read,add,control,admin"')
        lines.append('default_permissions ""')
    config = root / "mpd.conf"
    config.write_text("\n".join(lines) + "\n")
    proc = subprocess.Popen([exe, "--no-daemon", str(config)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    proc.kill()
                    log = (root / "log").read_text() if (root / "log").exists() else ""
                    out = proc.stdout.read().decode()[-2000:]
                    raise AssertionError(f"mpd did not start: {out} {log[-2000:]}") from None
                time.sleep(0.05)
        _update_database(port, password)
        yield port, playlists
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _update_database(port: int, password: str | None) -> None:
    import mpd

    client = mpd.MPDClient()
    client.timeout = 10
    client.connect("127.0.0.1", port)
    if password:
        client.password(password)
    client.update()
    deadline = time.monotonic() + 20
    while "updating_db" in client.status():
        assert time.monotonic() < deadline, "mpd did not finish scanning the music folder"
        time.sleep(0.05)
    client.disconnect()
