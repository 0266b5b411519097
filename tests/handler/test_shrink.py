"""Unit tests of handler/mnist_shrink.py: images too large for TorchServe's request limit, made to fit."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from bench import hostile_images as hostile
from handler.mnist_errors import BadInput
from handler.mnist_preprocess import image_to_symbols
from handler.mnist_shrink import boxes_scaled, shrunk_to_fit
from tests.fixtures.images import draw_seven, encode

LIMIT = 127 * 1024


def test_a_phone_photo_fits_and_keeps_its_digit_and_boxes():
    photo = hostile.oriented_jpeg(hostile.paper_photo(7), 6)
    assert len(photo) > LIMIT
    smaller, (fx, fy) = shrunk_to_fit(photo, LIMIT)
    assert len(smaller) <= LIMIT
    shrunk = Image.open(io.BytesIO(smaller))
    assert shrunk.mode == "L" and round(shrunk.width * fx) == 3024 and round(shrunk.height * fy) == 4032
    (original,), (fitted,) = image_to_symbols(photo), image_to_symbols(smaller)
    assert (fitted.pixels - original.pixels).abs().mean() < 0.05
    (symbol,) = boxes_scaled({"digits": [{"box": list(fitted.box)}]}, (fx, fy))["digits"]
    scaled = symbol["box"]
    assert all(abs(a - b) <= 2 * fx for a, b in zip(scaled, original.box))


def test_a_large_transparent_canvas_keeps_its_transparency():
    canvas = draw_seven("RGBA", (0, 0, 0, 0), (20, 20, 20, 255), size=2048, scale=7, width=120)
    noisy = hostile.noise(2048, 2048, "RGBA", 0.01)
    canvas.alpha_composite(noisy.point(lambda value: value // 4))  # faint noise: a canvas PNG that is large
    data = encode(canvas)
    assert len(data) > LIMIT
    smaller, _ = shrunk_to_fit(data, LIMIT)
    assert len(smaller) <= LIMIT and Image.open(io.BytesIO(smaller)).mode == "LA"


def refusal(read, data: bytes) -> str:
    with pytest.raises(BadInput) as refused:
        read(data)
    return str(refused.value)


def test_an_unreadable_image_is_refused_as_the_handler_refuses_it():
    broken = b"\x89PNG\r\n\x1a\n" + bytes(200_000)
    assert refusal(lambda data: shrunk_to_fit(data, LIMIT), broken) == refusal(image_to_symbols, broken)


def test_boxes_are_scaled_out_to_whole_pixels():
    answer = {"digits": [{"box": [10, 20, 31, 41]}, {"box": [0, 0, 5, 5]}], "number": "12"}
    assert boxes_scaled(answer, (4.0, 3.5)) == {"digits": [{"box": [40, 70, 124, 144]}, {"box": [0, 0, 20, 18]}],
                                                "number": "12"}
