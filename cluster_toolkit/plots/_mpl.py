"""Figures for every picture ctk writes: matplotlib's object-oriented API on an Agg canvas.

No pyplot: a figure made here is not registered with pyplot's figure manager and nothing here calls
``matplotlib.use``, so importing or calling ctk inside a notebook leaves its backend and its figures alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from cluster_toolkit.errors import StoreError

__all__ = ["save_figure", "subplots"]


def subplots(nrows: int = 1, ncols: int = 1, **kwargs: Any) -> tuple[Figure, Any]:
    """Like ``pyplot.subplots`` (``figsize``, ``dpi`` go to the figure, the rest to ``Figure.subplots``),
    on a figure of its own with an Agg canvas."""
    fig = Figure(figsize=kwargs.pop("figsize", None), dpi=kwargs.pop("dpi", None))
    FigureCanvasAgg(fig)
    return fig, fig.subplots(nrows, ncols, **kwargs)


def save_figure(fig: Figure, path: str | Path, *, dpi: int = 120) -> Path:
    """Save ``fig`` as PNG at ``path`` (parents created) and return the path."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=dpi)
    except OSError as exc:
        raise StoreError(f"{path}: cannot write picture ({exc.strerror or exc})") from exc
    return path
