"""The automatic-accept rules: only where evidence beyond the one client agrees."""

from __future__ import annotations

import json
from datetime import datetime

from bench.canvas_png import canvas_png
from bench.mnist_samples import mnist_test_set
from corrections.store import Correction
from lifecycle.review_rules import AGREEING_CLIENTS, SECOND_CHOICE, accepted_by_rule
from lifecycle.symbols import fitted_symbols


def symbol(digit: int, probabilities: dict[int, float], is_digit: bool = True) -> dict:
    return {"digit": digit, "is_digit": is_digit, "confidence": max(probabilities.values()),
            "probabilities": [probabilities.get(d, 0.0) for d in range(10)], "box": [0, 0, 10, 10]}


def correction(ident: int, symbols: list[dict], label: str, client: str = "a", image: bytes = b"") -> Correction:
    answer = {"number": "".join(str(s["digit"]) for s in symbols if s["is_digit"]),
              "is_digit": all(s["is_digit"] for s in symbols), "digits": symbols}
    return Correction(ident, datetime(2026, 12, 2), client, image, json.dumps(answer), "1.0", label, "pending", None)


UNSURE_4_OR_9 = symbol(4, {4: 0.55, 9: 0.4, 7: 0.05})
SURE_3 = symbol(3, {3: 0.995, 8: 0.004, 5: 0.001})
SURE_1 = symbol(1, {1: 0.999, 7: 0.001})


def no_drawings(_image: bytes):
    raise AssertionError("these cases need no drawing")


def test_the_model_s_own_unsure_second_choice_is_accepted():
    cases = [correction(1, [UNSURE_4_OR_9], "9"), correction(2, [SURE_1, UNSURE_4_OR_9], "19")]
    assert accepted_by_rule(cases, lambda _: fitted_symbols(b"")) == {1: SECOND_CHOICE, 2: SECOND_CHOICE}


def test_a_confident_answer_corrected_to_its_distant_second_choice_waits_for_a_person():
    # An attacker reading top3 can always name the second choice; a clear 3 gives it 0.4%.
    cases = [correction(1, [SURE_3], "8"), correction(2, [UNSURE_4_OR_9], "7"),
             correction(3, [SURE_1, UNSURE_4_OR_9], "79")]  # the 1 was changed too, to no second choice
    assert accepted_by_rule(cases, lambda _: fitted_symbols(b"")) == {}


def test_near_identical_drawings_labelled_alike_by_two_addresses_are_accepted_if_plausible():
    images, labels = mnist_test_set()
    index = int((labels == 4).nonzero()[0][0])
    drawing, same_drawing_moved = canvas_png(images[index]), canvas_png(images[index], top=40, left=80)
    other = canvas_png(images[int((labels == 4).nonzero()[0][1])])
    plausible_9 = symbol(4, {4: 0.9, 9: 0.08, 7: 0.02})
    cases = [correction(1, [plausible_9], "9", "a", drawing),
             correction(2, [plausible_9], "9", "b", same_drawing_moved),
             correction(3, [plausible_9], "9", "a", same_drawing_moved),  # address a again, but b drew it alike
             correction(4, [plausible_9], "9", "c", other)]  # another drawing of a 4
    assert accepted_by_rule(cases, fitted_symbols) == dict.fromkeys((1, 2, 3), AGREEING_CLIENTS)
    alone = [correction(1, [plausible_9], "9", "a", drawing),
             correction(3, [plausible_9], "9", "a", same_drawing_moved)]
    assert accepted_by_rule(alone, fitted_symbols) == {}


def test_many_addresses_agreeing_on_an_implausible_label_are_not_enough():
    images, labels = mnist_test_set()
    drawing = canvas_png(images[int((labels == 3).nonzero()[0][0])])
    cases = [correction(i, [SURE_3], "8", f"client-{i}", drawing) for i in range(1, 6)]
    assert accepted_by_rule(cases, fitted_symbols) == {}


def test_a_correction_that_does_not_match_the_symbols_one_for_one_waits():
    unread = symbol(5, {5: 0.3, 6: 0.25}, is_digit=False)
    assert accepted_by_rule([correction(1, [unread], "56"), correction(2, [SURE_3], "")], no_drawings) == {}
