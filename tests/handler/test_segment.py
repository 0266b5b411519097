"""Unit tests of handler/mnist_segment.py through image_to_symbols, on real MNIST test digits
written into numbers (bench/canvas_png.number_canvas)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageDraw
from scipy import ndimage

from bench.canvas_png import ink_png, number_canvas
from bench.mnist_samples import mnist_test_set, one_of_each_digit
from handler.mnist_errors import BadInput
from handler.mnist_preprocess import image_to_symbols
from handler.mnist_segment import MAX_SYMBOLS

DIGITS = dict(one_of_each_digit())


def random_numbers(count: int, seed: int):
    """(digits, canvas) pairs: 2-6 random test digits, random size, gap and vertical jitter."""
    images, _ = mnist_test_set()
    rng = np.random.default_rng(seed)
    for case in range(count):
        picked = rng.integers(0, len(images), int(rng.integers(2, 7)))
        canvas = number_canvas([images[i] for i in picked], height=int(rng.integers(100, 200)),
                               gap=int(rng.integers(10, 60)), jitter=int(rng.integers(0, 30)), seed=case)
        yield picked, canvas


def test_numbers_of_two_to_six_digits_split_into_one_symbol_per_digit_left_to_right():
    right = 0
    cases = list(random_numbers(80, seed=1))
    for picked, canvas in cases:
        symbols = image_to_symbols(ink_png(canvas))
        lefts = [symbol.box[0] for symbol in symbols]
        right += len(symbols) == len(picked) and lefts == sorted(lefts)
    # Measured 99.3% on 600 such numbers (docs/BENCHMARKS.md); a few MNIST digits come in pieces.
    assert right >= 0.95 * len(cases), right


def test_boxes_are_in_the_clients_pixels_and_hold_each_digit():
    canvas = number_canvas([DIGITS[4], DIGITS[2]], height=120, gap=40)
    symbols = image_to_symbols(ink_png(canvas))
    assert len(symbols) == 2
    for symbol in symbols:
        left, top, right, bottom = symbol.box
        inside = canvas[top:bottom, left:right]
        assert inside.max() > 200 and 60 < bottom - top <= 120
    assert symbols[0].box[2] < symbols[1].box[0]


def test_boxes_of_a_large_photo_are_scaled_back_from_the_reduced_decoding():
    canvas = number_canvas([DIGITS[7], DIGITS[1]], height=900, gap=300)
    photo = Image.fromarray(255 - canvas).convert("RGB")  # dark ink on white, over the working size
    buffer = io.BytesIO()
    photo.save(buffer, format="PNG")
    symbols = image_to_symbols(buffer.getvalue())
    assert len(symbols) == 2
    assert all(symbol.box[2] <= photo.width and symbol.box[3] <= photo.height for symbol in symbols)
    assert symbols[1].box[2] - symbols[0].box[0] > 0.6 * photo.width


def test_a_digit_whose_stroke_is_broken_stays_one_symbol():
    for digit in (0, 3, 8):
        canvas = number_canvas([DIGITS[digit], DIGITS[1]], height=150, gap=40, broken=(0,))
        assert len(image_to_symbols(ink_png(canvas))) == 2, digit


def test_two_digits_whose_ink_touches_are_one_symbol_the_documented_limitation():
    canvas = number_canvas([DIGITS[0], DIGITS[0]], height=150, gap=-6)
    assert ndimage.label(canvas > 25, structure=np.ones((3, 3)))[1] == 1  # the ink does touch
    assert len(image_to_symbols(ink_png(canvas))) == 1


def five_with_its_bar_lifted() -> bytes:
    image = Image.new("L", (280, 280), 255)
    pen = ImageDraw.Draw(image)
    pen.line([(90, 60), (85, 130), (140, 120), (170, 160), (160, 210), (110, 225), (80, 205)], fill=0, width=18,
             joint="curve")
    pen.line([(115, 55), (190, 50)], fill=0, width=18)  # the bar, drawn after the pen was lifted
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def test_pieces_of_one_symbol_merge_and_specks_are_dropped():
    assert len(image_to_symbols(five_with_its_bar_lifted())) == 1
    canvas = number_canvas([DIGITS[3]], height=150)
    canvas[5:8, 5:8] = 255  # a pen tap far from the digit
    assert len(image_to_symbols(ink_png(canvas))) == 1


def test_more_symbols_than_the_cap_is_a_clear_4xx():
    canvas = number_canvas([DIGITS[d % 10] for d in range(MAX_SYMBOLS + 1)], height=60, gap=30)
    with pytest.raises(BadInput, match="at most 12") as refused:
        image_to_symbols(ink_png(canvas))
    assert refused.value.status == 422


def test_a_field_of_dots_is_refused_without_reading_each_one():
    canvas = np.zeros((400, 400), dtype=np.uint8)
    canvas[5::8, 5::8] = 255
    with pytest.raises(BadInput, match="separate marks"):
        image_to_symbols(ink_png(canvas))
