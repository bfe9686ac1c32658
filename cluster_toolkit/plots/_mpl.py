"""Headless matplotlib (Agg) for every picture ctk writes."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from cluster_toolkit.errors import StoreError  # noqa: E402

__all__ = ["plt", "save_figure"]


def save_figure(fig, path: str | Path, *, dpi: int = 120) -> Path:
    """Save ``fig`` as PNG at ``path`` (parents created), close it and return the path."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=dpi)
    except OSError as exc:
        raise StoreError(f"{path}: cannot write picture ({exc.strerror or exc})") from exc
    finally:
        plt.close(fig)
    return path
