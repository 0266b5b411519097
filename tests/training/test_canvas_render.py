"""The canvas-domain renderings of training digits (training/canvas_render.py), on real MNIST digits."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.fixtures.mnist_framing import centre_of_mass, ink_box
from training.canvas_render import PEN_RATIO_RANGE, THICKNESS_RANGE, canvas_variants, pen_strokes, reweighted
from training.data import load_mnist


@pytest.fixture(scope="module")
def digits() -> np.ndarray:
    return load_mnist().train_images[:40].numpy()


def assert_mnist_framed(image: np.ndarray) -> None:
    """The longer side of the ink 20 pixels (19-20 after rounding), the centre of mass at the middle."""
    assert image.dtype == np.uint8 and image.shape == (28, 28)
    pixels = torch.from_numpy(image).float().div(255)
    assert max(ink_box(pixels)) in (19, 20)
    row, col = centre_of_mass(pixels)
    assert abs(row - 14) <= 1 and abs(col - 14) <= 1


def test_a_thickened_digit_has_more_ink_than_a_thinned_one(digits):
    for digit in digits:
        thin, thick = (reweighted(digit, thickness) for thickness in THICKNESS_RANGE)
        assert_mnist_framed(thick)
        assert_mnist_framed(thin)
        assert thin.astype(float).sum() < 0.8 * thick.astype(float).sum()


def test_a_wider_pen_draws_more_ink(digits):
    for digit in digits:
        fine, broad = (pen_strokes(digit, ratio) for ratio in PEN_RATIO_RANGE)
        assert_mnist_framed(fine)
        assert fine.astype(float).sum() < broad.astype(float).sum()


def test_variants_are_reproducible_from_their_seed(digits):
    first, again, other = canvas_variants(digits, 7), canvas_variants(digits, 7), canvas_variants(digits, 8)
    assert len(first) == 2
    for rendering, same, different in zip(first, again, other):
        assert rendering.shape == digits.shape
        assert np.array_equal(rendering, same)
        assert not np.array_equal(rendering, different)
