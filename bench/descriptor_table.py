"""A real tabular set: the handcrafted descriptors of a ``features`` store as a CSV, one row per track.

    python bench/descriptor_table.py --library heldout-features.ctk --out heldout-descriptors.csv
    ctk import-features heldout-descriptors.csv --features "$(head -1 ... )" -L heldout-tabular.ctk

Columns: ``track_id``, ``title``, ``artist``, ``genre`` (the track's source folder, so ``--labels genre``
scores against it), then one column per descriptor (``mfcc_mean_00`` ... ``pulse_clarity``: the ``features``
backend's pooled track vector). The script prints the ``--features`` value that imports every descriptor.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cluster_toolkit.store import LibraryStore  # noqa: E402
from embeddings.backends.features import descriptor_names  # noqa: E402


def descriptor_table(library: str) -> pd.DataFrame:
    store = LibraryStore.open(library)
    tracks, X = store.track_embeddings()
    names = descriptor_names()
    if X.shape[1] != len(names):
        raise SystemExit(f"{library}: vectors have {X.shape[1]} dims, the features backend {len(names)}; "
                         "embed with --model features")
    frame = pd.DataFrame({
        "track_id": tracks["track_id"].astype(str),
        "title": tracks["title"].fillna(tracks["path"].map(lambda p: Path(p).stem)),
        "artist": tracks["artist"],
        "genre": tracks["path"].map(lambda p: Path(p).parent.name),
    })
    return pd.concat([frame.reset_index(drop=True), pd.DataFrame(X, columns=names)], axis=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--library", required=True, help="a store embedded with --model features")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    table = descriptor_table(args.library)
    table.to_csv(args.out, index=False)
    print(",".join(descriptor_names()))


if __name__ == "__main__":
    main()
