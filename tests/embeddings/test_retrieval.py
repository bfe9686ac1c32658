import numpy as np
import pytest

from embeddings.errors import ConfigError
from embeddings.retrieval import recall_hits, retrieval_scores


def _reference(x, labels, k):
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    recalls, aps = [], []
    for q in range(len(x)):
        relevant = [j for j in range(len(x)) if j != q and labels[j] == labels[q]]
        if not relevant:
            continue
        others = sorted((j for j in range(len(x)) if j != q), key=lambda j: -float(x[q] @ x[j]))[:k]
        rel = [labels[j] == labels[q] for j in others]
        recalls.append(any(rel))
        hits, total = 0, 0.0
        for i, r in enumerate(rel, start=1):
            if r:
                hits += 1
                total += hits / i
        aps.append(total / min(k, len(relevant)))
    return np.mean(recalls), np.mean(aps)


def test_matches_a_reference_loop():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 4, size=30)
    x = rng.normal(size=(30, 5)) + 1.5 * np.eye(5)[labels]
    x[np.flatnonzero(labels == 3)[0]] = rng.normal(size=5)
    scores = retrieval_scores(x, labels, ks=(1, 3, 10))
    for k in (1, 3, 10):
        recall, ap = _reference(x, labels, k)
        assert scores[f"recall@{k}"] == pytest.approx(recall)
        assert scores[f"map@{k}"] == pytest.approx(ap)


def test_perfect_and_singleton_labels():
    x = np.array([[1, 0], [1, 0.1], [0, 1], [0.1, 1], [-1, -1]], dtype=np.float32)
    scores = retrieval_scores(x, ["a", "a", "b", "b", "c"], ks=(1, 2))
    assert scores["n_queries"] == 4  # "c" has no other member
    assert scores["recall@1"] == 1.0 and scores["map@1"] == 1.0 and scores["map@2"] == 1.0


def test_query_mask_and_errors():
    x = np.eye(4, dtype=np.float32)
    scores = retrieval_scores(x, [0, 0, 1, 1], ks=(1,), queries=np.array([True, False, False, False]))
    assert scores["n_queries"] == 1
    assert np.isnan(retrieval_scores(x, [0, 1, 2, 3], ks=(1,))["recall@1"])
    with pytest.raises(ConfigError, match="labels"):
        retrieval_scores(x, [0, 1])


def test_recall_hits_are_the_per_query_outcomes():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 5, size=40)
    labels[7] = 9  # a label of one item: no query
    x = rng.normal(size=(40, 6)) + 1.2 * np.eye(10)[labels][:, :6]
    for k in (1, 3, 10):
        hits = recall_hits(x, labels, k)
        assert hits.shape == (40,) and not hits[7]
        queries = np.arange(40) != 7
        assert hits[queries].mean() == pytest.approx(_reference(x, labels, k)[0])
    with pytest.raises(ConfigError, match="k >= 1"):
        recall_hits(x, labels, 0)
