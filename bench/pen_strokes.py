"""An MNIST digit as the pen strokes a person would draw it with: its skeleton, traced into paths.

The browser tests and the stroke-replay benchmark move a real mouse along these paths on the
page, so that the page's own pen (Pointer Events, constant width, round caps) draws real MNIST
digits, as a person's hand would, rather than pasting their pixels.
"""

from __future__ import annotations

import numpy as np
from skimage.morphology import skeletonize

# Skeletons are traced on the digit upscaled as training's canvas redrawing upscales it.
from training.canvas_render import RENDER_SCALE, upscaled

POINT_SPACING = 3    # keep one skeleton pixel in this many along a path
MIN_STROKE_POINTS = 3
NEIGHBOURS = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if (dy, dx) != (0, 0)]


def trace(skeleton: np.ndarray) -> list[list[tuple[int, int]]]:
    """Paths of (row, col) through every skeleton pixel, each starting at a loose end if it has one."""
    remaining = {tuple(p) for p in np.argwhere(skeleton)}

    def neighbours(pixel):
        return [(pixel[0] + dy, pixel[1] + dx) for dy, dx in NEIGHBOURS if (pixel[0] + dy, pixel[1] + dx) in remaining]

    paths = []
    while remaining:
        ends = [p for p in remaining if len(neighbours(p)) == 1]
        pixel = min(ends or remaining)
        path = [pixel]
        remaining.discard(pixel)
        while True:
            options = neighbours(pixel)
            if not options:
                break
            # Straight on first: 4-connected steps before diagonal ones keep the path on the stroke.
            pixel = min(options, key=lambda p: abs(p[0] - pixel[0]) + abs(p[1] - pixel[1]))
            path.append(pixel)
            remaining.discard(pixel)
        if len(path) >= MIN_STROKE_POINTS:
            paths.append(path)
    return paths


def digit_strokes(digit: np.ndarray, left: float, top: float, height: float) -> list[list[tuple[float, float]]]:
    """The strokes of ``digit`` (28x28 uint8) as (x, y) canvas points, the 28-pixel field scaled to
    ``height`` with its top-left corner at (``left``, ``top``)."""
    scale = height / (digit.shape[0] * RENDER_SCALE)
    strokes = []
    for path in trace(skeletonize(upscaled(digit) > 0.5)):
        kept = path[::POINT_SPACING] + ([path[-1]] if (len(path) - 1) % POINT_SPACING else [])
        strokes.append([(left + col * scale, top + row * scale) for row, col in kept])
    return strokes


def number_strokes(digits: list[np.ndarray], height: float, gap: float, left: float = 20,
                   top: float = 10) -> list[list[tuple[float, float]]]:
    """The strokes of several digits written left to right, each advancing by its ink's width."""
    strokes = []
    x = left
    for digit in digits:
        columns = np.flatnonzero(digit.max(axis=0) > 25)
        scale = height / digit.shape[0]
        strokes += digit_strokes(digit, x - columns[0] * scale, top, height)
        x += (columns[-1] - columns[0] + 1) * scale + gap
    return strokes
