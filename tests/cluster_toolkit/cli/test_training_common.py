import pytest

from cluster_toolkit.cli._training_common import list_training_files
from cluster_toolkit.errors import UsageError
from cluster_toolkit.library import content_hash


def test_hashing_reports_each_file(music_dir, tmp_path):
    seen = []
    files = list_training_files(music_dir, on_file=lambda done, total: seen.append((done, total)))
    assert seen == [(1, 5), (2, 5), (3, 5), (4, 5), (5, 5)]
    assert [tid for _, tid in files] == [content_hash(p) for p, _ in files]
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match="no audio files found"):
        list_training_files(tmp_path / "empty", on_file=lambda *a: pytest.fail("called"))
