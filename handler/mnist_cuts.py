"""Where a piece of ink that may hold touching digits could be cut. Pure numpy.

A cut is a path from the piece's top row to its bottom row, one column per row, that crosses as
little ink as it can: it starts near a low point of the column projection (where the ink is
thinnest) and may drift sideways one column a row, so that it can pass between slanted or
overlapping digits the way a straight cut cannot. Whether a cut is used is not decided here: the
reader (``mnist_reading``) asks the model about the pieces on either side.
"""

from __future__ import annotations

import numpy as np

# No part left of or right of a cut is narrower than this share of the line's height: the
# narrowest digit, a "1", is about a fifth as wide as it is tall.
MIN_PART = 0.25
# At most this many cuts are tried per piece, the lowest projection minima first.
MAX_CUTS = 5
# A cut may drift this share of the line's height either side of where it starts.
DRIFT = 0.1
# Cost of a sideways step, in pixels of ink crossed: a straight cut is preferred on a tie.
STEP_COST = 0.2


def cut_columns(mask: np.ndarray, line_height: int) -> list[int]:
    """The columns where cuts of ``mask`` start: minima of its smoothed column projection, at
    least MIN_PART of the line's height from either edge and from each other, thinnest first."""
    height, width = mask.shape
    margin = max(1, round(MIN_PART * line_height))
    if width < 2 * margin:
        return []
    projection = np.convolve(mask.sum(axis=0).astype(np.float32), np.ones(3) / 3, mode="same")
    inside = np.arange(margin, width - margin + 1)
    left, right = projection[np.maximum(inside - 1, 0)], projection[np.minimum(inside + 1, width - 1)]
    minima = inside[(projection[inside] <= left) & (projection[inside] <= right)]
    chosen: list[int] = []
    for column in sorted(minima, key=lambda c: (projection[c], c)):
        if all(abs(column - other) >= margin for other in chosen):
            chosen.append(int(column))
        if len(chosen) == MAX_CUTS:
            break
    return sorted(chosen)


def cut_path(mask: np.ndarray, start: int, drift: int) -> np.ndarray:
    """For each row, the column where the cut passes: pixels left of it are on the left side. The
    path of least ink (dynamic programming over rows) within ``drift`` columns of ``start``."""
    height, width = mask.shape
    low, high = max(1, start - drift), min(width - 1, start + drift)
    band = mask[:, low:high + 1].astype(np.float32)
    columns = band.shape[1]
    offsets = np.abs(np.arange(columns) + low - start) * 1e-3  # on a tie, stay near the start
    cost = band[0] + offsets
    came_from = np.zeros((height, columns), dtype=np.int64)
    for row in range(1, height):
        options = np.stack([np.r_[np.inf, cost[:-1]] + STEP_COST, cost, np.r_[cost[1:], np.inf] + STEP_COST])
        choice = options.argmin(axis=0)
        came_from[row] = np.arange(columns) + choice - 1
        cost = options[choice, np.arange(columns)] + band[row] + offsets
    path = np.empty(height, dtype=np.int64)
    path[-1] = int(cost.argmin())
    for row in range(height - 1, 0, -1):
        path[row - 1] = came_from[row, path[row]]
    return path + low


def cut_parts(mask: np.ndarray, line_height: int) -> list[np.ndarray]:
    """``mask`` split along every cut tried, left to right: one boolean mask (the shape of
    ``mask``) per part, each holding ink. One part, the whole, where no cut is tried."""
    starts = cut_columns(mask, line_height)
    if not starts:
        return [mask]
    drift = max(1, round(DRIFT * line_height))
    columns = np.arange(mask.shape[1])
    previous = np.full(mask.shape[0], 0)
    parts = []
    for start in starts:
        path = np.maximum(cut_path(mask, start, drift), previous)
        parts.append(mask & (columns >= previous[:, None]) & (columns < path[:, None]))
        previous = path
    parts.append(mask & (columns >= previous[:, None]))
    return [part for part in parts if part.any()]
