"""MNIST digits redrawn the way a browser canvas draws them, then fitted by the handler's own code.

A person on the page draws with a round pen of constant width; MNIST's digits were scanned pen
strokes of varying width, blurred and fitted into 20x20. To train on what serving sees, each
training digit is thinned to its skeleton, redrawn as constant-width round-capped strokes (or
thickened / thinned as a whole), and passed through ``mnist_preprocess.mnist_style``, the very
function the handler applies to a canvas.
"""

from __future__ import annotations

import numpy as np
from PIL import Image
from scipy.ndimage import distance_transform_edt
from skimage.morphology import skeletonize

from handler.mnist_preprocess import mnist_style

# 28 -> 112 pixels: fine enough to draw pen widths of 1-3 MNIST pixels, cheap enough for 54,000 digits.
RENDER_SCALE = 4
# Pen width as a fraction of the digit's height: the page's 20-pixel pen on digits 80-280 pixels tall,
# and a little beyond either way for phones and big screens.
PEN_RATIO_RANGE = (0.06, 0.25)
# Thickening or thinning of the whole digit, in MNIST pixels.
THICKNESS_RANGE = (-0.6, 1.2)


def as_uint8(pixels: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(pixels * 255), 0, 255).astype(np.uint8)


def upscaled(image: np.ndarray) -> np.ndarray:
    side = image.shape[0] * RENDER_SCALE
    return np.asarray(Image.fromarray(image).resize((side, side), Image.Resampling.BILINEAR), dtype=np.float32) / 255


def soft_edge(signed_distance: np.ndarray) -> np.ndarray:
    """Ink from a distance inside the stroke's edge, anti-aliased over one pixel as a canvas does."""
    return np.clip(signed_distance + 0.5, 0.0, 1.0)


def pen_strokes(image: np.ndarray, pen_ratio: float) -> np.ndarray:
    """``image`` (28x28 uint8) redrawn as strokes of one width along its skeleton, MNIST-fitted."""
    shape = upscaled(image) > 0.5
    skeleton = skeletonize(shape)
    rows = np.flatnonzero(shape.any(axis=1))
    if not skeleton.any() or rows.size == 0:
        return image
    radius = max(1.0, pen_ratio * (rows[-1] - rows[0] + 1) / 2)
    ink = soft_edge(radius - distance_transform_edt(~skeleton))
    return as_uint8(mnist_style(ink))


def reweighted(image: np.ndarray, thickness: float) -> np.ndarray:
    """``image`` thickened (positive, in MNIST pixels) or thinned (negative), MNIST-fitted."""
    shape = upscaled(image) > 0.5
    if not shape.any():
        return image
    grow = thickness * RENDER_SCALE / 2
    inside = distance_transform_edt(shape) - distance_transform_edt(~shape)
    ink = soft_edge(inside + grow)
    if ink.max() < 0.5:  # thinned away: keep the original
        return image
    return as_uint8(mnist_style(ink))


def canvas_variants(images: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two renderings of each (N, 28, 28) uint8 digit: pen strokes, and reweighted, random per digit."""
    rng = np.random.default_rng(seed)
    strokes = np.empty_like(images)
    weights = np.empty_like(images)
    for index, image in enumerate(images):
        strokes[index] = pen_strokes(image, rng.uniform(*PEN_RATIO_RANGE))
        weights[index] = reweighted(image, rng.uniform(*THICKNESS_RANGE))
    return strokes, weights
