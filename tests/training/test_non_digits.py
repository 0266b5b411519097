"""The generated non-digits (training/non_digits.py) and how leave-kinds-out deals their families."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.fixtures.mnist_framing import ink_box
from training.leave_kinds_out import folds_of
from training.non_digits import ALWAYS_TRAINED, FAMILIES, KINDS, non_digits, random_strokes


@pytest.mark.parametrize("family", FAMILIES)
def test_every_family_is_drawn_as_an_mnist_fitted_image(family):
    drawings = non_digits(6, seed=0, families=(family,))
    assert drawings.shape == (6, 28, 28) and drawings.dtype == np.uint8
    for drawing in drawings:
        assert max(ink_box(torch.from_numpy(drawing).float() / 255)) in (19, 20)


def test_random_strokes_are_two_to_five_strokes_and_differ_by_seed():
    counts = {len(random_strokes(np.random.default_rng(seed))) for seed in range(200)}
    assert counts == {2, 3, 4, 5}
    first, second = (non_digits(4, seed, ("random strokes",)) for seed in (0, 1))
    assert not np.array_equal(first, second)


def test_the_prior_is_never_held_out_and_every_kind_is_held_out_once():
    folds = folds_of(3)
    held_out = [name for fold in folds for name in fold]
    assert sorted(held_out) == sorted(KINDS)
    assert not set(ALWAYS_TRAINED) & set(held_out)
    assert set(KINDS) | set(ALWAYS_TRAINED) == set(FAMILIES)
