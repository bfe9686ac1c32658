from __future__ import annotations

import os
import shutil

from typer.testing import CliRunner

from cluster_toolkit.cli.main import app
from cluster_toolkit.store import LibraryStore

runner = CliRunner()


def _run(*args, env=None):
    # a wide terminal so that rich tables do not fold paths
    return runner.invoke(app, list(args), env={"COLUMNS": "250", **(env or {})})


def test_embed_success_prints_summary_and_status(music_dir, bad_files, tmp_path):
    shutil.copy(bad_files["corrupt"], music_dir / "corrupt.flac")
    lib = tmp_path / "lib"
    result = _run("embed", str(music_dir), "--library", str(lib), "--workers", "0")
    assert result.exit_code == 0, result.output
    out = result.output
    assert f"failed: {music_dir / 'corrupt.flac'}: corrupt or not audio" in out
    assert "analysed" in out and "1 file(s) failed" in out
    status = _run("status", "--library", str(lib))
    assert status.exit_code == 0
    assert "tracks ok" in status.output and " 5 " in status.output.replace("│", " ")
    assert "corrupt.flac" in status.output


def test_library_defaults_to_env_var(music_dir, tmp_path):
    lib = tmp_path / "from-env"
    result = _run("embed", str(music_dir), "--workers", "0", env={"CTK_LIBRARY": str(lib)})
    assert result.exit_code == 0, result.output
    assert len(LibraryStore.open(lib).tracks()) == 5


def test_missing_folder_is_exit_2_without_traceback(tmp_path):
    result = _run("embed", str(tmp_path / "nope"), "--library", str(tmp_path / "lib"))
    assert result.exit_code == 2
    assert f"error: {tmp_path / 'nope'}: no such folder" in result.output
    assert "Traceback" not in result.output


def test_verbose_adds_the_traceback(tmp_path):
    result = _run("--verbose", "embed", str(tmp_path / "nope"), "--library", str(tmp_path / "lib"))
    assert result.exit_code == 2
    assert "Traceback" in result.output and "no such folder" in result.output
    again = _run("embed", str(tmp_path / "nope"), "--library", str(tmp_path / "lib"))  # --verbose does not stick
    assert again.exit_code == 2 and "Traceback" not in again.output and "no such folder" in again.output
    assert not any(key.startswith("CTK_VERBOSE") for key in os.environ)  # nor travel through the environment


def test_unwritable_library_is_exit_2(music_dir, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = _run("embed", str(music_dir), "--library", str(blocker / "lib"), "--workers", "0")
    assert result.exit_code == 2
    assert "cannot create library" in result.output and "Traceback" not in result.output


def test_library_of_another_model_is_exit_2(music_dir, tmp_path):
    lib = tmp_path / "lib"
    assert _run("embed", str(music_dir), "--library", str(lib), "--workers", "0").exit_code == 0
    LibraryStore.open(lib).set_model({"name": "enc"}, "enc-aaaaaaaaaaaa", 8)
    result = _run("embed", str(music_dir), "--library", str(lib), "--workers", "0")
    assert result.exit_code == 2
    assert "was embedded with model enc-aaaaaaaaaaaa" in result.output and "--reembed" in result.output
    assert _run("embed", str(music_dir), "--library", str(lib), "--workers", "0", "--reembed").exit_code == 0


def test_an_existing_library_keeps_its_model_unless_one_is_asked_for(music_dir, tmp_path):
    """A library made with another model than today's default (an earlier default, or --model features) is
    updated with that model when no --model is given; an explicit other model is refused with the way out."""
    lib = tmp_path / "lib"
    assert _run("embed", str(music_dir), "--library", str(lib), "--workers", "0", "--model", "features").exit_code == 0
    made = LibraryStore.open(lib).model_id
    (music_dir / "A" / "one.wav").rename(music_dir / "A" / "renamed.wav")
    again = _run("embed", str(music_dir), "--library", str(lib), "--workers", "0")
    assert again.exit_code == 0, again.output
    assert "keeps the model it was made with, features" in again.output
    store = LibraryStore.open(lib)
    assert store.model_id == made and store.meta["model_spec"] == "features" and len(store.tracks()) == 5
    other = _run("embed", str(music_dir), "--library", str(lib), "--workers", "0", "--model", "hybrid")
    assert other.exit_code == 2
    assert "pass --model features to add to it, --reembed to replace its embeddings" in other.output
    assert LibraryStore.open(lib).model_id == made


def test_unknown_model_is_exit_2(music_dir, tmp_path):
    result = _run("embed", str(music_dir), "--library", str(tmp_path / "lib"), "--model", "nonsense")
    assert result.exit_code == 2
    assert "unknown model 'nonsense'" in result.output


def test_all_failed_is_exit_1(bad_files, tmp_path):
    result = _run("embed", str(bad_files["empty"].parent), "--library", str(tmp_path / "lib"), "--workers", "0")
    assert result.exit_code == 1
    assert "error: all 6 files to analyse failed" in result.output


def test_status_of_missing_library_is_exit_2(tmp_path):
    result = _run("status", "--library", str(tmp_path / "none"))
    assert result.exit_code == 2 and "no library here" in result.output


def test_coverage_options_choose_how_many_fragments_are_embedded(tmp_path):
    from tests.conftest import synth, write_audio

    music = tmp_path / "music"
    write_audio(music / "long.wav", synth(45.0, seed=9))  # 9 fragments of 5 s in full
    counts = {}
    for name, flags in {"full": ["--coverage", "full"], "two": ["--sampled-fragments", "2"]}.items():
        lib = tmp_path / name
        result = _run("embed", str(music), "--library", str(lib), "--workers", "0", "--model", "features", *flags)
        assert result.exit_code == 0, result.output
        counts[name] = int(LibraryStore.open(lib).tracks()["n_fragments"].iloc[0])
    assert counts == {"full": 9, "two": 2}
    bad = _run("embed", str(music), "--library", str(tmp_path / "x"), "--coverage", "most")
    assert bad.exit_code == 2


def test_an_existing_library_keeps_its_fragments_unless_options_say_otherwise(tmp_path):
    """A library cut into 10 s fragments (3 sampled per track) stays so when `ctk embed` runs on it again without
    the options: new tracks get the same plan and no 'holds fragments of 10 s' refusal; an explicit option wins."""
    from tests.conftest import synth, write_audio

    music = tmp_path / "music"
    write_audio(music / "a.wav", synth(60.0, seed=1))
    lib = tmp_path / "lib"
    flags = ["--n-seconds", "10", "--step", "10", "--sampled-fragments", "3"]
    made = _run("embed", str(music), "--library", str(lib), "--workers", "0", "--model", "features", *flags)
    assert made.exit_code == 0, made.output
    store = LibraryStore.open(lib)
    assert store.meta["fragment"]["n_seconds"] == 10.0
    assert store.meta["coverage"] == {"mode": "sampled", "n_fragments": 3}
    write_audio(music / "b.wav", synth(60.0, seed=2))
    again = _run("embed", str(music), "--library", str(lib), "--workers", "0")
    assert again.exit_code == 0, again.output
    assert "keeps the fragments it was made with (--n-seconds 10, --step 10, --sampled-fragments 3" in again.output
    frags, _ = LibraryStore.open(lib).fragment_embeddings()
    tracks = LibraryStore.open(lib).tracks().set_index("path")
    b = frags[frags["track_id"] == tracks.loc[str((music / "b.wav").absolute()), "track_id"]]
    assert len(b) == 3 and b["start_s"].max() == 50.0  # the last of a 10 s grid (a 5 s grid ends at 55)
    # an explicit option is a request: 5 s fragments in a 10 s library are refused with the way out
    other = _run("embed", str(music), "--library", str(lib), "--workers", "0", "--n-seconds", "5", "--step", "5")
    assert other.exit_code == 2 and "holds fragments of 10 s every 10 s" in other.output
    # a new library gets today's defaults: 10 fragments of 5 s
    fresh = tmp_path / "fresh"
    assert _run("embed", str(music), "--library", str(fresh), "--workers", "0", "--model", "features").exit_code == 0
    fresh_store = LibraryStore.open(fresh)
    assert fresh_store.meta["fragment"]["n_seconds"] == 5.0
    assert fresh_store.meta["coverage"] == {"mode": "sampled", "n_fragments": 10}
    assert fresh_store.tracks()["n_fragments"].tolist() == [10, 10]
    # `ctk status` says how each library is cut
    shown = {name: " ".join(_run("status", "--library", str(where)).output.split()) for name, where in
             {"fresh": fresh, "kept": lib}.items()}
    assert "fragment plan │ 5 s every 5 s, 10 sampled per track" in shown["fresh"]
    assert "fragment plan │ 10 s every 10 s, 3 sampled per track" in shown["kept"]


def test_a_library_from_before_coverage_was_recorded_keeps_five_fragments_of_10_s(tmp_path):
    """store.json of a library made before it recorded the coverage holds only the fragment plan: such a library
    was embedded with 5 sampled fragments of 10 s, and new tracks get the same, not today's 10 of 5 s."""
    import json

    from tests.conftest import synth, write_audio

    music = tmp_path / "music"
    write_audio(music / "a.wav", synth(120.0, seed=1))
    lib = tmp_path / "lib"
    flags = ["--n-seconds", "10", "--step", "10", "--sampled-fragments", "5"]
    assert _run("embed", str(music), "--library", str(lib), "--workers", "0", "--model", "features",
                *flags).exit_code == 0
    meta_file = lib / "store.json"
    meta = json.loads(meta_file.read_text())
    del meta["coverage"]  # as such a library's store.json is
    meta_file.write_text(json.dumps(meta))
    write_audio(music / "b.wav", synth(120.0, seed=2))
    again = _run("embed", str(music), "--library", str(lib), "--workers", "0")
    assert again.exit_code == 0, again.output
    assert "--n-seconds 10, --step 10, --sampled-fragments 5" in again.output
    tracks = LibraryStore.open(lib).tracks()
    assert tracks["n_fragments"].tolist() == [5, 5]
    status = json.loads(_run("status", "--library", str(lib), "--json").stdout)
    assert status["fragment_plan"] == {"n_seconds": 10.0, "step": 10.0, "coverage": "sampled", "sampled_fragments": 5}
