"""Symbolic links: folders outside the tree are walked once, loops never, a file-link loop is one failure."""

from __future__ import annotations

import os

from cluster_toolkit.ingest import EmbedConfig, embed_library
from cluster_toolkit.scanning import iter_audio_files
from cluster_toolkit.store import LibraryStore
from tests.faults.conftest import short_tracks


def test_directory_loops_are_not_followed_and_outside_folders_are_walked_once(tmp_path):
    music = short_tracks(tmp_path / "music" / "A", 3).parent
    os.symlink(music, music / "A" / "loop")  # the tree's root inside itself
    os.symlink("..", music / "A" / "up")  # a parent
    outside = short_tracks(tmp_path / "elsewhere", 2)
    os.symlink(outside, music / "linked")
    os.symlink(outside, music / "A" / "linked-again")  # the same folder through a second link
    os.symlink(music / "A", music / "B")  # a link into the tree: walked as A already
    found = [p.relative_to(music).as_posix() for p in iter_audio_files(music)]
    # top-down: music/linked is met before music/A/linked-again, which is then the same folder again
    assert sorted(found) == ["A/t00.wav", "A/t01.wav", "A/t02.wav", "linked/t00.wav", "linked/t01.wav"]


def test_a_file_link_loop_is_recorded_once_as_failed_and_not_again(tmp_path):
    music = short_tracks(tmp_path / "music", 1)
    os.symlink(music / "b.mp3", music / "a.mp3")
    os.symlink(music / "a.mp3", music / "b.mp3")
    os.symlink(music, music / "again")  # a directory loop that used to multiply the report
    first = embed_library(music, tmp_path / "lib", EmbedConfig(workers=0))
    assert first.found == 3 and first.analysed == 1
    assert sorted(os.path.basename(p) for p, _ in first.failed) == ["a.mp3", "b.mp3"]
    assert all("Too many levels of symbolic links" in reason for _, reason in first.failed)
    failed = LibraryStore.open(tmp_path / "lib").tracks(include_failed=True)
    failed = failed[failed["status"] == "failed"]
    assert sorted(os.path.basename(p) for p in failed["path"]) == ["a.mp3", "b.mp3"]
    second = embed_library(music, tmp_path / "lib", EmbedConfig(workers=0))
    assert second.failed == [] and second.skipped_failed == 2 and second.skipped == 1
