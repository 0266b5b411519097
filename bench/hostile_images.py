"""The hostile and the unusual-but-valid images of the second attack round (issue 9), built here
from real MNIST digits, for the decoder's unit tests and for the tests against TorchServe."""

from __future__ import annotations

import functools
import io
import struct
import zlib

import numpy as np
from PIL import Image

from bench.image_mutations import jpeg_parts, png_chunks, png_join
from bench.mnist_samples import one_of_each_digit


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def digit_image(digit: int, scale: int, dark_on_light: bool = True) -> Image.Image:
    """A real MNIST test digit, ``scale`` times its size, as RGB (a photo of a written digit)."""
    pixels = np.kron(one_of_each_digit()[digit][1], np.ones((scale, scale), np.uint8))
    return Image.fromarray(255 - pixels if dark_on_light else pixels).convert("RGB")


def png_with_chunk_after_image_data(kind: bytes, body: bytes) -> bytes:
    """A real digit PNG with one more chunk between its last IDAT and IEND (Pillow reads it in load())."""
    chunks = png_chunks(encode(digit_image(4, 6).convert("L"), "PNG"))
    return png_join(chunks[:-1] + [(kind, body)] + chunks[-1:])


def png_with_many_chunks(count: int) -> bytes:
    chunks = png_chunks(encode(digit_image(4, 6).convert("L"), "PNG"))
    return png_join(chunks[:1] + [(b"tEXt", b"k\0v")] * count + chunks[1:])


@functools.lru_cache(maxsize=4)
def progressive_jpeg_with_scans(extra_scans: int, width: int = 4096, height: int = 4096) -> bytes:
    """The attack's file: a large progressive JPEG whose smallest scan is repeated ``extra_scans`` times.

    Every header check passes (a valid frame, sizes as declared); libjpeg then re-walks all the
    coefficients for each repeated scan.
    """
    image = digit_image(2, 1).resize((width, height))
    parts = jpeg_parts(encode(image, "JPEG", quality=5, progressive=True))
    smallest = min((part for part in parts if part[:2] == b"\xff\xda"), key=len)
    return b"".join(parts[:-1] + [smallest] * extra_scans + parts[-1:])


def gif_with_many_extensions(count: int) -> bytes:
    """A real digit GIF with ``count`` empty application extensions before its image."""
    data = encode(digit_image(6, 6).convert("L"), "GIF")
    flags = data[10]
    header = 13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)
    return data[:header] + b"!\xff\x00" * count + data[header:]


def tiff_with_many_tags(count: int) -> bytes:
    """A little-endian TIFF whose first directory has ``count`` entries."""
    entry = struct.pack("<HHII", 305, 2, 4, 0x41414141)  # Software = "AAAA"
    return b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", count) + entry * count + b"\0\0\0\0"


def cielab_tiff() -> bytes:
    return encode(digit_image(8, 6).convert("LAB"), "TIFF")


def mpo_photo() -> bytes:
    """A phone camera's multi-picture JPEG of a written digit (two pictures, as a stereo pair)."""
    photo = digit_image(9, 10)
    return encode(photo, "MPO", save_all=True, append_images=[photo.rotate(2)])


def phone_photo_jpeg() -> bytes:
    """A 12-megapixel (4032x3024) photo of a digit written dark on light paper."""
    photo = digit_image(5, 1).resize((2268, 2268)).convert("RGB")
    paper = Image.new("RGB", (4032, 3024), (235, 232, 225))
    paper.paste(photo, (882, 378))
    return encode(paper, "JPEG", quality=90)


def zlib_bomb_png_text(count: int) -> bytes:
    """A real digit PNG with ``count`` zTXt chunks of 1 MB of zeros each, compressed to 1 KB."""
    bomb = b"k\0\0" + zlib.compress(b"\0" * 1_000_000, 9)
    chunks = png_chunks(encode(digit_image(4, 6).convert("L"), "PNG"))
    return png_join(chunks[:1] + [(b"zTXt", bomb)] * count + chunks[1:])


def gif_with_bytes_pillow_skips(count: int) -> bytes:
    """A real digit GIF with ``count`` bytes that are no block before its image: Pillow skips them
    one Python loop at a time (found by the fuzzer: 400 KB took 220 ms before the walker counted them)."""
    data = encode(digit_image(6, 6).convert("L"), "GIF")
    flags = data[10]
    header = 13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)
    return data[:header] + b"x" * count + data[header:]


def thin_jpeg(width: int, height: int) -> bytes:
    """A JPEG so long and thin that, reduced to the working size, it is under MIN_SIDE across (found
    by the fuzzer: a 32767x168 frame header)."""
    return encode(digit_image(1, 1).resize((width, height)), "JPEG", quality=50)


def noise(width: int, height: int, mode: str, density: float, seed: int = 0) -> Image.Image:
    """Random strokes over a dark field: incompressible where ``density`` is high."""
    rng = np.random.default_rng(seed)
    bands = {"L": 1, "RGB": 3, "RGBA": 4, "CMYK": 4}[mode]
    pixels = (rng.random((height, width, bands)) * 255).astype(np.uint8)
    pixels[rng.random((height, width)) > density] = 0
    return Image.fromarray(pixels[..., 0] if bands == 1 else pixels, "RGB" if mode == "CMYK" else mode).convert(mode)


def worst_cases_at_the_limits() -> dict[str, bytes]:
    """For each decoder, the costliest input we know that still passes every check: the largest
    dimensions allowed, about 1-1.5 MB of data (the limit is 1.5 MiB), the most scans and chunks
    allowed. Densities and qualities were chosen to land just under the byte limit."""
    from handler.mnist_container import MAX_JPEG_SCANS, MAX_PNG_CHUNKS  # noqa: PLC0415 - the handler's own limits

    photo = noise(4096, 3072, "RGB", 0.004)
    parts = jpeg_parts(encode(photo, "JPEG", quality=75, progressive=True, subsampling=0))
    scans = [part for part in parts if part[:2] == b"\xff\xda"]
    most_scans = b"".join(parts[:-1] + [min(scans, key=len)] * (MAX_JPEG_SCANS - len(scans)) + parts[-1:])
    square = noise(2048, 2048, "RGBA", 0.04)
    chunks = png_chunks(encode(square, "PNG"))
    return {
        "progressive 4:4:4 JPEG 4096x3072 with the most scans allowed": most_scans,
        "baseline 4:4:4 JPEG 4096x3072": encode(photo, "JPEG", quality=75, subsampling=0),
        "progressive CMYK JPEG 4096x3072": encode(noise(4096, 3072, "CMYK", 0.002), "JPEG", quality=75,
                                                  progressive=True),
        "PNG 2048x2048 RGBA with the most chunks allowed": png_join(
            chunks[:1] + [(b"tEXt", b"k\0v")] * (MAX_PNG_CHUNKS - len(chunks)) + chunks[1:]),
        "lossless WebP 2048x2048 RGBA": encode(square, "WEBP", lossless=True),
        "lossy WebP 2048x2048 RGBA": encode(noise(2048, 2048, "RGBA", 0.03), "WEBP", quality=90),
        "GIF 2048x2048": encode(noise(2048, 2048, "L", 0.08), "GIF"),
        "LZW TIFF 2048x2048 RGBA": encode(square, "TIFF", compression="tiff_lzw"),
        "BMP 1024x1024 (uncompressed, 8-bit)": encode(noise(1024, 1024, "L", 0.05), "BMP"),
    }


# Valid images that were misread or refused, and what their fixes must still refuse
# (tests/reliability/test_odd_images.py).

# EXIF orientation -> how a camera held that way stores an upright scene: the inverse of the turn
# that shows the stored pixels upright.
STORED_FOR_ORIENTATION = {1: None, 2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
                          4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
                          6: Image.Transpose.ROTATE_90, 7: Image.Transpose.TRANSVERSE, 8: Image.Transpose.ROTATE_270}


def paper_photo(digit: int, size: tuple[int, int] = (3024, 4032), digit_side: int = 2000) -> Image.Image:
    """A real MNIST digit written big, dark on light paper, upright; by default a phone's 12-megapixel
    portrait photo."""
    written = Image.fromarray(255 - one_of_each_digit()[digit][1]).resize((digit_side, digit_side),
                                                                         Image.Resampling.BILINEAR)
    paper = Image.new("RGB", size, (235, 232, 225))
    paper.paste(written.convert("RGB"), ((size[0] - digit_side) // 2, (size[1] - digit_side) // 2))
    return paper


def oriented_jpeg(upright: Image.Image, orientation: int) -> bytes:
    """``upright`` as a camera held at EXIF ``orientation`` saves it: pixels turned, the tag saying how
    to turn them back."""
    turn = STORED_FOR_ORIENTATION[orientation]
    exif = Image.Exif()
    exif[0x0112] = orientation
    return encode(upright if turn is None else upright.transpose(turn), "JPEG", quality=90, exif=exif)


def mp_index_entries(data: bytes) -> tuple[str, int, int]:
    """The byte order, the start and the first directory of an MPO's MP index (a little TIFF)."""
    start = data.index(b"MPF\0") + 4
    order = "<" if data[start:start + 2] == b"II" else ">"
    return order, start, start + struct.unpack_from(order + "I", data, start + 4)[0]


def mpo_claiming_more_pictures_than_listed(extra: int = 1) -> bytes:
    """``mpo_photo`` whose MP index says it holds ``extra`` pictures more than its entry list has:
    Pillow refuses it at open, its first picture intact."""
    data = mpo_photo()
    order, _, directory = mp_index_entries(data)
    for index in range(struct.unpack_from(order + "H", data, directory)[0]):
        entry = directory + 2 + 12 * index
        if struct.unpack_from(order + "H", data, entry)[0] == 0xB001:  # NumberOfImages, a LONG
            count = struct.unpack_from(order + "I", data, entry + 8)[0]
            return data[:entry + 8] + struct.pack(order + "I", count + extra) + data[entry + 12:]
    raise ValueError("the MP index has no NumberOfImages")


def mpo_cut_after_first_picture() -> bytes:
    """``mpo_photo`` with its second picture missing, as when a transfer stops after the first."""
    data = mpo_photo()
    first = Image.open(io.BytesIO(data)).mpinfo[0xB002][0]
    return data[:first["Size"]]


def with_tiff_segment(jpeg: bytes, count: int, marker: int = 0xE1, signature: bytes = b"Exif\0\0") -> bytes:
    """``jpeg`` with one more segment (EXIF by default; 0xE2 and b"MPF\\0" for an MP index) as large as a
    segment can be, holding a TIFF directory of ``count`` tags whose data are each the whole directory:
    Pillow copies each tag's data when it opens the file (5,400 took 250 ms)."""
    size = 0xFFFF - 2 - len(signature)  # the length field counts itself
    entries = b"".join(struct.pack("<HHII", 40000 + index, 7, size, 0) for index in range(count))
    tiff = (b"II*\0" + struct.pack("<I", 8) + struct.pack("<H", count) + entries + b"\0\0\0\0").ljust(size, b"\0")
    return jpeg[:2] + bytes([0xFF, marker]) + struct.pack(">H", 2 + len(signature) + size) + signature + tiff + jpeg[2:]


def transparent_canvas_with(pixels: dict[tuple[int, int], int], ink_rgb=(0, 0, 0), side: int = 280) -> bytes:
    """A browser canvas (RGBA PNG, fully transparent) holding only ``pixels``: (x, y) -> alpha."""
    canvas = np.zeros((side, side, 4), np.uint8)
    canvas[..., :3] = ink_rgb
    for (x, y), alpha in pixels.items():
        canvas[y, x, 3] = alpha
    return encode(Image.fromarray(canvas, "RGBA"), "PNG")
