"""What a PNG a test wrote shows: decoded, its size and how much of it has a given colour.

A picture test asserts on pixels, not on the file's first bytes: a blank or truncated figure fails.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.colors import to_rgb
from matplotlib.image import imread


def read_png(path: str | Path) -> np.ndarray:
    """``(height, width, 3)`` RGB in [0, 1] (alpha dropped); raises on a file that is not a whole PNG."""
    return np.asarray(imread(Path(path), format="png"))[..., :3]


def colour_mask(image: np.ndarray, colour, *, tol: float = 0.02) -> np.ndarray:
    """``(height, width)`` True where a pixel is within ``tol`` per channel of ``colour`` (any matplotlib colour)."""
    return np.abs(image - np.asarray(to_rgb(colour))).max(axis=-1) <= tol


def colour_share(image: np.ndarray, colour, *, tol: float = 0.02) -> float:
    """Fraction of the pixels of ``image`` that have ``colour``."""
    return float(colour_mask(image, colour, tol=tol).mean())


def assert_drawn(path: str | Path, *, size: tuple[int, int] | None = None, colours=(), min_share: float = 5e-4,
                 max_white: float = 0.97) -> np.ndarray:
    """Decode ``path``; check its ``(height, width)``, that it is not (nearly) blank and that each of ``colours``
    covers at least ``min_share`` of it. Returns the image for further checks."""
    image = read_png(path)
    if size is not None:
        assert image.shape[:2] == size, f"{path}: {image.shape[:2]} pixels, expected {size}"
    white = colour_share(image, "white")
    assert white < max_white, f"{path}: {white:.1%} white, nothing drawn"
    for colour in colours:
        share = colour_share(image, colour)
        assert share >= min_share, f"{path}: colour {colour} covers {share:.3%} (< {min_share:.3%})"
    return image
