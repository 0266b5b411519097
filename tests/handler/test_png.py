"""Unit tests of handler/mnist_png.py: a plain PNG decodes to the pixels libspng gives on its own,
through zlib-ng where that applies, and anything odd is left to libspng as sent."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pyspng
import pytest
from PIL import Image

from handler.mnist_container import PNG_SIGNATURE, png_chunks
from handler.mnist_png import chunk, load_png, with_stored_data
from tests.fixtures.images import draw_seven, encode

DRAWINGS = {"L": (0, 255), "RGB": ((255, 255, 255), (10, 10, 10)), "RGBA": ((0, 0, 0, 0), (30, 90, 200, 255))}


def drawing(mode: str) -> Image.Image:
    """A 7 with speckles: rows that every PNG filter (Sub, Up, Average, Paeth) is chosen for."""
    background, ink = DRAWINGS[mode]
    image = draw_seven(mode, background, ink)
    pixels = np.array(image)
    rng = np.random.default_rng(0)
    rows, columns = rng.integers(0, 280, size=(2, 400))
    pixels[rows, columns] = rng.integers(0, 256, size=pixels[rows, columns].shape)
    return Image.fromarray(pixels, mode)


def rebuilt(png: bytes, header: bytes | None = None, idat_size: int | None = None) -> bytes:
    """``png`` with another IHDR body, or its image data in chunks of ``idat_size`` bytes."""
    found = dict(png_chunks(png))
    head = header if header is not None else found[b"IHDR"]
    data = b"".join(body for kind, body in png_chunks(png) if kind == b"IDAT")
    step = idat_size or len(data)
    pieces = [chunk(b"IDAT", data[start:start + step]) for start in range(0, len(data), step)]
    return PNG_SIGNATURE + chunk(b"IHDR", head) + b"".join(pieces) + chunk(b"IEND", b"")


def outcome(decode, data: bytes, mode: str):
    try:
        return decode(data, mode)
    except Exception as error:  # noqa: BLE001 - what libspng raises is the answer to compare
        return type(error).__name__, str(error)


def assert_same_outcome(data: bytes, mode: str) -> None:
    ours, theirs = outcome(load_png, data, mode), outcome(pyspng.load, data, mode)
    if isinstance(theirs, np.ndarray):
        assert isinstance(ours, np.ndarray) and np.array_equal(ours, theirs)
    else:
        assert ours == theirs


@pytest.mark.parametrize("mode", DRAWINGS)
@pytest.mark.parametrize("level", [0, 1, 6, 9])
def test_a_plain_png_decodes_through_zlib_ng_to_libspngs_own_pixels(mode, level):
    png = encode(drawing(mode), compress_level=level)
    stored = with_stored_data(png)
    assert stored is not None and len(stored) > 280 * 280 * len(mode)  # the image data is there, uncompressed
    assert np.array_equal(load_png(png, mode), pyspng.load(png, mode))


def test_image_data_in_many_chunks_is_joined():
    png = rebuilt(encode(drawing("RGBA")), idat_size=997)
    assert with_stored_data(png) is not None
    assert np.array_equal(load_png(png, "RGBA"), pyspng.load(png, "RGBA"))


def test_sixteen_bit_samples_are_sized_by_their_depth():
    rng = np.random.default_rng(1)
    samples = rng.integers(0, 65536, size=(40, 30, 3), dtype=np.uint16)
    rows = b"".join(b"\0" + row.astype(">u2").tobytes() for row in samples)
    header = struct.pack(">IIBBBBB", 30, 40, 16, 2, 0, 0, 0)
    png = PNG_SIGNATURE + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
    assert with_stored_data(png) is not None
    assert np.array_equal(load_png(png, "RGB"), pyspng.load(png, "RGB"))


def header_of(png: bytes, **changes) -> bytes:
    names = ("width", "height", "depth", "colour", "compression", "filter", "interlace")
    fields = dict(zip(names, struct.unpack(">IIBBBBB", dict(png_chunks(png))[b"IHDR"])))
    return struct.pack(">IIBBBBB", *{**fields, **changes}.values())


@pytest.mark.parametrize("changes", [{"interlace": 1}, {"height": 281}, {"height": 279}, {"colour": 3, "depth": 8}])
def test_a_png_whose_image_data_is_not_as_its_header_says_is_left_to_libspng(changes):
    png = encode(drawing("L"))
    odd = rebuilt(png, header=header_of(png, **changes))
    assert with_stored_data(odd) is None
    assert_same_outcome(odd, "L")


@pytest.mark.parametrize("cut", [slice(None, -40), slice(10, None)])
def test_damaged_image_data_fails_as_libspng_fails(cut):
    png = encode(drawing("RGB"))
    data = b"".join(body for kind, body in png_chunks(png) if kind == b"IDAT")
    header = dict(png_chunks(png))[b"IHDR"]
    damaged = PNG_SIGNATURE + chunk(b"IHDR", header) + chunk(b"IDAT", data[cut]) + chunk(b"IEND", b"")
    assert_same_outcome(damaged, "RGB")
    assert not isinstance(outcome(load_png, damaged, "RGB"), np.ndarray)
