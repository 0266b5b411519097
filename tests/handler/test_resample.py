"""The fitting's resize (handler/mnist_resample.py) gives Pillow's LANCZOS pixels, and the ink map's
in-place arithmetic leaves its inputs as they were."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from handler.mnist_preprocess import DIGIT_BOX, ink_map
from handler.mnist_resample import lanczos_resized

SIDES = (1, 2, 3, 5, 7, 19, 20, 21, 28, 40, 64, 107, 180, 281)


def pillow_lanczos(image: np.ndarray, width: int, height: int) -> np.ndarray:
    return np.asarray(Image.fromarray(image, mode="F").resize((width, height), Image.Resampling.LANCZOS))


@pytest.mark.parametrize("height", SIDES)
def test_the_fit_to_20_pixels_is_pillows_lanczos_to_float32_rounding(height):
    rng = np.random.default_rng(height)
    for width in SIDES:
        image = rng.random((height, width)).astype(np.float32)
        scale = DIGIT_BOX / max(height, width)
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        ours, pillows = lanczos_resized(image, *size), pillow_lanczos(image, *size)
        assert ours.shape == pillows.shape and ours.dtype == np.float32
        assert np.abs(ours.astype(np.float64) - pillows).max() <= 2e-7, (height, width)


def test_enlarging_and_keeping_a_side_are_pillows_too():
    image = np.random.default_rng(0).random((9, 13)).astype(np.float32)
    for width, height in ((13, 20), (30, 9), (13, 9)):
        assert np.abs(lanczos_resized(image, width, height) - pillow_lanczos(image, width, height)).max() <= 2e-7
    assert lanczos_resized(image, 13, 9) is not image  # a copy, never the caller's array


@pytest.mark.parametrize("light_strokes", [True, False])
def test_the_ink_map_leaves_its_inputs_unchanged(light_strokes):
    rng = np.random.default_rng(1)
    gray = rng.random((40, 30)).astype(np.float32) * (1.0 if light_strokes else 0.3)
    alpha = (rng.random((40, 30)) > 0.7).astype(np.float32)
    for arguments in ((gray, alpha), (gray, None)):
        copies = [None if array is None else array.copy() for array in arguments]
        ink_map(*arguments)
        for array, copy in zip(arguments, copies):
            assert copy is None or np.array_equal(array, copy)
