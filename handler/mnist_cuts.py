"""Where a piece of ink that may hold touching digits could be cut. Pure numpy.

A cut is a path from the piece's top row to its bottom row, one column per row, that crosses as
little ink as it can: it starts near a low point of the column projection (where the ink is
thinnest) and may drift sideways one column a row, so that it can pass between slanted or
overlapping digits the way a straight cut cannot. Whether a cut is used is not decided here: the
reader (``mnist_reading``) asks the model about the pieces on either side.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class CutRules:
    """How finely a piece is cut, and how many of its parts one candidate digit may join."""
    min_part: float  # no part left or right of a cut is narrower than this share of the line's height
    max_cuts: int    # at most this many cuts per piece, the lowest projection minima first
    max_run: int     # at most this many neighbouring parts form one candidate symbol


# The first cuts: parts at least a quarter of the line's height wide, about the narrowest digit
# (a "1" is about a fifth as wide as it is tall, plus its stroke's blur).
COARSE = CutRules(min_part=0.25, max_cuts=5, max_run=3)
# A closer look, where the first cuts left a symbol that is no digit: a thin "1" against its
# neighbour, or digits overlapping so far that the thinnest column is off their border. Finer
# parts, so a digit may take four of them.
FINE = CutRules(min_part=0.15, max_cuts=5, max_run=4)
# A cut may drift this share of the line's height either side of where it starts.
DRIFT = 0.1
# Cost of a sideways step, in pixels of ink crossed: a straight cut is preferred on a tie.
STEP_COST = 0.2


def cut_columns(mask: np.ndarray, line_height: int, rules: CutRules = COARSE) -> list[int]:
    """The columns where cuts of ``mask`` start: minima of its smoothed column projection, at
    least ``rules.min_part`` of the line's height from either edge and from each other, thinnest first."""
    height, width = mask.shape
    margin = max(1, round(rules.min_part * line_height))
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
        if len(chosen) == rules.max_cuts:
            break
    return sorted(chosen)


def cut_paths(mask: np.ndarray, starts: list[int], drift: int) -> np.ndarray:
    """For each start, the column where its cut passes in each row, (len(starts), rows): pixels left
    of it are on the left side. Each is the path of least ink (dynamic programming over rows) within
    ``drift`` columns of its start and inside the mask's inner columns; all starts step through
    the rows together, so a piece costs one pass however many cuts it gets."""
    height, width = mask.shape
    offsets = np.arange(-drift, drift + 1)
    columns = np.asarray(starts)[:, None] + offsets                       # (cuts, band)
    inside = (columns >= 1) & (columns <= width - 1)
    band = np.where(inside, mask[:, np.clip(columns, 0, width - 1)], np.inf)  # (rows, cuts, band)
    preference = np.abs(offsets) * 1e-3  # on a tie, stay near the start
    cost = band[0] + preference
    # options[k]: the cost of arriving from the column to the left (0), above (1) or to the right (2).
    options = np.full((3, *cost.shape), np.inf)
    came_from = np.empty((height, *cost.shape), dtype=np.intp)
    for row in range(1, height):
        np.add(cost[:, :-1], STEP_COST, out=options[0, :, 1:])
        options[1] = cost
        np.add(cost[:, 1:], STEP_COST, out=options[2, :, :-1])
        choice = options.argmin(axis=0)
        came_from[row] = choice
        cost = options.min(axis=0) + band[row] + preference
    cuts = np.arange(len(columns))
    path = np.empty((len(columns), height), dtype=np.intp)
    path[:, -1] = cost.argmin(axis=1)
    for row in range(height - 1, 0, -1):
        path[:, row - 1] = path[:, row] + came_from[row, cuts, path[:, row]] - 1
    return np.take_along_axis(columns, path, axis=1)


def cut_parts(mask: np.ndarray, line_height: int, rules: CutRules = COARSE) -> list[np.ndarray]:
    """``mask`` split along every cut tried, left to right: one boolean mask (the shape of
    ``mask``) per part, each holding ink. One part, the whole, where no cut is tried."""
    starts = cut_columns(mask, line_height, rules)
    if not starts:
        return [mask]
    drift = max(1, round(DRIFT * line_height))
    columns = np.arange(mask.shape[1])
    previous = np.full(mask.shape[0], 0)
    parts = []
    for path in cut_paths(mask, starts, drift):
        path = np.maximum(path, previous)
        parts.append(mask & (columns >= previous[:, None]) & (columns < path[:, None]))
        previous = path
    parts.append(mask & (columns >= previous[:, None]))
    return [part for part in parts if part.any()]
