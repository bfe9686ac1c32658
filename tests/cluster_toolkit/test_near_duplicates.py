import json

import pytest

from cluster_toolkit.near_duplicates import (
    CALIBRATION_FILE,
    FALLBACK_DISTANCE,
    calibration_key,
    calibrations,
    near_duplicate_dims,
    near_duplicate_distance,
    write_calibration,
)


def test_calibrated_models_get_their_own_threshold_others_the_fallback(tmp_path):
    path = tmp_path / "nd.json"
    assert calibrations(path) == {}
    write_calibration("toy-000000000001", 0.0123456789, {"same_max": 0.004}, path=path)
    write_calibration("toy-000000000002", 0.02, {}, path=path)
    write_calibration("toy-000000000001", 0.003, {"same_max": 0.001}, path=path)  # replaced, not added
    table = json.loads(path.read_text())
    assert set(table) == {"toy-000000000001", "toy-000000000002"}
    assert near_duplicate_distance("toy-000000000001", path=path) == (0.003, None)
    distance, notice = near_duplicate_distance("mine-abcdef123456", path=path)
    assert distance == FALLBACK_DISTANCE and "'mine-abcdef123456' is not calibrated" in notice
    assert "bench/near_duplicates.py" in notice


def test_a_calibration_belongs_to_a_fragment_length(tmp_path):
    path = tmp_path / "nd.json"
    write_calibration("toy-000000000003", 0.02, {"dims": 2}, path=path)  # 10 s: the bare model id
    write_calibration("toy-000000000003", 0.03, {"dims": 3}, n_seconds=5.0, path=path)
    assert set(json.loads(path.read_text())) == {"toy-000000000003", "toy-000000000003@5s"}
    assert near_duplicate_distance("toy-000000000003", n_seconds=5, path=path) == (0.03, None)
    assert near_duplicate_distance("toy-000000000003", n_seconds=10.0, path=path) == (0.02, None)
    assert near_duplicate_distance("toy-000000000003", path=path) == (0.02, None)
    assert near_duplicate_dims("toy-000000000003", n_seconds=5, path=path) == 3
    assert near_duplicate_dims("toy-000000000003", path=path) == 2
    # a length without its own entry: the model's 10 s threshold, and a notice saying so
    distance, notice = near_duplicate_distance("toy-000000000003", n_seconds=8.0, path=path)
    assert distance == 0.02 and "calibrated on 10 s fragments, this library's are 8 s" in notice
    assert near_duplicate_dims("toy-000000000003", n_seconds=8.0, path=path) == 2
    assert near_duplicate_distance("other-000000000000", n_seconds=5, path=path)[0] == FALLBACK_DISTANCE


def test_the_default_model_is_calibrated_on_the_default_fragments():
    """A new library (the default model, ctk embed's default fragments) gets a threshold measured on exactly that."""
    from embeddings.backends import DEFAULT_BACKEND, load_backend
    from embeddings.backends.base import model_id
    from embeddings.config import EMBED_FRAGMENTS

    mid = model_id(load_backend(DEFAULT_BACKEND).describe())
    entry = calibrations(CALIBRATION_FILE)[calibration_key(mid, EMBED_FRAGMENTS.n_seconds)]
    assert entry["n_seconds"] == EMBED_FRAGMENTS.n_seconds and entry["step"] == EMBED_FRAGMENTS.step
    assert near_duplicate_distance(mid, n_seconds=EMBED_FRAGMENTS.n_seconds) == (entry["cosine_distance"], None)


def test_the_shipped_calibrations_are_sane():
    table = calibrations(CALIBRATION_FILE)
    assert any(model.startswith("ctk-small-") for model in table)
    for model, entry in table.items():
        # below the closest 1 % of genuine same-source pairs of that model (the scale differs by model: a
        # hybrid+std track vector's std block spreads distances out, its threshold is 0.128)
        assert 0.0 < entry["cosine_distance"] < min(entry["distinct_p01"], 0.5), model
        # the threshold catches most re-encoded copies and flags few genuine same-source pairs
        assert entry["copies_caught"] >= 0.5 and entry["distinct_flagged"] <= 0.02, model


def test_the_playlist_commands_read_the_models_threshold(tmp_path, monkeypatch):
    from cluster_toolkit.cli._playlist_common import rules_from
    from cluster_toolkit.store import LibraryStore

    path = tmp_path / "nd.json"
    write_calibration("toy-000000000007", 0.0042, {}, path=path)
    monkeypatch.setattr("cluster_toolkit.near_duplicates.CALIBRATION_FILE", path)
    store = LibraryStore.open(tmp_path / "lib", create=True)
    store.set_model({"name": "toy", "dim": 4}, "toy-000000000007", 4)
    rules = rules_from(0, False, store=store)
    assert rules.near_duplicate_distance == pytest.approx(0.0042) and rules.near_duplicate_dims == 0
    write_calibration("toy-000000000007", 0.05, {"dims": 3}, path=path)  # judged on the first 3 of 4 dims
    rules = rules_from(0, False, store=store)
    assert (rules.near_duplicate_distance, rules.near_duplicate_dims) == (pytest.approx(0.05), 3)
    assert near_duplicate_dims("toy-000000000007", path=path) == 3 and near_duplicate_dims("other", path=path) == 0
    # a library of 5 s fragments reads the model's 5 s entry
    write_calibration("toy-000000000007", 0.07, {"dims": 2}, n_seconds=5.0, path=path)
    store.update_meta(fragment={"n_seconds": 5.0, "step": 5.0})
    rules = rules_from(0, False, store=store)
    assert (rules.near_duplicate_distance, rules.near_duplicate_dims) == (pytest.approx(0.07), 2)
