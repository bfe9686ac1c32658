import pytest

from cluster_toolkit.cli._training_common import list_training_files
from cluster_toolkit.errors import UsageError
from cluster_toolkit.ingest import content_hash


def test_hashing_reports_each_file(music_dir, tmp_path):
    seen = []
    files = list_training_files(music_dir, on_file=lambda done, total: seen.append((done, total)))
    assert seen == [(1, 5), (2, 5), (3, 5), (4, 5), (5, 5)]
    assert [tid for _, tid in files] == [content_hash(p) for p, _ in files]
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match="no audio files found"):
        list_training_files(tmp_path / "empty", on_file=lambda *a: pytest.fail("called"))


def test_the_bar_says_when_the_next_validation_comes():
    import io

    from rich.console import Console
    from rich.progress import Progress

    from cluster_toolkit.cli._training_common import TrainingProgressBar, training_columns

    progress = Progress(*training_columns(), console=Console(file=io.StringIO()))
    bar = TrainingProgressBar(progress, val_every=500)
    step = {"event": "step", "total_steps": 2000, "epoch": 0, "loss": 1.0, "lr": 1e-3, "fragments_per_s": 10.0}
    bar({**step, "step": 1})
    assert progress.tasks[0].description == "epoch 1 · validation at step 500"
    bar({**step, "step": 500})
    assert progress.tasks[0].description == "validating at step 500"
    bar({**step, "step": 501, "epoch": 1})
    assert progress.tasks[0].description == "epoch 2 · validation at step 1000"
    assert TrainingProgressBar(progress).step_description(7, 2) == "epoch 3"
