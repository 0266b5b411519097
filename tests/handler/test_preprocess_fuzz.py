"""Property-based fuzzing of the preprocessing: any input gives 1x28x28 tensors of finite numbers
in [0, 1] with boxes inside the image, or the module's own BadInput, never anything else."""

from __future__ import annotations

import io

import numpy as np
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from handler.mnist_errors import BadInput
from handler.mnist_preprocess import image_to_symbols
from handler.mnist_segment import MAX_SYMBOLS

MODES = ["1", "L", "LA", "P", "RGB", "RGBA", "CMYK", "I;16", "I", "F"]
FORMATS = {"PNG": MODES[:6] + ["I;16"], "JPEG": ["L", "RGB", "CMYK"], "GIF": ["L", "P"],
           "WEBP": ["RGB", "RGBA"], "TIFF": MODES, "BMP": ["1", "L", "P", "RGB"]}


def check(data: bytes) -> None:
    try:
        symbols = image_to_symbols(data)
    except BadInput as error:
        assert str(error) and 400 <= error.status < 500
        return
    assert 1 <= len(symbols) <= MAX_SYMBOLS
    width, height = Image.open(io.BytesIO(data)).size
    for symbol in symbols:
        pixels = symbol.pixels
        assert pixels.shape == (1, 28, 28) and pixels.dtype == torch.float32
        assert torch.isfinite(pixels).all() and pixels.min() >= 0 and pixels.max() <= 1
        left, top, right, bottom = symbol.box
        assert 0 <= left < right <= width and 0 <= top < bottom <= height


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=4096))
def test_random_bytes(data):
    check(data)


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=8, max_size=2048))
def test_random_bytes_behind_a_png_signature(tail):
    check(b"\x89PNG\r\n\x1a\n" + tail)


@st.composite
def encoded_images(draw):
    fmt = draw(st.sampled_from(sorted(FORMATS)))
    mode = draw(st.sampled_from(FORMATS[fmt]))
    width, height = draw(st.integers(1, 300)), draw(st.integers(1, 300))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    sparse = draw(st.booleans())
    noise = rng.random((height, width, 4))
    if sparse:  # mostly background with a few strokes, like a drawing
        noise = np.where(rng.random((height, width, 1)) < 0.05, noise, 0.0)
    wide = mode in ("I;16", "I", "F")
    image = Image.fromarray((noise * 255).astype(np.uint8), "RGBA").convert("L" if wide else mode)
    if wide:
        scale = {"I;16": 257, "I": 257, "F": 1 / 255}[mode]
        dtype = {"I;16": np.uint16, "I": np.int32, "F": np.float32}[mode]
        image = Image.fromarray((np.asarray(image, dtype=np.float64) * scale).astype(dtype))
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(encoded_images())
def test_random_valid_images_of_any_size_mode_and_format(data):
    check(data)
