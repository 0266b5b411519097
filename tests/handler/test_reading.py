"""Unit tests of handler/mnist_reading.py: the choice of a reading from made-up model outputs."""

from __future__ import annotations

import torch

from handler.mnist_reading import best_reading, candidate_scores


def output(digit: int | None, confidence: float) -> list[float]:
    """One row: ``confidence`` on ``digit`` (the rest spread), or on "not a digit" if None; every row
    unfamiliar, which the reading must not read (it says what whole drawings are, not cut parts)."""
    if digit is None:
        return [0.1] * 10 + [confidence, 5.0]
    row = [(1 - confidence) / 9] * 10
    row[digit] = confidence
    return row + [0.001, 5.0]


def test_a_digit_read_whole_is_not_cut_into_two_halves_that_read_as_digits_less_surely():
    spans = [(0, 2), (0, 1), (1, 2)]
    outputs = torch.tensor([output(0, 0.99), output(1, 0.9), output(1, 0.9)])
    assert best_reading(spans, [True] * len(spans), outputs) == [0]


def test_two_touching_digits_are_cut_when_the_whole_is_no_digit_and_each_part_is_one():
    spans = [(0, 2), (0, 1), (1, 2)]
    outputs = torch.tensor([output(None, 0.99), output(4, 0.97), output(8, 0.95)])
    assert best_reading(spans, [True] * len(spans), outputs) == [1, 2]


def test_a_broken_digit_is_joined_when_joined_it_reads_better_than_its_pieces():
    spans = [(0, 1), (1, 2), (0, 2), (2, 3)]
    outputs = torch.tensor([output(None, 0.6), output(1, 0.5), output(7, 0.98), output(3, 0.99)])
    assert best_reading(spans, [True] * len(spans), outputs) == [2, 3]


def test_a_drawing_that_is_no_digit_stays_one_symbol_when_its_parts_are_no_digits_either():
    spans = [(0, 3), (0, 1), (1, 2), (2, 3), (0, 2), (1, 3)]
    outputs = torch.tensor([output(None, 0.99)] + [output(None, 0.9)] * 5)
    assert best_reading(spans, [True] * len(spans), outputs) == [0]


def test_every_part_is_covered_once_left_to_right_whatever_the_scores():
    generator = torch.Generator().manual_seed(0)
    spans = [(i, i + 1) for i in range(6)] + [(0, 2), (1, 3), (2, 5), (4, 6), (0, 6)]
    for _ in range(50):
        outputs = torch.softmax(torch.randn(len(spans), 11, generator=generator), dim=1)
        covered = [part for index in best_reading(spans, [True] * len(spans), outputs) for part in range(*spans[index])]
        assert covered == list(range(6))


def test_a_cut_part_is_only_read_as_a_digit_the_model_is_sure_of():
    spans = [(0, 2), (0, 1), (1, 2)]
    outputs = torch.tensor([output(None, 0.99), output(1, 0.8), output(1, 0.8)])
    assert best_reading(spans, [True, True, True], outputs) == [1, 2]
    assert best_reading(spans, [True, False, False], outputs) == [0]  # a tick is not "11"


def test_a_zero_probability_does_not_make_a_score_infinite():
    scores = candidate_scores(torch.tensor([[0.0] * 12]))
    assert torch.isfinite(scores).all()
