"""``ctk embed s3://bucket/audio``: real audio files uploaded to a moto S3 server on 127.0.0.1, embedded by
the local engine's worker processes and by the Ray engine; the store holds the URLs, the local content
hashes and the local engine's vectors; a re-run downloads nothing; a changed, moved or broken object is
handled alone."""

from __future__ import annotations

import logging
import re
import shutil

import numpy as np
import pytest
from typer.testing import CliRunner

from cluster_toolkit.cli.main import app
from cluster_toolkit.embed_workers import WorkItem, analyse_item
from cluster_toolkit.ingest import EmbedConfig, embed_library
from cluster_toolkit.object_audio import open_location
from cluster_toolkit.scanning import content_hash, path_id
from cluster_toolkit.store import LibraryStore
from embeddings.config import CoverageConfig, FragmentConfig
from tests.conftest import synth, write_audio

MODEL = "features"


class _Requests(logging.Handler):
    """The requests moto's server logs (werkzeug's access log, in this process): ``[(method, path)]``."""

    LINE = re.compile(r"\b(GET|PUT|POST|HEAD|DELETE) (\S+) HTTP")  # after colour codes, for some statuses

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.seen: list[tuple[str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        match = self.LINE.search(record.getMessage())
        if match:
            self.seen.append((match.group(1), match.group(2)))

    def object_gets(self, bucket: str, folder: str) -> list[str]:
        """Keys below ``folder`` read whole (GETs of an object, not listings)."""
        prefix = f"/{bucket}/{folder}/"
        return sorted(p[len(f"/{bucket}/"):] for m, p in self.seen if m == "GET" and p.startswith(prefix))


@pytest.fixture
def requests():
    log = logging.getLogger("werkzeug")
    handler, level = _Requests(), log.level
    log.setLevel(logging.INFO)
    log.addHandler(handler)
    yield handler
    log.removeHandler(handler)
    log.setLevel(level)


@pytest.fixture
def uploaded(bucket, music_dir, bad_files):
    """``music_dir`` plus a corrupt file, a hidden file and a text file, uploaded to ``s3://<bucket>/audio``."""
    name, fs, _ = bucket
    shutil.copy(bad_files["corrupt"], music_dir / "corrupt.flac")
    write_audio(music_dir / ".hidden" / "h.wav", synth(12, seed=9))
    (music_dir / "notes.txt").write_text("not audio")
    fs.put(str(music_dir) + "/", f"{name}/audio/", recursive=True)
    (music_dir / "notes.txt").unlink()
    shutil.rmtree(music_dir / ".hidden")
    return name, fs, music_dir


def _invoke(*args):
    return CliRunner().invoke(app, [str(a) for a in args], env={"COLUMNS": "250"})


def _row(output: str, label: str) -> str:
    match = re.search(rf"│ {re.escape(label)}\s*│\s*(\S+)\s*│", output)
    assert match, output
    return match.group(1)


def _vectors(store: LibraryStore) -> dict[str, np.ndarray]:
    tracks, matrix = store.track_embeddings()
    return dict(zip(tracks["track_id"], matrix))


def _assert_same_vectors(remote: LibraryStore, local: LibraryStore) -> None:
    got, want = _vectors(remote), _vectors(local)
    assert sorted(got) == sorted(want)
    for tid in want:
        np.testing.assert_allclose(got[tid], want[tid], rtol=1e-5, atol=1e-5)
    frags_got, x_got = remote.fragment_embeddings()
    frags_want, x_want = local.fragment_embeddings()
    key = ["track_id", "fragment_index"]
    order_got, order_want = frags_got.sort_values(key).index, frags_want.sort_values(key).index
    assert frags_got.loc[order_got, key + ["start_s"]].values.tolist() == \
        frags_want.loc[order_want, key + ["start_s"]].values.tolist()
    np.testing.assert_allclose(x_got[order_got], x_want[order_want], rtol=1e-5, atol=1e-5)


def test_embed_s3_audio_with_workers_then_rerun_change_and_move(uploaded, requests, tmp_path):
    name, fs, music_dir = uploaded
    audio, library = f"s3://{name}/audio", f"s3://{name}/ctk"
    made = _invoke("embed", audio, "--library", library, "--workers", 2, "--model", MODEL)
    assert made.exit_code == 0, made.output
    failed_lines = [line for line in made.output.splitlines() if line.startswith("failed: ")]
    assert failed_lines == [f"failed: {audio}/corrupt.flac: corrupt or not audio (no FLAC stream found in its bytes)"]
    assert (_row(made.output, "audio files found"), _row(made.output, "analysed")) == ("6", "5")

    # the store lists the URLs (no hidden or text object), with the content hashes of the local files
    remote = LibraryStore.open(library)
    rows = remote.all_tracks().set_index("path")
    local_files = sorted(p for p in music_dir.rglob("*") if p.is_file())
    urls = [f"{audio}/{p.relative_to(music_dir).as_posix()}" for p in local_files]
    assert sorted(rows.index) == urls
    assert [rows.loc[u, "track_id"] for u in urls] == [content_hash(p) for p in local_files]
    assert rows.loc[f"{audio}/corrupt.flac", "status"] == "failed"
    listed = fs.find(f"{name}/audio", detail=True)
    assert rows.loc[f"{audio}/A/one.wav", "etag"] == listed[f"{name}/audio/A/one.wav"]["ETag"]
    assert rows.loc[f"{audio}/A/one.wav", "title"] == "one"  # the name of the object, not of the temporary file

    # the same vectors and failure as a local embed of the same files
    local_summary = embed_library(music_dir, tmp_path / "local", EmbedConfig(model=MODEL, workers=0))
    local = LibraryStore.open(tmp_path / "local")
    _assert_same_vectors(remote, local)
    assert local_summary.failed == [(str(music_dir / "corrupt.flac"), rows.loc[f"{audio}/corrupt.flac", "error"])]

    # nothing changed: nothing downloaded, nothing added
    fs.invalidate_cache()
    parts = sorted(fs.find(f"{name}/ctk"))
    requests.seen.clear()
    again = _invoke("embed", audio, "--library", library, "--workers", 2, "--model", MODEL)
    assert again.exit_code == 0, again.output
    assert requests.object_gets(name, "audio") == []
    assert (_row(again.output, "analysed"), _row(again.output, "skipped, unchanged")) == ("0", "5")
    assert _row(again.output, "skipped, failed before (--retry-failed)") == "1"
    fs.invalidate_cache()
    assert sorted(fs.find(f"{name}/ctk")) == parts

    # one object changed, one moved: only the changed one is analysed, the moved one downloaded and recognised
    write_audio(music_dir / "A" / "one.wav", synth(12, freq=250, seed=11))
    fs.put_file(str(music_dir / "A" / "one.wav"), f"{name}/audio/A/one.wav")
    fs.mv(f"{name}/audio/B/three.flac", f"{name}/audio/D/three.flac")
    (music_dir / "D").mkdir()
    (music_dir / "B" / "three.flac").rename(music_dir / "D" / "three.flac")
    requests.seen.clear()
    changed = embed_library(audio, library, EmbedConfig(model=MODEL, workers=2))
    assert requests.object_gets(name, "audio") == ["audio/A/one.wav", "audio/D/three.flac"]
    assert (changed.analysed, changed.moved, changed.gone, changed.skipped, changed.failed) == (1, 1, 1, 4, [])
    rows = LibraryStore.open(library).all_tracks()
    assert sorted(rows["status"]) == ["failed", "gone", "ok", "ok", "ok", "ok", "ok"]  # the old one.wav is gone
    rows = rows[rows["status"] != "gone"].set_index("path")
    assert rows.loc[f"{audio}/A/one.wav", "track_id"] == content_hash(music_dir / "A" / "one.wav")
    assert rows.loc[f"{audio}/D/three.flac", "track_id"] == content_hash(music_dir / "D" / "three.flac")
    assert rows.loc[f"{audio}/D/three.flac", "status"] == "ok"
    embed_library(music_dir, tmp_path / "local", EmbedConfig(model=MODEL, workers=0))
    _assert_same_vectors(LibraryStore.open(library), LibraryStore.open(tmp_path / "local"))
    requests.seen.clear()
    third = embed_library(audio, library, EmbedConfig(model=MODEL, workers=2))
    assert requests.object_gets(name, "audio") == [] and (third.analysed, third.skipped) == (0, 5)


def test_an_object_that_cannot_be_downloaded_is_a_failed_row_naming_its_url(bucket):
    name, _, _ = bucket
    fs, _ = open_location(f"s3://{name}")
    url = f"s3://{name}/audio/gone.wav"
    row = analyse_item(WorkItem("", url, 1000, 1.0, '"etag"'), MODEL, FragmentConfig(), CoverageConfig(), fs)
    assert (row["path"], row["status"], row["error"]) == (url, "failed", "cannot download (no such object)")
    # keyed by its URL, without the cheap key: the next run tries it again
    assert row["track_id"] == path_id(url) and row["etag"] is None and np.isnan(row["mtime"])


def test_missing_folder_url_is_a_one_line_usage_error(bucket):
    name, _, _ = bucket
    res = _invoke("embed", f"s3://{name}/nothing", "--library", f"s3://{name}/ctk", "--model", MODEL)
    assert res.exit_code == 2
    assert res.output.strip().splitlines()[-1] == f"error: s3://{name}/nothing: no such folder"


def test_ray_engine_downloads_in_its_tasks_and_writes_the_local_engines_vectors(uploaded, tmp_path):
    import ray  # the ctk[ray] extra, which `make test` installs

    name, _, music_dir = uploaded
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        summary = embed_library(f"s3://{name}/audio", f"s3://{name}/ctk-ray",
                                EmbedConfig(model=MODEL, workers=1, engine="ray"))
    finally:
        ray.shutdown()
    assert summary.analysed == 5
    assert summary.failed == [(f"s3://{name}/audio/corrupt.flac",
                               "corrupt or not audio (no FLAC stream found in its bytes)")]
    embed_library(music_dir, tmp_path / "local", EmbedConfig(model=MODEL, workers=0))
    by_ray = LibraryStore.open(f"s3://{name}/ctk-ray")
    _assert_same_vectors(by_ray, LibraryStore.open(tmp_path / "local"))
    paths = sorted(by_ray.all_tracks()["path"])
    assert paths == sorted(f"s3://{name}/audio/{p.relative_to(music_dir).as_posix()}"
                           for p in music_dir.rglob("*") if p.is_file())


def test_rows_of_a_local_run_keep_track_of_s3_tracks(uploaded, tmp_path):
    """A library holding tracks of both: a run over the local folder leaves the objects' tracks alone."""
    name, _, _ = uploaded
    library = tmp_path / "mixed"
    embed_library(f"s3://{name}/audio", library, EmbedConfig(model=MODEL, workers=0))
    other = tmp_path / "other"
    write_audio(other / "x.wav", synth(12, freq=300, seed=12))
    summary = embed_library(other, library, EmbedConfig(model=MODEL, workers=0))
    assert (summary.analysed, summary.gone) == (1, 0)
    statuses = LibraryStore.open(library).all_tracks().set_index("path")["status"]
    assert statuses[f"s3://{name}/audio/A/one.wav"] == "ok" and statuses[str(other / "x.wav")] == "ok"
