"""Render an MNIST digit the way a browser canvas would send it: an RGBA PNG, ink on transparent.

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
    canvas = np.zeros((side, side, 4), dtype=np.uint8)
    canvas[..., :3] = ink_rgb
    canvas[top:top + box, left:left + box, 3] = scaled
    buffer = io.BytesIO()
    Image.fromarray(canvas, "RGBA").save(buffer, format="PNG")
    return buffer.getvalue()
