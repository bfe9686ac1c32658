"""Listing audio on an fsspec filesystem (fsspec's in-memory one: real listings, no server) with the local
scan's rules, the cheap key, and one object downloaded to a temporary file."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime

import fsspec
import pytest

from cluster_toolkit.errors import UsageError
from cluster_toolkit.object_audio import (
    DownloadError,
    ListedObject,
    list_audio_objects,
    listed_object,
    local_copy,
    open_location,
    same_version,
)
from cluster_toolkit.scanning import content_hash


@pytest.fixture
def memory_folder():
    root = f"/music-{uuid.uuid4().hex[:8]}"
    fs = fsspec.filesystem("memory")
    for name, data in {"A/one.wav": b"1" * 10, "A/two.FLAC": b"2" * 20, "B/song.m4a": b"3", "B/notes.txt": b"t",
                       ".hidden/h.wav": b"h", "B/.h.mp3": b"h", "lib/tracks/x.wav": b"l"}.items():
        fs.pipe(f"{root}/{name}", data)
    yield fs, root
    fs.rm(root, recursive=True)


def test_listing_keeps_audio_skips_hidden_and_the_library_and_sorts(memory_folder):
    fs, root = memory_folder
    found, top = open_location(f"memory://{root}")
    objects = list_audio_objects(found, top, exclude=f"memory://{root}/lib")
    assert [o.url for o in objects] == [f"memory://{root}/{n}" for n in ("A/one.wav", "A/two.FLAC", "B/song.m4a")]
    assert [o.size for o in objects] == [10, 20, 1]
    assert all(o.etag is None and o.mtime > 0 for o in objects)  # the memory listing has a time, no ETag


def test_a_missing_folder_is_a_usage_error_naming_it():
    with pytest.raises(UsageError, match=r"^memory:///nowhere-here: no such folder$"):
        open_location("memory:///nowhere-here")


def test_the_cheap_key_is_size_and_etag_else_size_and_time():
    when = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
    s3 = listed_object(fsspec.filesystem("memory"), {"name": "/b/a.wav", "size": 5, "ETag": '"e1"',
                                                     "LastModified": when})
    assert (s3.size, s3.etag, s3.mtime) == (5, '"e1"', when.timestamp())
    assert same_version(5, 0.0, '"e1"', s3)  # the ETag decides, whatever the time
    assert not same_version(5, s3.mtime, '"e2"', s3) and not same_version(6, s3.mtime, '"e1"', s3)
    no_etag = ListedObject("memory:///a.wav", 5, 100.0, None)
    assert same_version(5, 100.0, None, no_etag) and not same_version(5, 101.0, None, no_etag)
    assert not same_version(5, math.nan, None, ListedObject("x://a.wav", 5, math.nan, None))  # nothing to compare


def test_local_copy_keeps_the_name_hashes_the_bytes_and_cleans_up(memory_folder):
    fs, root = memory_folder
    with local_copy(fs, f"memory://{root}/A/one.wav") as (path, digest):
        assert path.name == "one.wav" and path.read_bytes() == b"1" * 10
        assert digest == content_hash(path)
    assert not path.exists() and not path.parent.exists()
    with pytest.raises(DownloadError, match=rf"^memory://{root}/A/gone.wav: cannot download \(no such object\)$"):
        with local_copy(fs, f"memory://{root}/A/gone.wav"):
            pass
