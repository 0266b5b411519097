"""Numbers written the ways people write them, generated from MNIST digits, by category.

Each case is real MNIST digits written left to right on a transparent canvas
(``canvas_png.number_canvas``), with the spacing, slant, heights and ink style of its category.
The benchmark draws them from validation digits, the tests from test digits; nothing here is
trained on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image
from scipy import ndimage

from bench.canvas_png import number_canvas, styled_ink

CATEGORIES = ("separate", "tight", "touching", "overlapping", "broken", "slanted", "mixed heights", "long")
INK_STYLES = ("dark on transparent", "light on black", "dark on white", "coloured on transparent", "pencil on paper")
EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)
INK_LEVEL = 25


@dataclass
class NumberCase:
    category: str
    digits: str
    png: bytes


def pieces_of(canvas: np.ndarray) -> int:
    return ndimage.label(canvas > INK_LEVEL, structure=EIGHT_CONNECTED)[1]


def slanted(digit: np.ndarray, degrees: float) -> np.ndarray:
    return np.asarray(Image.fromarray(digit).rotate(degrees, resample=Image.Resampling.BILINEAR))


def number_case(category: str, images: np.ndarray, labels: np.ndarray, rng: np.random.Generator) -> NumberCase:
    """One number of ``category``: 1-8 digits for "long", 2-4 otherwise."""
    length = int(rng.integers(5, 9)) if category == "long" else int(rng.integers(2, 5))
    height = int(rng.integers(80, 200))
    while True:
        picked = rng.integers(0, len(labels), length)
        digits = [images[i] for i in picked]
        gaps = [int(rng.uniform(0.1, 0.3) * height) for _ in range(length - 1)]
        heights, broken = None, ()
        if category == "tight":
            gaps = [int(rng.integers(2, 6)) for _ in gaps]
        elif category in ("touching", "overlapping"):
            pair = int(rng.integers(length - 1))
            narrow = 0.2 if category == "overlapping" else 0.06
            gaps[pair] = -int(rng.uniform(0.02, narrow) * height)
        elif category == "broken":
            broken = (int(rng.integers(length)),)
        elif category == "slanted":
            angle = rng.uniform(-15, 15)
            digits = [slanted(d, angle) for d in digits]
        elif category == "mixed heights":
            heights = [int(height * rng.uniform(0.7, 1.0)) for _ in digits]
        canvas = number_canvas(digits, height=height, gap=gaps, jitter=int(0.05 * height), broken=broken,
                               heights=heights, seed=int(rng.integers(1 << 30)))
        touching = pieces_of(canvas) < length
        # A touching or overlapping case must touch; every other case must be written apart.
        if touching == (category in ("touching", "overlapping")) or category in ("broken", "slanted", "mixed heights"):
            break
    style = INK_STYLES[int(rng.integers(len(INK_STYLES)))]
    return NumberCase(category, "".join(str(int(labels[i])) for i in picked), styled_ink(canvas, style))


def number_cases(images: np.ndarray, labels: np.ndarray, per_category: int, seed: int) -> list[NumberCase]:
    rng = np.random.default_rng(seed)
    return [number_case(category, images, labels, rng) for category in CATEGORIES for _ in range(per_category)]


def single_digit_canvas(digit: np.ndarray, rng: np.random.Generator) -> bytes:
    """One digit alone on a canvas, at a random size and in a random ink style."""
    canvas = number_canvas([digit], height=int(rng.integers(80, 220)))
    return styled_ink(canvas, INK_STYLES[int(rng.integers(len(INK_STYLES)))])
