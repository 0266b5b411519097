"""Pillow's LANCZOS resize of a float image, as two small matrix products. Pure numpy.

Fitting a symbol to 20 pixels is the same resize for every candidate symbol of every request.
Through Pillow it is a round trip (array to "F" image, resize, back to an array) at about 75 us;
as matrices, with the coefficients Pillow computes (libImaging/Resample.c: precompute_coeffs, the
horizontal pass first, its result kept in float32 as Pillow's "F" image keeps it), it takes a third
of that and gives the same pixels to float32 rounding (tests/handler/test_resample.py compares
the two over a range of sizes).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

LANCZOS_SUPPORT = 3.0


def lanczos(x: np.ndarray) -> np.ndarray:
    """Pillow's lanczos_filter: sinc(x) * sinc(x / 3) on [-3, 3), 0 elsewhere."""
    with np.errstate(invalid="ignore", divide="ignore"):
        near = x * np.pi
        sinc = np.where(x == 0.0, 1.0, np.sin(near) / near)
        third = x / 3 * np.pi
        sinc_third = np.where(x == 0.0, 1.0, np.sin(third) / third)
    return np.where((x >= -LANCZOS_SUPPORT) & (x < LANCZOS_SUPPORT), sinc * sinc_third, 0.0)


@lru_cache(maxsize=256)
def lanczos_weights(in_size: int, out_size: int) -> np.ndarray:
    """The (out_size, in_size) matrix of one LANCZOS pass from ``in_size`` to ``out_size`` pixels."""
    scale = in_size / out_size
    filterscale = max(scale, 1.0)
    support = LANCZOS_SUPPORT * filterscale
    centers = (np.arange(out_size) + 0.5) * scale
    # C's (int) cast truncates toward zero; below zero it is clamped to 0 either way.
    first = np.maximum((centers - support + 0.5).astype(np.int64), 0)
    stop = np.minimum((centers + support + 0.5).astype(np.int64), in_size)
    pixels = np.arange(in_size, dtype=np.float64)
    weights = lanczos((pixels[None, :] - centers[:, None] + 0.5) * (1.0 / filterscale))
    inside = (pixels[None, :] >= first[:, None]) & (pixels[None, :] < stop[:, None])
    weights = np.where(inside, weights, 0.0)
    totals = weights.sum(axis=1, keepdims=True)
    weights = np.divide(weights, totals, out=weights, where=totals != 0.0)
    weights.flags.writeable = False  # shared by every caller through the cache
    return weights


def lanczos_resized(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """``image`` (2-D) resized to ``width`` x ``height`` as Pillow's ``Image.resize(..., LANCZOS)``
    resizes an "F" image: float32, each pass skipped where that side keeps its size."""
    pixels = np.asarray(image, dtype=np.float32)
    if pixels.shape[1] != width:
        pixels = (pixels.astype(np.float64) @ lanczos_weights(pixels.shape[1], width).T).astype(np.float32)
    if pixels.shape[0] != height:
        pixels = (lanczos_weights(pixels.shape[0], height) @ pixels.astype(np.float64)).astype(np.float32)
    return pixels if pixels is not image else pixels.copy()
