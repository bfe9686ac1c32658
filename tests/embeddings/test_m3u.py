"""The one M3U/M3U8 reader: the rules training positives and the playlist commands both rely on."""

import os
from pathlib import Path

import pytest

from embeddings.errors import PlaylistFileError
from embeddings.m3u import M3UEntry, file_key, parse_m3u_entries, read_m3u, read_m3u_entries


def test_comments_blank_lines_extinf_bom_and_crlf(tmp_path):
    text = (
        "\ufeff#EXTM3U\r\n#PLAYLIST:Evening\r\n\r\n#EXTINF:245,Artist - Title\r\nsub/a.mp3\r\n"
        "# a comment\r\n#EXTINF:-1,Unknown length\r\nb.flac\r\n#EXTINF:abc,\r\nc.ogg\r\nd.wav\r\n"
    )
    assert parse_m3u_entries(text, tmp_path) == [
        M3UEntry(str(tmp_path / "sub" / "a.mp3"), 245.0, "Artist - Title"),
        M3UEntry(str(tmp_path / "b.flac"), None, "Unknown length"),  # -1: unknown
        M3UEntry(str(tmp_path / "c.ogg"), None, None),  # unreadable duration, empty label
        M3UEntry(str(tmp_path / "d.wav"), None, None),  # #EXTINF applies to the next entry only
    ]


def test_urls_backslashes_home_and_absolute_paths(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    text = (
        "file:///srv/m%20b.flac\nFILE:///srv/line%0Abreak.flac\nhttp://radio/stream\n"
        "Music\\Artist\\a.flac\n~/x.mp3\n/abs/../abs/c.ogg\n"
    )
    entries = parse_m3u_entries(text, tmp_path / "lists")
    assert [e.path for e in entries] == [
        "/srv/m b.flac",
        "/srv/line\nbreak.flac",
        "http://radio/stream",  # other URLs are kept as written
        str(tmp_path / "lists" / "Music" / "Artist" / "a.flac"),  # written on Windows
        str(tmp_path / "home" / "x.mp3"),
        "/abs/c.ogg",
    ]
    assert [e.is_url for e in entries] == [False, False, True, False, False, False]


def test_relative_entries_start_at_the_real_folder_of_a_symlinked_playlist_folder(tmp_path):
    (tmp_path / "real" / "lists").mkdir(parents=True)
    (tmp_path / "real" / "music").mkdir()
    (tmp_path / "real" / "music" / "a.flac").write_bytes(b"x")
    (tmp_path / "link").symlink_to(tmp_path / "real" / "lists")
    (tmp_path / "real" / "lists" / "mix.m3u").write_text("../music/a.flac\n")
    # the OS opens link/../music/a.flac as real/music/a.flac: the reader must say the same
    assert read_m3u(tmp_path / "link" / "mix.m3u") == [str(tmp_path / "real" / "music" / "a.flac")]


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("utf8.m3u8", "#EXTINF:1,Björk - Jóga\nCafé.mp3\n".encode()),
        ("latin.m3u", "#EXTINF:1,Björk - Jóga\nCafé.mp3\n".encode("latin-1")),  # classic .m3u: a code page
        ("mislabelled.m3u8", "#EXTINF:1,Björk - Jóga\nCafé.mp3\n".encode("latin-1")),  # read, not refused
        ("bom.m3u8", "\ufeff#EXTINF:1,Björk - Jóga\nCafé.mp3\n".encode()),
        ("windows.m3u", "#EXTINF:1,Björk - Jóga\r\nCafé.mp3\r\n".encode("utf-16")),  # UTF-16 with its BOM
    ],
)
def test_encodings(tmp_path, name, raw):
    (tmp_path / name).write_bytes(raw)
    assert read_m3u_entries(tmp_path / name) == [M3UEntry(str(tmp_path / "Café.mp3"), 1.0, "Björk - Jóga")]


def test_unreadable_files_are_one_line_errors_naming_the_file(tmp_path):
    with pytest.raises(PlaylistFileError, match=r"cannot read playlist .*missing\.m3u8"):
        read_m3u(tmp_path / "missing.m3u8")
    binary = tmp_path / "binary.m3u"
    binary.write_bytes(b"\x00\x01\x02abc\n")
    with pytest.raises(PlaylistFileError, match=r"binary\.m3u: not a text playlist \(it holds NUL bytes"):
        read_m3u(binary)
    unmarked = tmp_path / "unmarked.m3u8"
    unmarked.write_bytes("/music/a.flac\n".encode("utf-16-le"))
    with pytest.raises(PlaylistFileError, match="unmarked UTF-16"):
        read_m3u(unmarked)
    bad16 = tmp_path / "bad16.m3u"
    bad16.write_bytes(b"\xff\xfe" + "/a.flac".encode("utf-16-le") + b"\x00")  # an odd number of bytes
    with pytest.raises(PlaylistFileError, match=r"bad16\.m3u: not a text playlist \(bad UTF-16"):
        read_m3u(bad16)


def test_file_key_is_one_key_for_links_relative_paths_and_home(tmp_path, monkeypatch):
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "a.flac").write_bytes(b"x")
    (tmp_path / "link").symlink_to(tmp_path / "real")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    keys = {file_key(p) for p in (tmp_path / "link" / "a.flac", "real/a.flac", "~/link/a.flac", "link/../real/a.flac")}
    assert keys == {os.path.normcase(str(tmp_path / "real" / "a.flac"))}
    assert file_key("missing/../b.flac") == str(Path(tmp_path) / "b.flac")  # need not exist
