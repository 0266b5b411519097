"""Cut parts of touching training digits, labelled by whose ink they hold (training/cut_parts.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from handler.mnist_contract import NOT_A_DIGIT
from handler.mnist_segment import Candidate, Symbol
from tests.fixtures.mnist_framing import ink_box
from training.cut_parts import cut_part_examples, distinct, labelled, pair_parts
from training.data import load_mnist


@pytest.fixture(scope="module")
def mnist():
    return load_mnist()


def candidate_holding(ink: np.ndarray, rows: slice, cols: slice) -> Candidate:
    """A candidate whose symbol is the ink of ``ink`` within rows and columns (box starts at 1, 1 so
    that symbol_of's one pixel of margin is inside the map)."""
    box = (cols.start, rows.start, cols.stop, rows.stop)
    window = ink[rows.start - 1:rows.stop + 1, cols.start - 1:cols.stop + 1]
    return Candidate(Symbol(window.copy(), box, (cols.start - 1, rows.start - 1)), 0, 1, False)


def two_squares() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two 16-pixel squares side by side, 4 pixels apart: each one's ink, and the ink map of both."""
    first = np.zeros((20, 40), dtype=bool)
    second = np.zeros((20, 40), dtype=bool)
    first[2:18, 2:18] = True
    second[2:18, 22:38] = True
    return first, second, (first | second).astype(np.float32)


def test_candidates_are_labelled_by_the_ink_they_hold():
    first, second, ink = two_squares()
    whole_first = candidate_holding(ink, slice(1, 19), slice(1, 19))
    both = candidate_holding(ink, slice(1, 19), slice(10, 30))
    half_of_first = candidate_holding(ink, slice(1, 19), slice(1, 10))
    kept = labelled([whole_first, both, half_of_first], [first, second], (4, 8), np.random.default_rng(0))
    assert [(candidate is whole_first, label) for candidate, label in kept if label != NOT_A_DIGIT] == [(True, 4)]
    assert [candidate for candidate, label in kept if label == NOT_A_DIGIT] == [both]


def test_one_candidate_of_each_digit_is_kept_however_many_hold_it():
    first, second, ink = two_squares()
    firsts = [candidate_holding(ink, slice(1, 19), slice(1, stop)) for stop in (19, 20, 21)]
    lone_second = candidate_holding(ink, slice(1, 19), slice(21, 39))
    for seed in range(5):
        kept = labelled([*firsts, lone_second], [first, second], (4, 8), np.random.default_rng(seed))
        assert sorted(label for _, label in kept) == [4, 8]


def test_a_candidate_proposed_by_both_cutters_is_drawn_once():
    ink = np.zeros((20, 40), dtype=np.float32)
    ink[2:18, 2:18] = 1.0
    one = candidate_holding(ink, slice(1, 19), slice(1, 19))
    same = candidate_holding(ink.copy(), slice(1, 19), slice(1, 19))
    other = candidate_holding(ink, slice(1, 19), slice(1, 12))
    assert distinct([one, same, other]) == [one, other]


def test_a_touching_pair_is_cut_into_its_two_digits_by_the_handlers_cutter(mnist):
    images, labels = mnist.train_images.numpy(), mnist.train_labels.numpy()
    fours, eights = np.flatnonzero(labels == 4)[:10], np.flatnonzero(labels == 8)[:10]
    rng = np.random.default_rng(0)
    both_found = 0
    for four, eight in zip(fours, eights):
        found = {label for _, label in pair_parts(images[four], images[eight], (4, 8), rng)}
        assert found <= {4, 8, NOT_A_DIGIT}
        both_found += {4, 8} <= found
    assert both_found >= 6  # MNIST's 4s and 8s, touching or overlapping up to 30%: most cut cleanly


def test_examples_are_fitted_like_mnist_and_reproducible(mnist):
    renderings = mnist.train_images[:300].numpy()[None]
    labels = mnist.train_labels[:300].numpy()
    images, answers = cut_part_examples(renderings, labels, 40, seed=3)
    again, _ = cut_part_examples(renderings, labels, 40, seed=3)
    assert images.dtype == np.uint8 and images.shape[1:] == (28, 28) and len(images) == len(answers)
    assert np.array_equal(images, again)
    assert set(answers) - set(range(NOT_A_DIGIT + 1)) == set()
    assert NOT_A_DIGIT in answers and len(set(answers)) >= 6
    # Fitted as the handler fits a symbol: its longer side 20 pixels (19 after rounding).
    assert all(max(ink_box(torch.from_numpy(image).float().div(255))) in (19, 20) for image in images)
