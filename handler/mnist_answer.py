"""The JSON answer to one request, from the model's outputs for each symbol written. Pure functions.

The model's output for a symbol is the ten digits' calibrated probabilities, the probability that
the symbol is not a digit at all, and how unfamiliar it looks (handler/mnist_contract.py).
"""

from __future__ import annotations

import torch

from handler.mnist_contract import NOT_A_DIGIT, NUM_DIGITS, flagged

TOP_K = 3


MARK_NAMES = {".": "a decimal point", "-": "a minus sign"}


def describe_symbol(output: torch.Tensor, non_digit_threshold: float, box: tuple[int, int, int, int],
                    whole: bool, mark: str | None = None) -> dict:
    """One written symbol: its most likely digit (the best guess even when it is no digit), and whether
    it is one; a ``mark`` (a decimal point, a minus sign: its shape and place say so) is none. A
    ``whole`` group of ink is no digit when it looks unlike every training digit too; a part cut from
    one, or pieces joined, only by the eleventh class (parts look unlike every whole digit)."""
    probabilities = output[:NUM_DIGITS]
    confidence, digit = probabilities.max(dim=0)
    no_digit = flagged(output, non_digit_threshold) if whole else output[NOT_A_DIGIT] >= non_digit_threshold
    symbol = {
        "digit": int(digit),
        "confidence": round(float(confidence), 6),
        "probabilities": [round(float(p), 6) for p in probabilities],
        "is_digit": not bool(no_digit) and mark is None,
        "box": list(box),
    }
    if mark is not None:
        symbol["mark"] = mark
    return symbol


def top_digits(probabilities: list[float]) -> list[dict]:
    ranked = sorted(range(len(probabilities)), key=lambda digit: -probabilities[digit])[:TOP_K]
    return [{"digit": digit, "probability": probabilities[digit]} for digit in ranked]


def not_a_digit_reason(symbols: list[dict]) -> str:
    marks = [MARK_NAMES[symbol["mark"]] for symbol in symbols if "mark" in symbol]
    if marks:
        return f"the number holds {' and '.join(marks)}: only digits are read"
    if len(symbols) == 1:
        return "that doesn't look like a digit"
    others = sum(not symbol["is_digit"] for symbol in symbols)
    return f"{others} of the {len(symbols)} symbols drawn don't look like digits"


def request_answer(symbols: list[dict], reason: str | None = None) -> dict:
    """``number``, ``is_digit`` and ``digits`` always; the single digit's fields at the top exactly
    when one symbol was drawn and it is a digit, as answers had before numbers were read. With a
    ``reason`` (too many marks to be a number) the drawing is no digit whatever was read."""
    if reason is not None:
        symbols = [{**symbol, "is_digit": False} for symbol in symbols]
    is_digit = all(symbol["is_digit"] for symbol in symbols)
    answer = {
        "number": "".join(str(symbol["digit"]) for symbol in symbols if symbol["is_digit"]),
        "is_digit": is_digit,
        "digits": symbols,
    }
    if not is_digit:
        answer["reason"] = reason or not_a_digit_reason(symbols)
    elif len(symbols) == 1:
        (only,) = symbols
        answer.update(digit=only["digit"], confidence=only["confidence"], probabilities=only["probabilities"],
                      top3=top_digits(only["probabilities"]))
        if "preview" in only:
            answer["preview"] = only["preview"]
    return answer
