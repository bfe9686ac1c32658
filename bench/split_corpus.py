"""The fixed train / held-out split of the development corpus, by whole sources.

Reads ``$CORPUS/manifest.csv`` (made by ../shared/corpus/build_dev_corpus.sh) and lays out two trees of
symbolic links, one folder per source (the label every benchmark uses):

    $CORPUS/train/<source>/<track_id>-<file>
    $CORPUS/heldout/<source>/<track_id>-<file>

Only ``eval_ok`` tracks are linked. libsndfile cannot decode tracker modules (``.mod``, ``.xm``, ``.it``,
``.s3m``): with ``--render-modules`` they are rendered once by ffmpeg's libopenmpt demuxer to 22.05 kHz mono
FLAC under ``$CORPUS/derived/modules/`` and those files are linked; without it they are left out. A file
without an extension (Blob Wars' Oggs) gets one from its codec so that ``ctk embed`` sees it.

HELDOUT is chosen once and never trained on: the 6 soundtracks held out since the first bundled model
(so the previous ``ctk-small`` can be scored on them fairly) plus 7 more, for >= 8 sources and >= 200
tracks, with several sources that have artist labels (Wesnoth, Widelands, Blob Wars, Starfighter).

    python bench/split_corpus.py --corpus $CORPUS --render-modules

No tracker source is held out, so ``--render-modules`` (and 0 A.D., which ``BIG=1`` adds to the manifest) only
grow the train tree; the held-out tree is the same with or without them.
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path

CORPUS = os.environ.get("CORPUS")  # the dev corpus folder (docs/ctk-small.md, "Exact command")

HELDOUT = (
    # held out since the first ctk-small (2026-11-25)
    "Battle for Wesnoth", "Hedgewars", "FreedroidRPG", "Flare", "X-Moto", "LinCity-NG",
    # added 2026-12-02 with the larger corpus
    "Widelands", "Berusky 2", "Blob Wars: Metal Blob Solid", "Unknown Horizons", "Warmux",
    "Project: Starfighter", "Ardentryst",
)  # fmt: skip
MODULE_KIND = "tracker-module"  # libsndfile cannot decode them; ffmpeg (libopenmpt) renders them
CODEC_EXT = {"vorbis": ".ogg", "opus": ".opus", "flac": ".flac", "mp3": ".mp3", "pcm_s16le": ".wav", "pcm_f32le": ".wav"}  # noqa: E501


def folder_name(source: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", source).strip("_")


def link_name(row: dict) -> str:
    base = os.path.basename(row["path"])
    if not os.path.splitext(base)[1]:
        base += CODEC_EXT.get(row["codec"], ".ogg")
    return f"{row['track_id']}-{base}"


def render_module(row: dict, corpus: Path) -> Path:
    """``$CORPUS/derived/modules/<track_id>.flac``, rendered once from the tracker module ``row["path"]``."""
    out = corpus / "derived" / "modules" / f"{row['track_id']}.flac"
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(".tmp.flac")
        cmd = ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "libopenmpt", "-i", row["path"]]
        subprocess.run([*cmd, "-ac", "1", "-ar", "22050", str(tmp)], check=True)
        tmp.replace(out)
    return out


def split(corpus: Path, *, render_modules: bool = False) -> Counter:
    rows = list(csv.DictReader(open(corpus / "manifest.csv", newline="")))
    unknown = set(HELDOUT) - {r["game"] for r in rows}
    if unknown:
        raise SystemExit(f"held-out sources not in the manifest: {sorted(unknown)}")
    for part in ("train", "heldout"):
        shutil.rmtree(corpus / part, ignore_errors=True)
    counts: Counter = Counter()
    for r in rows:
        module = r["kind"] == MODULE_KIND
        if r["eval_ok"] != "1" or (module and not render_modules):
            continue
        part = "heldout" if r["game"] in HELDOUT else "train"
        folder = corpus / part / folder_name(r["game"])
        folder.mkdir(parents=True, exist_ok=True)
        if module:
            target = render_module(r, corpus)
            (folder / f"{link_name(r)}.flac").symlink_to(target)
        else:
            (folder / link_name(r)).symlink_to(r["path"])
        counts[part] += 1
        counts[(part, r["game"])] += 1
    return counts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=CORPUS, required=not CORPUS, help="default: $CORPUS")
    ap.add_argument("--render-modules", action="store_true", help="render tracker modules with ffmpeg and link them")
    args = ap.parse_args()
    counts = split(args.corpus, render_modules=args.render_modules)
    for part in ("train", "heldout"):
        sources = sorted(k[1] for k in counts if isinstance(k, tuple) and k[0] == part)
        print(f"{part}: {counts[part]} tracks from {len(sources)} sources -> {args.corpus / part}")
        for s in sources:
            print(f"  {counts[(part, s)]:4d}  {s}")


if __name__ == "__main__":
    main()
