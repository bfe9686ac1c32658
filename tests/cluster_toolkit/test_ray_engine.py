"""``ctk embed --engine ray`` on a local Ray (``ray.init(num_cpus=2)``), with real audio files: the store it
makes is the local engine's (same vectors, same failure rows, read by ``ctk status`` and ``ctk cluster``), a
killed encoder actor loses no finished track, and an interrupted run resumes with only the missing tracks."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import ray  # the ctk[ray] extra, which `make test` installs
from typer.testing import CliRunner

from cluster_toolkit.cli.main import app
from cluster_toolkit.errors import UsageError
from cluster_toolkit.ingest import EmbedConfig, embed_library
from cluster_toolkit.store import LibraryStore
from cluster_toolkit.store.library_store import TRACK_COLUMNS
from cluster_toolkit.store.runs import load_run
from tests.conftest import synth, write_audio

ENCODER = "MapBatches(_Encoder)"


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def _by_id(store: LibraryStore):
    tracks, matrix = store.track_embeddings()
    order = np.argsort(tracks["track_id"].to_numpy())
    return tracks.iloc[order].reset_index(drop=True), matrix[order]


def _encoder_actors() -> list[dict]:
    return [a for a in ray._private.state.actors().values() if ENCODER in a["ActorClassName"]]


def test_ray_store_equals_the_local_engines_and_other_commands_read_it(music_dir, bad_files, tmp_path):
    shutil.copy(bad_files["corrupt"], music_dir / "corrupt.flac")
    runner = CliRunner()
    made = runner.invoke(app, ["embed", str(music_dir), "--library", str(tmp_path / "ray"), "--engine", "ray",
                               "--workers", "1", "--batch-size", "2"], env={"COLUMNS": "250"})
    assert made.exit_code == 0, made.output
    assert f"failed: {music_dir / 'corrupt.flac'}: corrupt or not audio" in made.output
    # the encoder ran in its own actor, fed by separate decode tasks (not fused into it)
    assert [a["ActorClassName"] for a in _encoder_actors()] == [f"MapWorker({ENCODER})"]
    local = embed_library(music_dir, tmp_path / "local", EmbedConfig(workers=0))
    assert (local.analysed, len(local.failed)) == (5, 1)

    by_ray, by_local = LibraryStore.open(tmp_path / "ray"), LibraryStore.open(tmp_path / "local")
    assert by_ray.meta["model_id"] == by_local.meta["model_id"] and by_ray.meta["fragment"] == by_local.meta["fragment"]
    (tr, mr), (tl, ml) = _by_id(by_ray), _by_id(by_local)
    assert list(tr["track_id"]) == list(tl["track_id"]) and len(tr) == 5
    np.testing.assert_allclose(mr, ml, rtol=1e-5, atol=1e-5)
    fr, fmr = by_ray.fragment_embeddings()
    fl, fml = by_local.fragment_embeddings()
    key = ["track_id", "fragment_index"]
    fr, fl = fr.assign(i=np.arange(len(fr))).sort_values(key), fl.assign(i=np.arange(len(fl))).sort_values(key)
    assert fr[key + ["start_s", "split"]].values.tolist() == fl[key + ["start_s", "split"]].values.tolist()
    np.testing.assert_allclose(fmr[fr["i"]], fml[fl["i"]], rtol=1e-5, atol=1e-5)
    # the same rows in the tracks table, the failed file's with the same reason
    columns = [c for c in TRACK_COLUMNS if c != "analysed_at"]
    rows_ray = by_ray.all_tracks()[columns].sort_values("path").reset_index(drop=True)
    rows_local = by_local.all_tracks()[columns].sort_values("path").reset_index(drop=True)
    assert rows_ray.equals(rows_local)
    assert rows_ray.set_index("path").loc[str(music_dir / "corrupt.flac"), "status"] == "failed"

    status = runner.invoke(app, ["status", "--library", str(tmp_path / "ray")], env={"COLUMNS": "250"})
    assert status.exit_code == 0 and "corrupt.flac" in status.output
    assert " 5 " in status.output.replace("│", " ")
    clustered = runner.invoke(app, ["cluster", "-L", str(tmp_path / "ray"), "--method", "kmeans", "--k", "2",
                                    "--seed", "0"])
    assert clustered.exit_code == 0, clustered.output
    run = load_run(by_ray, "latest")
    assert run.n_clusters == 2 and sorted(run.labels["track_id"]) == list(tr["track_id"])


class _KillThenStop:
    """Reporter: kills the encoder actor's process after ``kill_at`` tracks came back, and stops the run
    (Ctrl-C) after ``stop_at``."""

    def __init__(self, lib: Path, kill_at: int, stop_at: int) -> None:
        self.lib, self.kill_at, self.stop_at = lib, kill_at, stop_at
        self.done = 0
        self.killed_pid: int | None = None
        self.at_kill: dict[str, tuple[str, np.ndarray]] = {}

    def scanned(self, n_files: int) -> None:
        pass

    def start(self, total: int) -> None:
        pass

    def track_done(self, path: str, error: str | None) -> None:
        assert error is None, error
        self.done += 1
        if self.done == self.kill_at:
            [actor] = [a for a in _encoder_actors() if a["State"] == "ALIVE"]
            self.killed_pid = actor["Pid"]
            tracks, matrix = LibraryStore.open(self.lib).track_embeddings()
            self.at_kill = {t: (when, v) for t, when, v in zip(tracks["track_id"], tracks["analysed_at"], matrix)}
            os.kill(self.killed_pid, signal.SIGKILL)
        if self.done == self.stop_at:
            raise KeyboardInterrupt


def test_killed_actor_loses_no_track_and_a_rerun_embeds_only_the_missing_ones(tmp_path):
    music = tmp_path / "music"
    for i in range(8):
        write_audio(music / f"t{i}.wav", synth(12, freq=200 + 30 * i, seed=i))
    lib = tmp_path / "lib"
    config = EmbedConfig(engine="ray", workers=1, batch_size=1)
    reporter = _KillThenStop(lib, kill_at=2, stop_at=5)
    with pytest.raises(KeyboardInterrupt):
        embed_library(music, lib, config, reporter)
    assert reporter.killed_pid is not None
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and os.path.exists(f"/proc/{reporter.killed_pid}"):
        time.sleep(0.1)
    assert not os.path.exists(f"/proc/{reporter.killed_pid}")
    # Ray restarted the actor and ran its batch again: tracks 3..5 came from the new one
    assert max(a["NumRestarts"] for a in _encoder_actors()) >= 1
    store = LibraryStore.open(lib)
    committed = store.tracks()
    assert len(committed) == 5 and len(reporter.at_kill) >= 1
    now, matrix = store.track_embeddings()
    kept = dict(zip(now["track_id"], zip(now["analysed_at"], matrix)))
    for tid, (when, vector) in reporter.at_kill.items():  # what was committed before the kill is untouched
        assert kept[tid][0] == when and np.array_equal(kept[tid][1], vector)

    resumed = embed_library(music, lib, config)
    assert (resumed.analysed, resumed.skipped, len(resumed.failed)) == (3, 5, 0)
    tracks, matrix = LibraryStore.open(lib).track_embeddings()
    frags, _ = LibraryStore.open(lib).fragment_embeddings()
    assert len(tracks) == 8 and matrix.shape[0] == 8 and np.isfinite(matrix).all()
    assert set(committed["track_id"]) < set(tracks["track_id"])
    # 12 s tracks: two fragments of 5 s each
    assert not frags.duplicated(["track_id", "fragment_index"]).any() and len(frags) == 8 * 2


def test_more_encoder_actors_than_the_cluster_can_feed_is_refused(music_dir, tmp_path):
    with pytest.raises(UsageError, match="--workers 2 encoder actors and the decode tasks need 3 CPUs; "
                                         "this Ray cluster has 2"):
        embed_library(music_dir, tmp_path / "lib", EmbedConfig(engine="ray", workers=2))
    assert LibraryStore.open(tmp_path / "lib").tracks().empty  # nothing was analysed, nothing is half-written


def test_ctk_help_and_a_local_embed_never_import_ray(music_dir, tmp_path):
    code = f"""
import sys
from typer.testing import CliRunner
from cluster_toolkit.cli.main import app
for args in (["--help"], ["embed", "--help"], ["embed", {str(music_dir)!r}, "--library", {str(tmp_path / 'l')!r},
                                              "--workers", "0"]):
    assert CliRunner().invoke(app, args).exit_code == 0, args
print("ray" in sys.modules)
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[-1] == "False"
