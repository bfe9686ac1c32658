"""Small hand-made data sets shared by the cluster_toolkit tests."""

from __future__ import annotations

import numpy as np
import pytest

# Twelve 2-D points in three directions (the clusterers L2-normalise, so the radius must not matter):
# 5 near 0 degrees, 4 near 120, 3 near 240, listed in shuffled order. Canonical labels number clusters by
# decreasing size, so the expected labels are known exactly.
TOY_ANGLES = [0, 120, 240, 2, 122, 242, -2, 118, 238, 4, 124, -4]
TOY_RADII = [1.0, 2.0, 3.0, 0.5, 1.5, 2.5, 1.2, 0.8, 1.1, 3.0, 1.0, 2.0]
TOY_EXPECTED = np.array([0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 0])


def circle_points(angles_deg, radii) -> np.ndarray:
    a = np.deg2rad(np.asarray(angles_deg, dtype=np.float64))
    return np.stack([np.cos(a), np.sin(a)], axis=1) * np.asarray(radii, dtype=np.float64)[:, None]


@pytest.fixture
def toy() -> tuple[np.ndarray, np.ndarray]:
    return circle_points(TOY_ANGLES, TOY_RADII), TOY_EXPECTED.copy()


@pytest.fixture
def toy_with_outlier() -> tuple[np.ndarray, np.ndarray]:
    """The toy set plus one track at 60 degrees, far from every group: density methods call it noise."""
    X = circle_points(TOY_ANGLES + [60], TOY_RADII + [1.0])
    return X, np.append(TOY_EXPECTED, -1)


def make_blobs_unit(n: int, k: int, dim: int, *, spread: float = 0.05, seed: int = 0):
    """``k`` well separated gaussian blobs around random unit directions: ``(n, dim)`` and true labels."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(k, dim))
    centers /= np.linalg.norm(centers, axis=1, keepdims=True)
    y = np.arange(n) % k
    X = centers[y] + rng.normal(scale=spread, size=(n, dim))
    return X.astype(np.float32), y


@pytest.fixture
def blobs():
    return make_blobs_unit(400, 4, 16, seed=1)


@pytest.fixture
def make_blobs():
    return make_blobs_unit


# Three close groups (0, 20, 40 degrees; 5, 4 and 3 tracks) and one lone track at 180 degrees, farther from
# every group than the groups are from each other: HDBSCAN's own notion of noise.
DENSITY_ANGLES = [0, 20, 40, 1, 21, 41, -1, 19, 39, 2, 22, -2, 180]
DENSITY_EXPECTED = np.array([0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 0, -1])


@pytest.fixture
def density_toy() -> tuple[np.ndarray, np.ndarray]:
    return circle_points(DENSITY_ANGLES, [1.0] * 13), DENSITY_EXPECTED.copy()


GENRES = ("Jazz", "Metal", "Techno")


def make_library(root, *, n_per_genre: int = 20, dim: int = 16, seed: int = 0, extra: int = 0):
    """A real library store with ``3 * n_per_genre`` tracks whose pooled embeddings form one blob per genre
    (folder ``/music/<Genre>/``, genre tag ``<Genre>; Instrumental``). ``extra`` more tracks of each genre are
    returned (tracks, vectors) but not stored, to play newly embedded tracks."""
    import pandas as pd

    from cluster_toolkit.store import LibraryStore

    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(3, dim))
    rows, vecs = [], []
    for g, genre in enumerate(GENRES):
        for i in range(n_per_genre + extra):
            rows.append(
                {
                    "track_id": f"{genre.lower()}{i:03d}",
                    "path": f"/music/{genre}/{i:03d}.flac",
                    "size": 1000,
                    "mtime": 1.0,
                    "title": f"{genre} song {i}",
                    "artist": f"{genre} Band {i % 4}",
                    "album": f"{genre} album",
                    "genre": f"{genre}; Instrumental",
                    "duration_s": 180.0,
                    "status": "ok",
                    "n_fragments": 3,
                }
            )
            vecs.append(centers[g] + rng.normal(scale=0.15, size=dim))
    tracks = pd.DataFrame(rows)
    X = np.asarray(vecs, dtype=np.float32)
    stored = np.concatenate([np.arange(g * (n_per_genre + extra), g * (n_per_genre + extra) + n_per_genre)
                             for g in range(3)])
    store = LibraryStore.open(root, create=True)
    store.set_model({"name": "toy", "dim": dim}, "toy-000000000001", dim)
    store.commit_batch(tracks.iloc[stored].reset_index(drop=True), track_embeddings=X[stored])
    new = np.setdiff1d(np.arange(len(tracks)), stored)
    return store, tracks.iloc[new].reset_index(drop=True), X[new]


@pytest.fixture
def library(tmp_path):
    store, _, _ = make_library(tmp_path / "lib")
    return store


@pytest.fixture
def library_factory():
    return make_library


CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
]  # fmt: skip


def run_chromium(*args: str, profile) -> str:
    """Headless Chromium (installed by the Makefile's test set-up: apt-get install -y chromium); stdout."""
    import shutil
    import subprocess

    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    assert exe, "chromium is not installed: apt-get install -y chromium (see the Makefile's test set-up)"
    done = subprocess.run(
        [exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.fixture
def chromium(tmp_path):
    """``chromium(*args)`` -> stdout, with a fresh profile folder per call."""
    calls = iter(range(1_000))

    def run(*args: str) -> str:
        return run_chromium(*args, profile=tmp_path / f"chromium-profile-{next(calls)}")

    return run


@pytest.fixture(scope="module")
def s3_url():
    """A moto S3 server on 127.0.0.1 (real HTTP, the S3 API, conditional writes included) for the module."""
    import logging

    import s3fs
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's request log
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()
    s3fs.S3FileSystem.clear_instance_cache()


@pytest.fixture
def bucket(s3_url, monkeypatch, tmp_path):
    """A fresh bucket; fsspec's S3 configuration (and the environment, for subprocesses) points at moto. The
    configuration holds the credentials too: ctk's worker processes get them with the pickled filesystem (the
    forkserver they come from may predate this test's environment)."""
    import uuid

    import fsspec
    import s3fs

    env = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
           "FSSPEC_S3_ENDPOINT_URL": s3_url, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setitem(fsspec.config.conf, "s3", {"endpoint_url": s3_url, "key": "testing", "secret": "testing"})
    name = f"b-{uuid.uuid4().hex[:12]}"
    fs = s3fs.S3FileSystem(endpoint_url=s3_url)
    fs.call_s3("create_bucket", Bucket=name)
    return name, fs, env
