"""Unit tests of handler/mnist_cuts.py on drawn masks and on real MNIST digits written touching."""

from __future__ import annotations

import numpy as np

from bench.canvas_png import number_canvas
from bench.mnist_samples import one_of_each_digit
from handler.mnist_cuts import COARSE, FINE, cut_columns, cut_parts, cut_paths

DIGITS = dict(one_of_each_digit())


def test_a_cut_follows_a_slanted_gap_that_no_straight_cut_could_pass():
    mask = np.zeros((40, 60), dtype=bool)
    rows = np.arange(40)[:, None]
    cols = np.arange(60)[None, :]
    gap_at = 20 + rows // 4  # the gap leans right by 10 columns over 40 rows
    mask[(cols < gap_at) | (cols > gap_at + 1)] = True
    assert mask[:, 25].any() and all(mask[:, c].any() for c in range(60))  # every straight cut crosses ink
    path = cut_paths(mask, [25], drift=12)[0]
    assert not mask[np.arange(40), path].any()


def test_cuts_found_together_are_the_cuts_found_one_at_a_time():
    # Starts near both edges, where a cut's band is clipped, and close enough for bands to overlap.
    rng = np.random.default_rng(0)
    for _ in range(20):
        mask = rng.random((30, 50)) < 0.4
        starts = [1, 4, 25, 30, 48]
        together = cut_paths(mask, starts, drift=6)
        alone = np.array([cut_paths(mask, [start], drift=6)[0] for start in starts])
        assert np.array_equal(together, alone)
        assert ((together >= 1) & (together <= 49)).all()
        assert (np.abs(together - np.array(starts)[:, None]) <= 6).all()


def test_a_piece_narrower_than_two_digits_gets_no_cut():
    assert cut_columns(np.ones((100, 25), dtype=bool), line_height=100) == []


def test_only_the_fine_rules_cut_off_a_part_narrower_than_a_quarter_of_the_line():
    mask = np.zeros((100, 60), dtype=bool)
    mask[:, :18] = True        # a thick "1", 0.18 of the line's height wide
    mask[50:52, 18:22] = True  # touching its neighbour by a thin bridge
    mask[:, 22:] = True
    assert not any(18 <= column <= 21 for column in cut_columns(mask, 100, COARSE))
    assert any(18 <= column <= 21 for column in cut_columns(mask, 100, FINE))


def test_the_parts_of_a_touching_pair_include_each_digit_alone():
    for left, right in ((4, 8), (7, 6), (3, 5)):
        canvas = number_canvas([DIGITS[left], DIGITS[right]], height=150, gap=-6)
        alone = number_canvas([DIGITS[left]], height=150)
        mask = canvas > 25
        rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
        mask = mask[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
        parts = cut_parts(mask, line_height=mask.shape[0])
        assert len(parts) >= 2
        left_ink = (alone > 25).sum()
        # Some cut puts (nearly) the left digit's ink alone on its left.
        on_the_left = [np.logical_or.reduce(parts[:k]).sum() for k in range(1, len(parts))]
        assert min(abs(ink - left_ink) for ink in on_the_left) < 0.1 * left_ink, (left, right)
