"""A plain PNG's pixels, its image data inflated by zlib-ng and unfiltered by libspng.

libspng (pyspng) inflates with zlib 1.2: on the canvas PNGs (313 KB of pixels each) that took
0.35-0.62 of its 0.52-0.80 ms, where zlib-ng inflates the same streams in 0.05 ms. No PNG decoder
on PyPI is built on zlib-ng (Pillow's wheels are, but it inflates a row at a time, and took longer
than libspng), so here zlib-ng inflates, and libspng decodes a copy of the PNG whose image data is
stored uncompressed: it still does what numpy cannot do quickly (undo the Paeth and Average
filters, whose every pixel depends on its left neighbour), and reads stored data at the speed of
a copy.

Only what libspng reads is copied (IHDR, the image data, IEND), and only a PNG without interlacing:
the caller has checked the header's size, and the inflated data must be exactly as long as the
header says. Anything else is decoded by libspng from the bytes as sent.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pyspng
from zlib_ng import zlib_ng

from handler.mnist_container import PNG_SIGNATURE, png_chunks

CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}  # colour type -> samples per pixel (3, a palette, is not plain)


def chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def filtered_size(header: bytes) -> int | None:
    """How many bytes the image data inflates to (a filter byte per row, then its samples), or
    None for an interlaced PNG or a colour type this does not take."""
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header[:13])
    if interlace or colour not in CHANNELS:
        return None
    return height * (1 + (width * CHANNELS[colour] * depth + 7) // 8)


def with_stored_data(data: bytes) -> bytes | None:
    """``data`` with its image data inflated and stored uncompressed, or None where that does not apply."""
    header, compressed = None, []
    for kind, body in png_chunks(data):
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            compressed.append(body)
    size = filtered_size(header) if header is not None and len(header) == 13 else None
    if size is None:
        return None
    inflater = zlib_ng.decompressobj()
    filtered = inflater.decompress(b"".join(compressed), size + 1)
    if len(filtered) != size or not inflater.eof:
        return None  # short, long or truncated: libspng says what is wrong with the bytes as sent
    return PNG_SIGNATURE + chunk(b"IHDR", header) + chunk(b"IDAT", zlib_ng.compress(filtered, 0)) + chunk(b"IEND", b"")


def load_png(data: bytes, mode: str) -> np.ndarray:
    """The pixels of the plain PNG ``data`` in ``mode`` ("L", "RGB" or "RGBA"), as pyspng.load gives them."""
    try:
        stored = with_stored_data(data)
    except (zlib_ng.error, struct.error):
        stored = None
    return pyspng.load(stored if stored is not None else data, mode)
