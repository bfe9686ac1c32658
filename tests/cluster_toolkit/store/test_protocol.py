import inspect

import numpy as np
import pandas as pd

from cluster_toolkit.store import LibraryStore, Store
from cluster_toolkit.store.runs import list_runs


def _members(cls: type) -> list[str]:
    return [name for name in vars(cls) if not name.startswith("_")]


def _params(function) -> list[tuple]:
    return [(p.name, p.kind, p.default) for p in inspect.signature(function).parameters.values()]


def test_library_store_has_every_member_of_the_protocol_with_the_same_signature(tmp_path):
    store = LibraryStore.open(tmp_path / "lib", create=True)
    assert isinstance(store, Store)
    members = _members(Store)
    assert {"model_id", "writing", "track_embeddings", "table_names", "read_table", "write_table"} <= set(members)
    for name in members:
        proto = inspect.getattr_static(Store, name)
        impl = inspect.getattr_static(LibraryStore, name, None)
        if callable(proto):
            assert callable(impl), name
            assert _params(proto) == _params(impl), name
        elif isinstance(proto, property):
            assert isinstance(impl, property), name
    assert set(Store.__annotations__) == {"root", "meta"}  # plain attributes
    assert store.root == tmp_path / "lib" and store.meta["format"] == 1


class _DictStore:
    """A store that keeps its derived tables in memory: enough for the run tables."""

    def __init__(self, root):
        self.root, self.meta, self.tables = root, {"model_id": "m", "dim": 2}, {}

    model_id = property(lambda self: self.meta["model_id"])
    dim = property(lambda self: self.meta["dim"])

    def writing(self, command=None, *, wait_s=0.0):
        from contextlib import nullcontext

        return nullcontext(self)

    def tracks(self, *, include_gone=False, include_failed=False):
        return pd.DataFrame({"track_id": ["a"]})

    def track_embeddings(self):
        return self.tracks(), np.zeros((1, 2))

    def fragment_embeddings(self, track_ids=None):
        return pd.DataFrame(), np.zeros((0, 2))

    def import_tabular(self, tracks, embeddings, description):
        raise NotImplementedError

    def table_names(self):
        return sorted(self.tables)

    def has_table(self, name):
        return name in self.tables

    def read_table(self, name):
        return self.tables[name]

    def write_table(self, name, df):
        self.tables[name] = df.copy()
        return self.root / f"{name}.parquet"


def test_code_built_on_the_protocol_runs_on_another_store(tmp_path):
    from cluster_toolkit.store.runs import ClusterRun, labels_frame, save_run

    store = _DictStore(tmp_path)
    assert isinstance(store, Store)
    run = ClusterRun("kmeans-0123456789", "kmeans", {}, "m", {}, 1, 0, "2026-01-01T00:00:00Z", 0.1, 0,
                     labels_frame("kmeans-0123456789", ["a"], np.array([0])))
    save_run(store, run)
    assert store.table_names() == ["cluster_labels", "cluster_runs"]
    assert list_runs(store)["run_id"].tolist() == ["kmeans-0123456789"]
