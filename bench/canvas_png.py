"""Render MNIST digits the way a browser canvas would send them: an RGBA PNG, ink on transparent.

Used by the tests and the benchmarks to send real MNIST test digits through the serving path at
canvas size, scaled up and off-centre, instead of the 28x28 originals the model was trained on.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

CANVAS_SIDE = 280


def canvas_png(digit: np.ndarray, box: int = 180, top: int = 20, left: int = 60,
               ink_rgb: tuple[int, int, int] = (0, 0, 0), side: int = CANVAS_SIDE) -> bytes:
    """``digit``: (28, 28) uint8, light on dark. The digit is scaled to ``box`` pixels and drawn
    at (``top``, ``left``) in ``ink_rgb``, its intensity becoming the alpha of a transparent canvas."""
    scaled = np.asarray(Image.fromarray(digit).resize((box, box), Image.Resampling.BILINEAR))
    ink = np.zeros((side, side), dtype=np.uint8)
    ink[top:top + box, left:left + box] = scaled
    return ink_png(ink, ink_rgb)


def number_canvas(digits: list[np.ndarray], height: int = 150, gap: int = 30, jitter: int = 0,
                  broken: tuple[int, ...] = (), seed: int = 0) -> np.ndarray:
    """Several (28, 28) digits written left to right on one transparent canvas, as (H, W) ink in 0-255.

    Each digit is scaled to ``height`` and cropped to its ink columns; ``gap`` pixels separate
    neighbours (negative: they overlap, so their ink touches); each digit moves up or down by up
    to ``jitter``; the digits at the positions in ``broken`` have a band erased across their
    middle, as when the pen lifts mid-stroke.
    """
    rng = np.random.default_rng(seed)
    margin = height // 4 + jitter
    pieces = []
    for index, digit in enumerate(digits):
        scaled = np.asarray(Image.fromarray(digit).resize((height, height), Image.Resampling.BILINEAR)).copy()
        columns = np.flatnonzero(scaled.max(axis=0) > 25)
        scaled = scaled[:, columns[0]:columns[-1] + 1]
        if index in broken:
            rows = np.flatnonzero(scaled.max(axis=1) > 25)
            middle = (rows[0] + rows[-1]) // 2
            scaled[middle - height // 30:middle + height // 30] = 0
        pieces.append(scaled)
    width = sum(p.shape[1] for p in pieces) + gap * (len(pieces) - 1) + 2 * margin
    canvas = np.zeros((height + 2 * margin, max(width, height)), dtype=np.uint8)
    x = margin
    for scaled in pieces:
        y = margin + int(rng.integers(-jitter, jitter + 1))
        window = canvas[y:y + height, x:x + scaled.shape[1]]
        np.maximum(window, scaled, out=window)
        x += scaled.shape[1] + gap
    return canvas


def ink_png(ink: np.ndarray, ink_rgb: tuple[int, int, int] = (0, 0, 0)) -> bytes:
    """(H, W) ink in 0-255 as a canvas PNG: ``ink_rgb`` strokes whose alpha is the ink, on transparent."""
    canvas = np.zeros((*ink.shape, 4), dtype=np.uint8)
    canvas[..., :3] = ink_rgb
    canvas[..., 3] = ink
    buffer = io.BytesIO()
    Image.fromarray(canvas, "RGBA").save(buffer, format="PNG")
    return buffer.getvalue()
