"""The fragment plan of the bench scripts that embed audio: ``--n-seconds``, ``--step`` and
``--sampled-fragments`` (``ctk embed``'s options of the same names), with each script's defaults."""

from __future__ import annotations

import argparse

from embeddings.config import LEGACY_COVERAGE, CoverageConfig, FragmentConfig


def add_plan_options(parser: argparse.ArgumentParser, fragments: FragmentConfig,
                     coverage: CoverageConfig | None = None) -> None:
    """``--n-seconds`` and ``--step`` defaulting to ``fragments``; with ``coverage``, ``--sampled-fragments`` too."""
    parser.add_argument("--n-seconds", type=float, default=fragments.n_seconds,
                        help="fragment length in seconds (ctk embed --n-seconds)")
    parser.add_argument("--step", type=float, default=fragments.step,
                        help="seconds between fragment starts (ctk embed --step)")
    if coverage is not None:
        parser.add_argument("--sampled-fragments", type=int, default=coverage.n_fragments,
                            help="fragments per track with sampled coverage (ctk embed --sampled-fragments)")


def fragments_from(args: argparse.Namespace) -> FragmentConfig:
    """The fragments of ``--n-seconds`` and ``--step``."""
    return FragmentConfig(n_seconds=args.n_seconds, step=args.step)


def coverage_from(args: argparse.Namespace, mode: str = "sampled") -> CoverageConfig:
    """The coverage ``mode`` with ``--sampled-fragments``."""
    return CoverageConfig(mode=mode, n_fragments=args.sampled_fragments)


def legacy_plan(fragments: FragmentConfig, coverage: CoverageConfig) -> bool:
    """Whether ``ctk embed`` cut tracks so before 2026-12-03 (10 s every 10 s, 5 sampled or every fragment): the
    plan the shipped statistics were fitted on, and the one the bench caches and stores were named for before the
    plan was part of their names."""
    return fragments == FragmentConfig() and (coverage.mode == "full" or coverage == LEGACY_COVERAGE)
