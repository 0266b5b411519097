"""Two MNIST digits written so close that their ink touches or overlaps, fitted as one symbol.

The handler reads a number by trying cuts through ink that may hold more than one digit and
keeping the reading the model is most sure of (``handler.mnist_reading``). That only works if the
model does not read a touching pair as one confident digit ("48" as an 8): these pairs, labelled
"not a digit", teach it that. Each pair is composed from the same two training digits in every
rendering (scan, pen strokes, reweighted), so the renderings stay views of one image.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from handler.mnist_contract import MNIST_SIDE
from handler.mnist_preprocess import mnist_style
from training.canvas_render import as_uint8

# How far the second digit is moved onto the first: 0 is touching, 0.3 overlaps by 30% of the
# narrower digit's width.
OVERLAP_RANGE = (0.0, 0.3)
# The second digit's height relative to the first's, and its vertical offset (share of height).
HEIGHT_RATIO_RANGE = (0.8, 1.2)
OFFSET_RANGE = (-0.15, 0.15)


def ink_columns(image: np.ndarray) -> tuple[int, int]:
    cols = np.flatnonzero(image.max(axis=0) > 0)
    return int(cols[0]), int(cols[-1]) + 1


def ink_width(image: np.ndarray) -> int:
    left, right = ink_columns(image)
    return right - left


def placement(rng: np.random.Generator) -> tuple[float, float, float]:
    """A pair's random (height ratio of the second digit, overlap as a share of the narrower
    digit's width, vertical offset as a share of the height)."""
    ratio, share = rng.uniform(*HEIGHT_RATIO_RANGE), rng.uniform(*OVERLAP_RANGE)
    return ratio, share, rng.uniform(*OFFSET_RANGE)


def layers(first: np.ndarray, second: np.ndarray, overlap: int, offset: int) -> tuple[np.ndarray, np.ndarray]:
    """``first`` and ``second`` on one float canvas in [0, 1] each, ``second`` right of ``first``
    with its ink ``overlap`` pixels onto the first's and ``offset`` pixels lower."""
    first_left, first_right = ink_columns(first)
    second_left, second_right = ink_columns(second)
    start = first_right - first_left - overlap  # where the second's ink starts
    width = max(start + second_right - second_left, first_right - first_left)
    height = max(first.shape[0], second.shape[0]) + abs(offset)
    canvases = np.zeros((2, height, width), dtype=np.float32)
    top = max(0, -offset)
    canvases[0, top:top + first.shape[0], :first_right - first_left] = first[:, first_left:first_right]
    top = max(0, offset)
    placed = second[:, second_left:second_right]
    canvases[1, top:top + second.shape[0], start:start + placed.shape[1]] = placed
    return canvases[0] / 255.0, canvases[1] / 255.0


def composed(first: np.ndarray, second: np.ndarray, overlap: float, offset: int) -> np.ndarray:
    """The two ``layers``, the brighter pixel winning where they meet."""
    return np.maximum(*layers(first, second, overlap, offset))


def resized_height(image: np.ndarray, ratio: float) -> np.ndarray:
    side = max(8, round(MNIST_SIDE * ratio))
    return np.asarray(Image.fromarray(image).resize((side, side), Image.Resampling.BILINEAR))


def digit_pairs(renderings: np.ndarray, count: int, seed: int) -> np.ndarray:
    """``count`` touching or overlapping pairs from (V, N, 28, 28) uint8 renderings of N digits:
    (V, count, 28, 28) uint8, the same pair in each rendering."""
    rng = np.random.default_rng(seed)
    views, digits = renderings.shape[:2]
    pairs = np.empty((views, count, MNIST_SIDE, MNIST_SIDE), dtype=np.uint8)
    for index in range(count):
        first, second = rng.integers(digits, size=2)
        ratio, share, offset_share = placement(rng)
        offset = round(offset_share * MNIST_SIDE)
        for view in range(views):
            left, right = renderings[view, first], resized_height(renderings[view, second], ratio)
            narrower = min(ink_width(left), ink_width(right))
            pairs[view, index] = as_uint8(mnist_style(composed(left, right, round(share * narrower), offset)))
    return pairs
