"""Audio-only vs lyrics-only vs fused vectors of one library against one set of labels.

    ctk embed MUSIC_DIR --library LIB --lyrics
    ctk train-fusion --library LIB --out runs/fusion [--negative-weights lyrics]
    python bench/lyrics_spaces.py --library LIB --labels folder [--labels artist ...]

For each ``--labels`` (any ``ctk evaluate --labels`` spec) it scores the three spaces on the same tracks
(those with lyrics, so that every space is measured on identical queries) and, for audio and fused, also
on all tracks: Recall@1/10, mAP@10 and the relative cosine evaluation (mean cosine to same-label tracks
minus mean cosine to random ones), as a Markdown table for docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import platform
import sys
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cluster_toolkit.evaluate import labels_for, relative_evaluation  # noqa: E402
from cluster_toolkit.fusion_library import SPACES, space_vectors  # noqa: E402
from cluster_toolkit.store import LibraryStore  # noqa: E402
from embeddings.retrieval import retrieval_scores  # noqa: E402


def score(store: LibraryStore, spec: str, space: str, only: set[str] | None) -> dict[str, float] | None:
    tracks, x = space_vectors(store, space)
    keep = tracks["track_id"].isin(only).to_numpy() if only is not None else slice(None)
    tracks, x = tracks[keep].reset_index(drop=True), x[keep]
    labels = labels_for(tracks, spec)
    has = labels.notna().to_numpy()
    if has.sum() < 3 or labels[has].nunique() < 2:
        return None
    x, codes = x[has], labels[has].astype(str).to_numpy()
    retrieval = retrieval_scores(x, codes, ks=(1, 10))
    relative = relative_evaluation(x, codes)
    return {"n": int(has.sum()), "labels": int(len(set(codes))), "recall@1": retrieval["recall@1"],
            "recall@10": retrieval["recall@10"], "map@10": retrieval["map@10"], "gap": relative["gap"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--library", type=Path, required=True)
    parser.add_argument("--labels", action="append", required=True, help="folder, genre, artist, csv:PATH...")
    args = parser.parse_args()
    store = LibraryStore.open(args.library)
    with_lyrics = set(space_vectors(store, "lyrics")[0]["track_id"])
    print(f"<!-- {date.today()} {platform.node()} python bench/lyrics_spaces.py --library {args.library} -->")
    print("| labels | tracks | space | n | labels | Recall@1 | Recall@10 | mAP@10 | cosine gap |")
    print("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for spec in args.labels:
        for subset, only in (("with lyrics", with_lyrics), ("all", None)):
            for space in SPACES:
                if subset == "all" and space == "lyrics":
                    continue
                row = score(store, spec, space, only)
                if row is None:
                    print(f"| {spec} | {subset} | {space} | too few labelled tracks | | | | | |")
                    continue
                print(f"| {spec} | {subset} | {space} | {row['n']} | {row['labels']} | {row['recall@1']:.3f} | "
                      f"{row['recall@10']:.3f} | {row['map@10']:.3f} | {row['gap']:.3f} |")


if __name__ == "__main__":
    main()
