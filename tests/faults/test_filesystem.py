"""A read-only library and a full disk: one clear line and exit code 2, the store as it was.

The read-only case runs the command without the capabilities that let root write anywhere
(``setpriv --bounding-set -dac_override,...``) when the suite runs as root; the full disk is the
kernel's file-size limit (``RLIMIT_FSIZE``): every write past the limit fails as it would on a full
disk (with "File too large" instead of "No space left").
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import stat
import subprocess
import sys

from cluster_toolkit.ingest import EmbedConfig, embed_library
from cluster_toolkit.store import LibraryStore
from tests.cluster_toolkit.conftest import make_library
from tests.faults.conftest import REPO, short_tracks


def _without_root_powers(args: list[str]) -> list[str]:
    """``args`` run so that file permissions bind: as root, without the DAC-override capabilities."""
    if os.geteuid() != 0:
        return args
    setpriv = shutil.which("setpriv")
    assert setpriv, "setpriv (util-linux) is needed to test a read-only library as root"
    return [setpriv, "--bounding-set", "-dac_override,-dac_read_search,-fowner", *args]


def _one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    return lines[0]


def test_cluster_on_a_read_only_library_is_one_line_and_exit_2(tmp_path):
    store, _, _ = make_library(tmp_path / "lib")
    before = sorted(p.name for p in store.root.rglob("*"))
    for path in [store.root, *store.root.rglob("*")]:
        if path.is_dir():
            path.chmod(0o555)
    command = [sys.executable, "-m", "cluster_toolkit.cli.main", "cluster", "--library", str(store.root),
               "--method", "kmeans", "--k", "3"]  # fmt: skip
    try:
        done = subprocess.run(_without_root_powers(command), capture_output=True, text=True, cwd=REPO, timeout=240,
                              env={**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "200"})  # fmt: skip
    finally:
        for path in [store.root, *store.root.rglob("*")]:
            if path.is_dir():
                path.chmod(0o755)
    rc, err = done.returncode, done.stderr
    assert rc == 2
    line = _one_error_line(err)
    assert str(store.root) in line and "not writable" in line
    assert sorted(p.name for p in store.root.rglob("*")) == before


def _file_size_limit(limit: int):
    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a failed write, not a killed process
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def test_cluster_on_a_full_disk_is_one_line_and_leaves_the_store_as_it_was(tmp_path, ctk_processes):
    store, _, _ = make_library(tmp_path / "lib")
    before = {p.name: p.stat().st_size for p in store.root.rglob("*") if p.is_file() and p.name != ".lock"}
    run = ctk_processes("cluster", "--library", str(store.root), "--method", "kmeans", "--k", "3",
                        preexec_fn=_file_size_limit(1024))  # fmt: skip
    rc, _, err = run.finish()
    assert rc == 2
    line = _one_error_line(err)
    assert "cannot write (File too large)" in line
    after = {p.name: p.stat().st_size for p in store.root.rglob("*") if p.is_file() and p.name != ".lock"}
    assert after == before  # no table half-written, no temp file left
    assert not list((store.root / ".tmp").iterdir())
    LibraryStore.open(store.root).track_embeddings()  # still readable


def test_embed_on_a_full_disk_is_one_line_exit_2_and_the_next_run_works(tmp_path, ctk_processes):
    music = short_tracks(tmp_path / "music", 3)
    lib = tmp_path / "lib"
    LibraryStore.open(lib, create=True)
    run = ctk_processes("embed", str(music), "--library", str(lib), "--workers", "0",
                        preexec_fn=_file_size_limit(1500))  # fmt: skip
    rc, _, err = run.finish()
    assert rc == 2
    assert "cannot write (File too large)" in _one_error_line(err)
    assert LibraryStore.open(lib).tracks().empty
    assert stat.S_ISREG((lib / ".lock").stat().st_mode) and not (lib / ".lock").read_text()  # lock released
    summary = embed_library(music, lib, EmbedConfig(workers=0))  # with room on the disk again
    assert summary.analysed == 3 and len(LibraryStore.open(lib).tracks()) == 3
