"""Unit tests of handler/mnist_segment.py through image_to_symbols and read_drawing, on real MNIST
test digits written into numbers (bench/canvas_png.number_canvas)."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage

from bench.canvas_png import ink_png, number_canvas, with_decimal_point, with_minus_sign
from bench.mnist_samples import mnist_test_set, one_of_each_digit
from handler.mnist_preprocess import INK_THRESHOLD, image_to_symbols, read_drawing
from handler.mnist_segment import MAX_PIECES, MAX_SYMBOLS, Piece, grown_by_one, runs

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


def test_two_digits_whose_ink_touches_are_one_group_with_cut_parts_once_the_model_doubts_it():
    canvas = number_canvas([DIGITS[4], DIGITS[8]], height=150, gap=-10)
    assert ndimage.label(canvas > 25, structure=np.ones((3, 3)))[1] == 1  # the ink does touch
    segmentation = read_drawing(ink_png(canvas)).segmentation
    assert len(segmentation.wholes()) == 1
    assert [(c.first, c.stop) for c in segmentation.candidates(set())] == [(0, 1)]
    spans = [(c.first, c.stop) for c in segmentation.candidates({0})]
    parts = max(stop for _, stop in spans)
    assert parts >= 2 and (0, parts) in spans
    assert sum((part, part + 1) in spans for part in range(parts)) >= 2  # parts as tall as a digit


def test_a_narrow_digit_is_not_cut_even_when_doubted():
    segmentation = read_drawing(ink_png(number_canvas([DIGITS[1]], height=150))).segmentation
    assert [(c.first, c.stop) for c in segmentation.candidates({0}) if c.whole] == [(0, 1)]
    assert {(c.first, c.stop) for c in segmentation.candidates({0})} == {(0, 1)}  # and its closed copy


def test_a_doubted_group_is_also_read_with_the_gap_in_its_stroke_filled():
    for digit in (0, 3, 4):
        # A band a fifteenth of the height wide erased across the digit, as when the pen lifts.
        canvas = number_canvas([DIGITS[digit]], height=200, broken=(0,))
        assert ndimage.label(canvas > 25, structure=np.ones((3, 3)))[1] >= 2, digit
        segmentation = read_drawing(ink_png(canvas)).segmentation
        assert len(segmentation.groups) == 1 and len(segmentation.candidates(set())) == 1  # sure: nothing more
        candidates = segmentation.candidates({0})
        (whole,) = [c for c in candidates if c.whole]
        (closed,) = [c for c in candidates if (c.first, c.stop) == (whole.first, whole.stop) and c is not whole]
        assert not closed.whole  # like a cut part, it counts only where surely a digit
        assert closed.symbol.box == whole.symbol.box and (closed.symbol.ink >= whole.symbol.ink).all()
        assert ndimage.label(closed.symbol.ink > INK_THRESHOLD, structure=np.ones((3, 3)))[1] == 1, digit


def test_cut_parts_of_a_long_bar_join_the_stroke_below_it():
    # A 7 cut in three (two parts of its top bar, short and wide, then its stem) touching a 1. Wide
    # as the two bar parts are for their height, with the stem they are a digit's shape.
    bar = [Piece(np.ones((12, 30), dtype=bool), 0, 0), Piece(np.ones((12, 30), dtype=bool), 0, 30)]
    stem, one = Piece(np.ones((100, 20), dtype=bool), 0, 60), Piece(np.ones((100, 20), dtype=bool), 0, 80)
    spans = runs([*bar, stem, one], [0, 0, 0, 0], doubtful={0}, marks=set(), line_height=100, max_run=4)
    assert (0, 3) in spans and (3, 4) in spans
    assert (0, 2) not in spans  # the bar alone is not as tall as a digit


def test_no_candidate_but_a_whole_group_is_wider_than_a_digit_can_be():
    parts = [Piece(np.ones((100, 20), dtype=bool), 0, 0), Piece(np.ones((100, 150), dtype=bool), 0, 20)]
    spans = runs(parts, [0, 0], doubtful={0}, marks=set(), line_height=100, max_run=3)
    assert spans == [(0, 1), (0, 2), (1, 2)]  # (0, 2) as the whole group only
    spans = runs([*parts, Piece(np.ones((100, 20), dtype=bool), 0, 170)], [0, 0, 0], doubtful={0}, marks=set(),
                 line_height=100, max_run=3)
    assert (0, 2) not in spans and (1, 3) not in spans  # 170 pixels wide: more than 1.6 times the line


def test_a_doubted_group_may_join_a_close_neighbour_and_a_sure_one_may_not():
    canvas = number_canvas([DIGITS[3], DIGITS[1]], height=150, gap=12)
    segmentation = read_drawing(ink_png(canvas)).segmentation
    assert len(segmentation.groups) == 2
    assert (0, 2) not in [(c.first, c.stop) for c in segmentation.candidates(set())]
    assert (0, 2) in [(c.first, c.stop) for c in segmentation.candidates({1})]


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


def test_more_symbols_than_the_cap_is_one_symbol_that_is_no_number():
    canvas = number_canvas([DIGITS[d % 10] for d in range(MAX_SYMBOLS + 1)], height=60, gap=30)
    drawing = read_drawing(ink_png(canvas))
    (whole,) = drawing.wholes()
    assert f"at most {MAX_SYMBOLS}" in drawing.reason
    assert whole.box[2] - whole.box[0] > 0.9 * (canvas.shape[1] - 2 * 15)


def test_a_field_of_dots_is_one_symbol_that_is_no_number_without_reading_each_dot():
    canvas = np.zeros((400, 400), dtype=np.uint8)
    canvas[5::8, 5::8] = 255
    drawing = read_drawing(ink_png(canvas))
    assert len(drawing.wholes()) == 1 and f"more than {MAX_PIECES} separate marks" in drawing.reason


def question_mark() -> bytes:
    image = Image.new("L", (200, 280), 255)
    pen = ImageDraw.Draw(image)
    pen.line([(50, 80), (70, 40), (110, 30), (145, 55), (140, 100), (100, 130), (100, 185)], fill=0, width=14,
             joint="curve")
    pen.ellipse((92, 222, 108, 238), fill=0)  # the dot: a small share of the ink, below the hook
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def test_the_dot_of_a_question_mark_stays_with_its_hook():
    (symbol,) = image_to_symbols(question_mark())
    assert symbol.box[3] >= 236  # the box reaches down to the dot


def test_a_decimal_point_between_digits_is_a_symbol_of_its_own_even_as_small_as_a_speck():
    for radius in (10, 5):  # a pen dot, and one so small that it is a speck beside a 0
        canvas = with_decimal_point(number_canvas([DIGITS[0], DIGITS[5]], height=150, gap=40), radius)
        segmentation = read_drawing(ink_png(canvas)).segmentation
        assert [candidate.mark for candidate in segmentation.wholes()] == [None, ".", None], radius
        candidates = segmentation.candidates({0, 1, 2})
        (point,) = [c for c in candidates if c.mark == "."]
        assert point.stop == point.first + 1  # the point is one part, and no other candidate holds it
        assert not any(c.first <= point.first < c.stop for c in candidates if c is not point)


def test_a_faint_dot_between_digits_is_no_decimal_point():
    # MNIST's scans carry faint stray pixels; a pen's dot is as dark as its strokes.
    canvas = number_canvas([DIGITS[6], DIGITS[7]], height=150, gap=40)
    dot = with_decimal_point(canvas, 6).astype(np.int16) - canvas
    for strength, marks in ((1.0, [None, ".", None]), (0.25, [None, None])):
        drawn = (canvas + dot * strength).astype(np.uint8)
        segmentation = read_drawing(ink_png(drawn)).segmentation
        assert [candidate.mark for candidate in segmentation.wholes()] == marks, strength


def test_a_minus_sign_before_a_number_is_a_symbol_of_its_own():
    canvas = with_minus_sign(number_canvas([DIGITS[4], DIGITS[2]], height=150, gap=40))
    assert [candidate.mark for candidate in read_drawing(ink_png(canvas)).segmentation.wholes()] == ["-", None, None]


def test_a_dot_after_the_last_digit_or_a_bar_at_the_top_is_no_mark():
    lifted_bar = read_drawing(five_with_its_bar_lifted()).segmentation
    assert len(lifted_bar.groups) == 1 and not lifted_bar.marks
    canvas = number_canvas([DIGITS[3], DIGITS[1]], height=150, gap=40)
    canvas = np.pad(canvas, ((0, 0), (0, 60)))
    canvas[170:180, -50:-40] = 255  # a pen tap after the number, low: no decimal point ends a number
    assert not read_drawing(ink_png(canvas)).segmentation.marks


def test_growing_a_mask_by_one_pixel_is_scipys_3x3_dilation():
    rng = np.random.default_rng(0)
    for _ in range(200):
        mask = rng.random((int(rng.integers(1, 40)), int(rng.integers(1, 40)))) < 0.05
        assert (grown_by_one(mask) == ndimage.binary_dilation(mask, structure=np.ones((3, 3)))).all()
