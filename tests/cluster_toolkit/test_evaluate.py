import numpy as np
import pandas as pd
import pytest

from cluster_toolkit.errors import UsageError
from cluster_toolkit.evaluate import (
    clustering_over_seeds,
    clustering_scores,
    evaluate_embeddings,
    kmeans_seed_count,
    labels_for,
    linear_probe,
    probe_repeats,
    relative_evaluation,
    retrieval_with_intervals,
)
from embeddings.retrieval import per_query_retrieval, retrieval_scores


def _blobs(n_per=10, n_labels=3, spread=0.1, seed=0):
    rng = np.random.default_rng(seed)
    centres = np.eye(n_labels, 8) * 3
    x = np.concatenate([c + spread * rng.normal(size=(n_per, 8)) for c in centres])
    labels = np.repeat([f"l{i}" for i in range(n_labels)], n_per)
    return x.astype(np.float32), labels


def test_separated_labels_score_perfectly():
    x, labels = _blobs()
    report = evaluate_embeddings(x, labels)
    assert report["n_labelled"] == 30 and report["n_labels"] == 3
    assert report["retrieval"]["recall@1"] == 1.0 and report["retrieval"]["map@5"] == 1.0
    assert report["clustering"]["nmi"] == pytest.approx(1.0) and report["clustering"]["ari"] == pytest.approx(1.0)
    assert report["linear_probe"]["accuracy"] == 1.0 and report["linear_probe"]["majority"] == pytest.approx(1 / 3)
    assert report["relative"]["gap"] > 0.5


def test_random_labels_score_near_chance():
    x, _ = _blobs(n_per=20)
    labels = np.random.default_rng(1).permutation(np.repeat(["a", "b", "c"], 20))
    report = evaluate_embeddings(x, labels)
    assert report["clustering"]["ari"] < 0.2
    assert abs(report["relative"]["gap"]) < 0.15
    assert report["linear_probe"]["accuracy"] < 0.6


def test_relative_evaluation_by_hand():
    x = np.array([[1, 0], [1, 0], [0, 1]], dtype=np.float64)
    rel = relative_evaluation(x, np.array(["a", "a", "b"]), n_random=2)
    # tracks 0 and 1: same-label cosine 1; random: the two others -> (1 + 0) / 2
    assert rel["same_label_cosine"] == pytest.approx(1.0)
    assert rel["random_cosine"] == pytest.approx(0.5)
    assert rel["gap"] == pytest.approx(0.5)


def test_probe_drops_singleton_labels_and_lowers_folds():
    x, labels = _blobs(n_per=4, spread=0.01)
    labels = np.append(labels, "alone")
    x = np.vstack([x, np.ones((1, 8), dtype=np.float32)])
    probe = linear_probe(x, labels, folds=5)
    assert probe["folds"] == 4 and probe["accuracy"] >= 0.9
    assert np.isnan(linear_probe(x[:3], labels[:3])["accuracy"])


def _overlapping(n_per=20, seed=0):
    """Three labels whose blobs overlap: a probe scores well above chance but not perfectly."""
    rng = np.random.default_rng(seed)
    centres = np.eye(3, 8) * 1.2
    x = np.concatenate([c + rng.normal(size=(n_per, 8)) for c in centres]).astype(np.float32)
    return x, np.repeat(["a", "b", "c"], n_per)


def test_probe_with_one_repeat_is_one_shuffled_stratified_split():
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x, labels = _overlapping()
    by_hand = cross_val_score(make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)), x, labels,
                              cv=StratifiedKFold(5, shuffle=True, random_state=3))
    probe = linear_probe(x, labels, repeats=1, seed=3)
    assert probe["repeats"] == 1 and np.isnan(probe["split_std"])
    assert probe["accuracy"] == pytest.approx(by_hand.mean()) and probe["accuracy_std"] == pytest.approx(by_hand.std())


def test_repeated_probe_moves_less_with_the_split_than_one_split():
    x, labels = _overlapping(n_per=12, seed=2)
    single = [linear_probe(x, labels, repeats=1, seed=s)["accuracy"] for s in range(6)]
    repeated = [linear_probe(x, labels, repeats=5, seed=s) for s in range(6)]
    assert 0.5 < np.mean(single) < 0.9  # a probe that the split can move, not a trivial one
    assert np.std([r["accuracy"] for r in repeated]) < 0.6 * np.std(single)
    assert all(r["repeats"] == 5 and r["split_std"] > 0 for r in repeated)


def test_probe_repeats_aim_at_2000_test_predictions():
    assert [probe_repeats(n) for n in (30, 222, 400, 1000, 1999, 2000, 50_000)] == [10, 10, 5, 2, 2, 1, 1]
    x, labels = _overlapping(n_per=80)  # 240 tracks -> 9 repeats
    assert linear_probe(x, labels)["repeats"] == 9
    with pytest.raises(UsageError, match="at least 1 repeat"):
        linear_probe(x, labels, repeats=0)


def test_retrieval_intervals_bracket_the_score_and_have_the_binomial_width():
    x, labels = _overlapping(n_per=100, seed=3)  # 300 queries
    scores, ci = retrieval_with_intervals(x, labels, ks=(1, 10))
    assert scores == pytest.approx(retrieval_scores(x, labels, ks=(1, 10)))
    p = scores["recall@1"]
    assert 0.3 < p < 0.9 and ci["recall@1"][0] < p < ci["recall@1"][1]
    binomial = 2 * 1.96 * np.sqrt(p * (1 - p) / 300)  # the width a proportion over 300 queries has
    assert ci["recall@1"][1] - ci["recall@1"][0] == pytest.approx(binomial, rel=0.2)
    assert ci["map@10"][0] < scores["map@10"] < ci["map@10"][1]
    perfect, perfect_ci = retrieval_with_intervals(*_blobs(), ks=(1,))
    assert perfect["recall@1"] == 1.0 and perfect_ci["recall@1"] == [1.0, 1.0]


def test_per_query_retrieval_is_what_the_scores_average():
    x, labels = _overlapping(n_per=10)
    labels = labels.astype("<U8")
    labels[0] = "alone"  # no other track: never a query
    per_query = per_query_retrieval(x, labels, ks=(1, 5))
    assert 0 not in per_query["query_index"] and len(per_query["recall@1"]) == len(labels) - 1
    assert set(np.unique(per_query["recall@5"])) <= {0.0, 1.0}
    scores = retrieval_scores(x, labels, ks=(1, 5))
    assert scores["map@5"] == pytest.approx(per_query["map@5"].mean()) and scores["n_queries"] == len(labels) - 1


def test_clustering_averages_k_means_seeds():
    x, labels = _overlapping(n_per=15, seed=1)
    by_hand = [clustering_scores(x, labels, seed=s) for s in (4, 5, 6, 7)]
    over = clustering_over_seeds(x, labels, seeds=4, seed=4)
    assert over["kmeans_seeds"] == 4 and over["k"] == 3
    for metric in ("nmi", "ami", "ari"):
        values = [r[metric] for r in by_hand]
        assert over[metric] == pytest.approx(np.mean(values)) and over[f"{metric}_std"] == pytest.approx(np.std(values))
    assert over["nmi_std"] > 0  # overlapping labels: the seeds disagree, so the mean is not one run's figure
    assert clustering_over_seeds(x, labels, seeds=1, seed=4)["nmi_std"] == 0.0
    report = evaluate_embeddings(x, labels, kmeans_seeds=4, seed=4)
    assert report["clustering"]["nmi"] == pytest.approx(over["nmi"])
    with pytest.raises(UsageError, match="at least 1 k-means seed"):
        clustering_over_seeds(x, labels, seeds=0)


def test_kmeans_seed_count_is_10_for_a_few_thousand_tracks_and_falls_after():
    assert [kmeans_seed_count(n) for n in (20, 5_000, 5_001, 20_000, 50_000, 10**6)] == [10, 10, 10, 3, 1, 1]


def test_clustering_uses_k_equal_to_the_number_of_labels():
    x, labels = _blobs(n_labels=4)
    assert clustering_scores(x, labels)["k"] == 4


def test_unlabelled_tracks_are_left_out_and_too_few_refused():
    x, labels = _blobs()
    labels = labels.astype(object)
    labels[:5] = None
    assert evaluate_embeddings(x, labels)["n_labelled"] == 25
    with pytest.raises(UsageError, match="at least 3 labelled tracks in 2 labels"):
        evaluate_embeddings(x[:4], ["a", "a", None, None])


def test_labels_for_folder_tag_and_playlist(tmp_path):
    paths = [tmp_path / "Jazz" / "a.wav", tmp_path / "Rock" / "b.wav", tmp_path / "Rock" / "c.wav"]
    for p in paths:
        p.parent.mkdir(exist_ok=True)
        p.write_bytes(b"x")
    tracks = pd.DataFrame(
        {
            "path": [str(p) for p in paths],
            "genre": ["jazz; bop", "", "rock"],
            "artist": ["", "", ""],
            "title": ["a", "b", "c"],
        }
    )
    assert labels_for(tracks, "folder").tolist() == ["Jazz", "Rock", "Rock"]
    assert labels_for(tracks, "tag").tolist() == ["jazz", None, "rock"]
    lists = tmp_path / "lists"
    lists.mkdir()
    (lists / "mix.m3u").write_text("../Jazz/a.wav\n../Rock/c.wav\n")
    assert labels_for(tracks, "playlist", playlists_dir=lists).tolist() == ["mix", None, "mix"]
    with pytest.raises(UsageError, match="needs --playlists"):
        labels_for(tracks, "playlist")
    with pytest.raises(UsageError, match="no .m3u"):
        labels_for(tracks, "playlist", playlists_dir=tmp_path / "Jazz")
