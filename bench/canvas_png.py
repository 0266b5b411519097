"""Render MNIST digits the way a browser canvas would send them: an RGBA PNG, ink on transparent,
or in one of the other ink styles a client may send.

Used by the tests and the benchmarks to send real MNIST test digits through the serving path at
canvas size, scaled up and off-centre, instead of the 28x28 originals the model was trained on.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageFilter

CANVAS_SIDE = 280
STYLES = ("dark on transparent", "light on black", "dark on white", "coloured on transparent")
WEIGHTS = ("as scanned", "thickened", "thinned")


def canvas_png(digit: np.ndarray, box: int = 180, top: int = 20, left: int = 60,
               ink_rgb: tuple[int, int, int] = (0, 0, 0), side: int = CANVAS_SIDE) -> bytes:
    """``digit``: (28, 28) uint8, light on dark. The digit is scaled to ``box`` pixels and drawn
    at (``top``, ``left``) in ``ink_rgb``, its intensity becoming the alpha of a transparent canvas."""
    scaled = np.asarray(Image.fromarray(digit).resize((box, box), Image.Resampling.BILINEAR))
    ink = np.zeros((side, side), dtype=np.uint8)
    ink[top:top + box, left:left + box] = scaled
    return ink_png(ink, ink_rgb)


def scaled_digit(digit: np.ndarray, height: int) -> np.ndarray:
    """A (28, 28) digit scaled to ``height`` and cropped to its ink columns, as ``number_canvas`` writes it."""
    scaled = np.asarray(Image.fromarray(digit).resize((height, height), Image.Resampling.BILINEAR)).copy()
    columns = np.flatnonzero(scaled.max(axis=0) > 25)
    return scaled[:, columns[0]:columns[-1] + 1]


def number_canvas(digits: list[np.ndarray], height: int = 150, gap: int | list[int] = 30, jitter: int = 0,
                  broken: tuple[int, ...] = (), seed: int = 0, heights: list[int] | None = None) -> np.ndarray:
    """Several (28, 28) digits written left to right on one transparent canvas, as (H, W) ink in 0-255.

    Each digit is scaled to ``height`` (or its own of ``heights``, bottoms aligned) and cropped to
    its ink columns; ``gap`` pixels separate neighbours (one for all, or one per neighbouring pair;
    negative: they overlap, so their ink touches); each digit moves up or down by up to ``jitter``;
    the digits at the positions in ``broken`` have a band erased across their middle, as when the
    pen lifts mid-stroke.
    """
    rng = np.random.default_rng(seed)
    gaps = list(gap) if isinstance(gap, list) else [gap] * (len(digits) - 1)
    heights = heights or [height] * len(digits)
    margin = height // 4 + jitter
    pieces = []
    for index, (digit, own_height) in enumerate(zip(digits, heights)):
        scaled = scaled_digit(digit, own_height)
        if index in broken:
            rows = np.flatnonzero(scaled.max(axis=1) > 25)
            middle = (rows[0] + rows[-1]) // 2
            scaled[middle - own_height // 30:middle + own_height // 30] = 0
        pieces.append(scaled)
    width = sum(p.shape[1] for p in pieces) + sum(gaps) + 2 * margin
    canvas = np.zeros((height + 2 * margin, max(width, height)), dtype=np.uint8)
    x = margin
    for scaled, following_gap in zip(pieces, gaps + [0]):
        y = margin + height - scaled.shape[0] + int(rng.integers(-jitter, jitter + 1))
        window = canvas[y:y + scaled.shape[0], x:x + scaled.shape[1]]
        np.maximum(window, scaled, out=window)
        x += scaled.shape[1] + following_gap
    return canvas


def with_decimal_point(canvas: np.ndarray, radius: int) -> np.ndarray:
    """``canvas`` (two digits apart, bottoms aligned) with a round dot low in the gap between them."""
    inked = np.flatnonzero(canvas.max(axis=0) > 25)
    gap = inked[np.argmax(np.diff(inked))] + np.diff(inked).max() // 2
    bottom = np.flatnonzero(canvas.max(axis=1) > 25)[-1]
    rows, cols = np.ogrid[:canvas.shape[0], :canvas.shape[1]]
    canvas = canvas.copy()
    canvas[(rows - (bottom - radius)) ** 2 + (cols - gap) ** 2 <= radius ** 2] = 255
    return canvas


def with_minus_sign(canvas: np.ndarray, width: int = 40, thickness: int = 12, gap: int = 20) -> np.ndarray:
    """``canvas`` with room on its left and a dash there at mid-height, ``gap`` before the digits."""
    canvas = np.pad(canvas, ((0, 0), (width + gap + 10, 0)))
    inked_rows = np.flatnonzero(canvas.max(axis=1) > 25)
    middle = (inked_rows[0] + inked_rows[-1]) // 2
    first_ink = np.flatnonzero(canvas.max(axis=0) > 25)[0]
    canvas[middle - thickness // 2:middle + (thickness + 1) // 2, first_ink - gap - width:first_ink - gap] = 255
    return canvas


def ink_png(ink: np.ndarray, ink_rgb: tuple[int, int, int] = (0, 0, 0)) -> bytes:
    """(H, W) ink in 0-255 as a canvas PNG: ``ink_rgb`` strokes whose alpha is the ink, on transparent."""
    canvas = np.zeros((*ink.shape, 4), dtype=np.uint8)
    canvas[..., :3] = ink_rgb
    canvas[..., 3] = ink
    buffer = io.BytesIO()
    Image.fromarray(canvas, "RGBA").save(buffer, format="PNG")
    return buffer.getvalue()


def styled_canvas(digit: np.ndarray, box: int, top: int, left: int, weight: str, style: str) -> bytes:
    """One (28, 28) MNIST digit scaled to ``box`` pixels at (``top``, ``left``) of a canvas, with
    its strokes at ``weight`` and its ink in ``style``, as an encoded PNG."""
    scaled = Image.fromarray(digit).resize((box, box), Image.Resampling.BILINEAR)
    filter_size = 2 * max(1, box // 60) + 1  # 3 to 9 pixels: MNIST's pen is about a tenth of the box
    if weight == "thickened":
        scaled = scaled.filter(ImageFilter.MaxFilter(filter_size))
    elif weight == "thinned":
        scaled = scaled.filter(ImageFilter.MinFilter(filter_size))
    ink = np.zeros((CANVAS_SIDE, CANVAS_SIDE), dtype=np.uint8)
    ink[top:top + box, left:left + box] = np.asarray(scaled)
    return styled_ink(ink, style)


def styled_ink(ink: np.ndarray, style: str) -> bytes:
    """(H, W) ink in 0-255 as the PNG a client of ``style`` sends: on a transparent canvas (dark or
    coloured strokes), or painted on black or white, or a soft grey pencil on off-white paper."""
    if style == "dark on transparent":
        return ink_png(ink)
    if style == "coloured on transparent":
        return ink_png(ink, ink_rgb=(30, 90, 200))
    if style == "pencil on paper":
        grey = 235 - (ink.astype(np.float32) * 0.55).astype(np.uint8)
    else:
        grey = ink if style == "light on black" else 255 - ink
    buffer = io.BytesIO()
    Image.fromarray(grey).convert("RGB").save(buffer, format="PNG")
    return buffer.getvalue()
