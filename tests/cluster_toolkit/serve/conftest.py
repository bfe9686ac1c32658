"""A small real library for the ``ctk serve`` tests: tagged FLAC files embedded with the default model,
clustered, with a map layout in the store's cache; and a real uvicorn server on 127.0.0.1."""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.conftest import synth, write_audio

# (artist, album, base frequency): three groups of four songs that sound alike within a group
ARTISTS = [("Juniper Lane", "Midnight Café", 180.0), ("Clara Vey", "Copper Lantern", 420.0),
           ("Glass Harbour", "Neon Signal", 900.0)]
TITLES = ["Blue Hour", "Paper Boats", "Slow Rivers", "Northern Lights"]


def tagged_flac(path: Path, y: np.ndarray, *, artist: str, title: str, album: str) -> Path:
    from mutagen.flac import FLAC

    write_audio(path, y, format="FLAC")
    tags = FLAC(path)
    tags["artist"], tags["title"], tags["album"], tags["genre"] = artist, title, album, "Test"
    tags.save()
    return path


FRAGMENT_S = 5.0


@pytest.fixture(scope="session")
def served_library(tmp_path_factory):
    """``(music_root, store_root, outside_dir)``: 12 tagged songs of 10 s (two 5 s fragments each) in 3
    groups; "Bridge" (``Various/Bridge.flac``), whose first 5 s sound like Juniper Lane and whose last 5 s
    like Glass Harbour; one symlink (``Linked/escape.flac``) to a song outside the music root and one to a
    text file; the store at ``music/.ctk``."""
    from cluster_toolkit.cluster_library import ClusterOptions, cluster_library
    from cluster_toolkit.ingest import EmbedConfig, embed_library
    from cluster_toolkit.plots.pictures import layout_table
    from cluster_toolkit.store import LibraryStore
    from embeddings.config import FragmentConfig

    tmp = tmp_path_factory.mktemp("serve")
    music, outside = tmp / "music", tmp / "outside"
    for a, (artist, album, freq) in enumerate(ARTISTS):
        for t, title in enumerate(TITLES):
            y = synth(10, freq=freq * (1 + 0.03 * t), seed=10 * a + t)
            tagged_flac(music / artist / f"{t + 1:02d} {title}.flac", y, artist=artist, title=title, album=album)
    bridge = np.concatenate([synth(5, freq=ARTISTS[0][2], seed=50), synth(5, freq=ARTISTS[2][2], seed=51)])
    tagged_flac(music / "Various" / "Bridge.flac", bridge, artist="Various", title="Bridge", album="Crossings")
    tagged_flac(outside / "secret.flac", synth(10, freq=300, seed=99), artist="Outside", title="Secret Song",
                album="Elsewhere")
    (outside / "passwd.txt").write_text("not for the web\n")
    (music / "Linked").mkdir()
    os.symlink(outside / "secret.flac", music / "Linked" / "escape.flac")
    os.symlink(outside / "passwd.txt", music / "Linked" / "passwd.flac")
    store_root = music / ".ctk"
    embed_library(music, store_root, EmbedConfig(workers=0, fragment=FragmentConfig(n_seconds=FRAGMENT_S,
                                                                                    step=FRAGMENT_S)))
    store = LibraryStore.open(store_root)
    cluster_library(store, ClusterOptions(method="kmeans", k=3))
    # the map layout, as `ctk map` would have cached it (PCA here: these tests are about the app, not UMAP)
    tracks, X = store.track_embeddings()
    centred = X - X.mean(axis=0)
    coords = centred @ np.linalg.svd(centred, full_matrices=False)[2][:2].T
    store.write_table(layout_table(store, tracks["track_id"]),
                      pd.DataFrame({"track_id": tracks["track_id"], "x": coords[:, 0], "y": coords[:, 1]}))
    return music, store_root, outside


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """uvicorn serving ``app`` on 127.0.0.1 in a thread."""

    def __init__(self, app) -> None:
        import uvicorn

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture(scope="session")
def served(served_library):
    """The loaded library (map included)."""
    from cluster_toolkit.serve.state import ServedLibrary

    music, store_root, _ = served_library
    lib = ServedLibrary(store_root, playlists_dir=music.parent / "playlists")
    lib.wait_for_map(60)
    return lib


@pytest.fixture(scope="session")
def server(served):
    """A real server on 127.0.0.1 over the served library (no token: loopback clients may save)."""
    from cluster_toolkit.serve import create_app

    running = Server(create_app(served))
    yield running
    running.stop()
