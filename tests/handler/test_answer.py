"""Unit tests of handler/mnist_answer.py: the answer contract of README.md, from model outputs made here."""

from __future__ import annotations

import torch

from handler.mnist_answer import describe_symbol, request_answer

BOX = (10, 20, 110, 220)
THRESHOLD = 0.3


def output(digit_logits: list[float], not_a_digit: float, unfamiliarity: float = 0.0) -> torch.Tensor:
    probabilities = torch.softmax(torch.tensor(digit_logits, dtype=torch.float32), dim=0)
    return torch.cat([probabilities, torch.tensor([not_a_digit, unfamiliarity])])


def symbol(digit_logits: list[float], not_a_digit: float) -> dict:
    return describe_symbol(output(digit_logits, not_a_digit), THRESHOLD, BOX, whole=True)


def test_a_symbol_carries_its_best_digit_probabilities_box_and_whether_it_is_a_digit():
    seven = symbol([0.0] * 7 + [5.0] + [0.0] * 2, not_a_digit=0.01)
    assert seven["digit"] == 7 and seven["is_digit"] and seven["box"] == list(BOX)
    assert len(seven["probabilities"]) == 10 and abs(sum(seven["probabilities"]) - 1) < 1e-4
    assert seven["confidence"] == max(seven["probabilities"])
    assert not symbol([0.0] * 10, not_a_digit=THRESHOLD)["is_digit"]


def test_a_whole_drawing_unlike_every_training_digit_is_no_digit_but_a_part_cut_from_one_is_read():
    sure_seven = [0.0] * 7 + [9.0] + [0.0] * 2
    assert describe_symbol(output(sure_seven, 0.01, unfamiliarity=0.99), THRESHOLD, BOX, whole=True)["is_digit"]
    assert not describe_symbol(output(sure_seven, 0.01, unfamiliarity=1.0), THRESHOLD, BOX, whole=True)["is_digit"]
    part = describe_symbol(output(sure_seven, 0.01, unfamiliarity=3.0), THRESHOLD, BOX, whole=False)
    assert part["is_digit"] and part["digit"] == 7
    refused_part = describe_symbol(output(sure_seven, THRESHOLD, unfamiliarity=0.0), THRESHOLD, BOX, whole=False)
    assert not refused_part["is_digit"]


def test_one_digit_keeps_the_fields_answers_had_before_numbers():
    answer = request_answer([symbol(list(range(10)), not_a_digit=0.0)])
    assert answer["number"] == "9" and answer["is_digit"] and answer["digit"] == 9
    assert [entry["digit"] for entry in answer["top3"]] == [9, 8, 7]
    assert answer["top3"][0]["probability"] == answer["confidence"]
    assert "reason" not in answer and len(answer["digits"]) == 1


def test_a_number_reads_left_to_right_without_the_single_digit_fields():
    one, two = symbol([9.0] + [0.0] * 9, 0.0), symbol([0.0, 0.0, 9.0] + [0.0] * 7, 0.0)
    answer = request_answer([two, one, two])
    assert answer["number"] == "202" and answer["is_digit"]
    assert not {"digit", "confidence", "probabilities", "top3"} & set(answer)


def test_a_drawing_that_is_no_digit_is_said_so_with_a_reason_and_no_top_level_digit():
    answer = request_answer([symbol([0.0] * 10, not_a_digit=0.9)])
    assert answer["is_digit"] is False and answer["number"] == "" and "digit" not in answer
    assert answer["reason"] == "that doesn't look like a digit"
    assert "digit" in answer["digits"][0]  # the best guess, for the page to show small


def test_a_number_with_a_scribble_in_it_reads_its_digits_and_says_what_is_not_one():
    four = symbol([0.0] * 4 + [9.0] + [0.0] * 5, 0.0)
    answer = request_answer([four, symbol([0.0] * 10, 0.9), four])
    assert answer["number"] == "44" and answer["is_digit"] is False
    assert answer["reason"] == "1 of the 3 symbols drawn don't look like digits"


def test_a_drawing_of_too_many_marks_is_no_number_whatever_its_one_symbol_reads_as():
    eight = symbol([0.0] * 8 + [9.0, 0.0], not_a_digit=0.0)
    answer = request_answer([eight], reason="the drawing has 55 separate marks")
    assert answer["is_digit"] is False and answer["number"] == "" and "digit" not in answer
    assert answer["reason"] == "the drawing has 55 separate marks" and answer["digits"][0]["is_digit"] is False


def test_a_decimal_point_is_listed_as_no_digit_whatever_the_model_reads_and_named_in_the_reason():
    zero_logits = [5.0] + [0.0] * 9
    point = describe_symbol(output(zero_logits, 0.0), THRESHOLD, BOX, whole=True, mark=".")
    assert point["mark"] == "." and not point["is_digit"] and point["digit"] == 0
    answer = request_answer([symbol(list(range(10)), 0.0), point, symbol(list(range(10)), 0.0)])
    assert answer["number"] == "99" and not answer["is_digit"] and len(answer["digits"]) == 3
    assert "decimal point" in answer["reason"] and "digit" not in answer
    assert "mark" not in symbol(list(range(10)), 0.0)
