"""Structure-aware mutation of valid PNG, JPEG, GIF, WebP and TIFF files, for the image fuzzer.

Each format is split into its parts (PNG chunks, JPEG segments and scans, GIF blocks, RIFF chunks,
TIFF directory entries), and a mutation inserts, duplicates, reorders, drops or truncates parts, or
lies in a length or size field, then puts the file back together with valid checksums where the
format has them, so that the decoder goes past its first check. Byte-level mutations (bit flips,
interesting integers, truncation, splices) cover what the structure does not.

Everything is deterministic for a given ``random.Random``, so a finding is reproduced by its seed.
"""

from __future__ import annotations

import functools
import io
import random
import struct
import zlib
from collections.abc import Callable

import numpy as np
from PIL import Image

from bench.canvas_png import canvas_png
from bench.mnist_samples import one_of_each_digit

INTERESTING_16 = (0, 1, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF)
INTERESTING_32 = (0, 1, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0xFFFF, 0x10000, 100_000, 65_500)
PNG_CHUNK_TYPES = (b"IHDR", b"PLTE", b"IDAT", b"IEND", b"gAMA", b"iCCP", b"sRGB", b"cHRM", b"tRNS", b"bKGD",
                   b"pHYs", b"sBIT", b"tEXt", b"zTXt", b"iTXt", b"tIME", b"eXIf", b"acTL", b"fcTL", b"fdAT",
                   b"hIST", b"sPLT", b"oFFs", b"zzZz")
JPEG_MARKERS = (0xC0, 0xC1, 0xC2, 0xC4, 0xDB, 0xDA, 0xDD, 0xE0, 0xE1, 0xE2, 0xEE, 0xFE, 0xDC, 0xC8, 0xCC, 0xF7)
RIFF_CHUNK_TYPES = (b"VP8 ", b"VP8L", b"VP8X", b"ANIM", b"ANMF", b"ALPH", b"ICCP", b"EXIF", b"XMP ", b"JUNK")
# Stacked mutations can multiply a file's size; a little over the handler's byte limit is enough to
# test that limit too.
LARGEST_CASE_BYTES = 2 * 1024 * 1024
TIFF_TAGS = (256, 257, 258, 259, 262, 273, 277, 278, 279, 284, 317, 320, 322, 323, 324, 325, 338, 339, 530, 532)


def repeated(parts: list, count: int) -> list:
    """``parts * count``, but never much more than the largest case in bytes."""
    size = sum(len(part[1]) + 12 if isinstance(part, tuple) else len(part) for part in parts) or 1
    return parts * min(count, LARGEST_CASE_BYTES // size + 1)


def encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


@functools.lru_cache(maxsize=1)
def seed_images() -> dict[str, bytes]:
    """Valid files of real MNIST digits, one for each format and common variant."""
    digits = one_of_each_digit()
    canvas = Image.open(io.BytesIO(canvas_png(digits[7][1])))  # the page's RGBA canvas
    grey = Image.fromarray(np.kron(digits[3][1], np.ones((6, 6), np.uint8)))  # 168x168, light on dark
    photo = Image.fromarray(255 - np.kron(digits[5][1], np.ones((20, 20), np.uint8))).convert("RGB")
    frames = [grey, Image.fromarray(np.kron(digits[1][1], np.ones((6, 6), np.uint8)))]
    # At the size limits: a 12-megapixel phone photo, and a 2048-pixel square drawing.
    phone = Image.fromarray(255 - np.kron(digits[2][1], np.ones((108, 108), np.uint8))).convert("RGB")
    phone = phone.crop((0, 0, 3024, 3024)).resize((4032, 3024))
    large = Image.fromarray(np.kron(digits[8][1], np.ones((73, 73), np.uint8))).resize((2048, 2048))
    return {
        "png-canvas": canvas_png(digits[7][1]),
        "png-grey": encode(grey, "PNG"),
        "png-palette": encode(grey.convert("P"), "PNG", transparency=0),
        "png-16bit": encode(Image.fromarray(np.asarray(grey, np.uint16) * 257), "PNG"),
        "png-animated": encode(frames[0], "PNG", save_all=True, append_images=frames[1:]),
        "jpeg-baseline": encode(photo, "JPEG", quality=90),
        "jpeg-progressive": encode(photo, "JPEG", quality=80, progressive=True),
        "jpeg-grey-restart": encode(grey, "JPEG", quality=85, restart_marker_blocks=4),
        "jpeg-cmyk": encode(photo.convert("CMYK"), "JPEG"),
        "mpo": encode(photo, "MPO", save_all=True, append_images=[photo.rotate(3)]),
        "gif": encode(grey, "GIF"),
        "gif-animated": encode(frames[0], "GIF", save_all=True, append_images=frames[1:], loop=0),
        "webp-lossy": encode(canvas, "WEBP", quality=80),
        "webp-lossless": encode(grey, "WEBP", lossless=True),
        "webp-animated": encode(frames[0].convert("RGB"), "WEBP", save_all=True, append_images=frames[1:]),
        "tiff-raw": encode(grey, "TIFF"),
        "tiff-lzw": encode(photo, "TIFF", compression="tiff_lzw"),
        "tiff-deflate-rgba": encode(canvas, "TIFF", compression="tiff_adobe_deflate"),
        "tiff-jpeg": encode(photo, "TIFF", compression="jpeg"),
        "bmp": encode(grey, "BMP"),
        "jpeg-phone-progressive": encode(phone, "JPEG", quality=70, progressive=True),
        "png-large": encode(large, "PNG"),
        "gif-large": encode(large, "GIF"),
        "webp-large": encode(large, "WEBP", lossless=True),
        "tiff-large-lzw": encode(large, "TIFF", compression="tiff_lzw"),
    }


# --- PNG: 8-byte signature, then chunks of (length, type, data, CRC) -------------------------

def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    chunks, position = [], 8
    while position + 8 <= len(data):
        length, kind = struct.unpack_from(">I4s", data, position)
        chunks.append((kind, data[position + 8:position + 8 + length]))
        position += 12 + length
    return chunks


def png_join(chunks: list[tuple[bytes, bytes]], lie: dict[int, int] | None = None) -> bytes:
    out = [b"\x89PNG\r\n\x1a\n"]
    for index, (kind, body) in enumerate(chunks):
        length = (lie or {}).get(index, len(body))
        out.append(struct.pack(">I", length & 0xFFFFFFFF) + kind + body
                   + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))
    return b"".join(out)


@functools.lru_cache(maxsize=8)
def compressed_zeros(count: int) -> bytes:
    return zlib.compress(b"\0" * count, 9)


def random_png_body(rng: random.Random, kind: bytes) -> bytes:
    if kind in (b"zTXt", b"iCCP"):
        choices = [b"", b"name", b"name\0", b"name\0\0" + compressed_zeros(rng.choice((10, 10**5, 10**6))),
                   b"name\0\x01" + rng.randbytes(20)]
        return rng.choice(choices)
    if kind in (b"acTL", b"fcTL"):
        return struct.pack(">" + "I" * (2 if kind == b"acTL" else 6), *[rng.choice(INTERESTING_32)
                                                                          for _ in range(2 if kind == b"acTL" else 6)])
    return rng.choice([b"", rng.randbytes(rng.randrange(1, 64)), b"\0" * rng.randrange(1, 16)])


CHUNK_LIST_EDITS = ("swap", "drop", "truncate")


def edit_chunk_list(chunks: list[tuple[bytes, bytes]], action: str, index: int, rng: random.Random) -> None:
    """The edits PNG's and RIFF's (type, body) chunk lists share: swap two, drop one, cut one's body."""
    if action == "swap":
        other = rng.randrange(len(chunks))
        chunks[index], chunks[other] = chunks[other], chunks[index]
    elif action == "drop":
        del chunks[index]
    else:
        kind, body = chunks[index]
        chunks[index] = (kind, body[:rng.randrange(len(body) + 1)])


def mutate_png(data: bytes, rng: random.Random) -> bytes:
    chunks = png_chunks(data)
    if not chunks:
        return data
    action = rng.choice(("insert", "duplicate", "swap", "drop", "truncate", "lie", "many", "ihdr"))
    index = rng.randrange(len(chunks))
    lie = None
    if action == "insert":
        kind = rng.choice(PNG_CHUNK_TYPES)
        chunks.insert(rng.randrange(len(chunks) + 1), (kind, random_png_body(rng, kind)))
    elif action == "duplicate":
        chunks.insert(index, chunks[index])
    elif action in CHUNK_LIST_EDITS:
        edit_chunk_list(chunks, action, index, rng)
    elif action == "lie":
        lie = {index: rng.choice(INTERESTING_32 + (len(chunks[index][1]) + rng.randrange(-8, 9),))}
    elif action == "many":  # a flood of small chunks, before or after the image data
        kind = rng.choice(PNG_CHUNK_TYPES[4:])
        chunks[index:index] = repeated([(kind, random_png_body(rng, kind))], rng.choice((100, 1000, 5000, 20000)))
    else:  # IHDR fields: width, height, depth, colour type, compression, filter, interlace
        fields = list(struct.unpack(">IIBBBBB", chunks[0][1][:13].ljust(13, b"\0")))
        position = rng.randrange(7)
        fields[position] = rng.choice(INTERESTING_32) if position < 2 else rng.choice((0, 1, 2, 3, 4, 6, 8, 16, 255))
        chunks[0] = (b"IHDR", struct.pack(">IIBBBBB", *fields))
    return png_join(chunks, lie)


# --- JPEG: markers with lengths; entropy-coded data after each SOS -----------------------------

def jpeg_parts(data: bytes) -> list[bytes]:
    """The file cut at each marker: SOI, each segment (with its scan data after an SOS), EOI."""
    from handler.mnist_container import JPEG_NEXT_MARKER  # noqa: PLC0415 - the handler's own definition

    parts, position = [data[:2]], 2
    while position + 4 <= len(data) and data[position] == 0xFF:
        marker = data[position + 1]
        if marker == 0xD9:
            break
        end = position + 2 + int.from_bytes(data[position + 2:position + 4], "big")
        if marker == 0xDA:
            following = JPEG_NEXT_MARKER.search(data, end)
            end = following.start() if following else len(data)
        parts.append(data[position:end])
        position = end
    parts.append(data[position:])
    return parts


def mutate_jpeg(data: bytes, rng: random.Random) -> bytes:
    parts = jpeg_parts(data)
    middle = list(range(1, len(parts) - 1)) or [0]
    index = rng.choice(middle)
    action = rng.choice(("insert", "duplicate", "swap", "drop", "truncate", "lie", "scans", "sof"))
    if action == "insert":
        marker = rng.choice(JPEG_MARKERS)
        body = rng.choice((b"", rng.randbytes(rng.randrange(1, 40)), b"\0" * 64))
        parts.insert(index, bytes((0xFF, marker)) + struct.pack(">H", len(body) + 2) + body)
    elif action == "duplicate":
        parts.insert(index, parts[index])
    elif action == "swap":
        other = rng.choice(middle)
        parts[index], parts[other] = parts[other], parts[index]
    elif action == "drop" and len(parts) > 2:
        del parts[index]
    elif action == "truncate":
        parts[index] = parts[index][:rng.randrange(len(parts[index]) + 1)]
    elif action == "lie" and len(parts[index]) >= 4:
        parts[index] = parts[index][:2] + struct.pack(">H", rng.choice(INTERESTING_16)) + parts[index][4:]
    elif action == "scans":  # the smallest scan, repeated: each one re-walks the coefficients
        scans = [part for part in parts if part[:2] == b"\xff\xda"] or [parts[index]]
        parts[-1:-1] = repeated([min(scans, key=len)], rng.choice((10, 33, 100, 1000, 40000)))
    else:  # frame header: precision, height, width, components
        frames = [i for i, part in enumerate(parts) if part[:2] in (b"\xff\xc0", b"\xff\xc1", b"\xff\xc2")]
        if frames:
            frame = bytearray(parts[frames[0]])
            offset = rng.choice((4, 5, 7, 9))
            if offset in (5, 7):
                frame[offset:offset + 2] = struct.pack(">H", rng.choice(INTERESTING_16))
            else:
                frame[offset] = rng.choice((0, 1, 3, 4, 8, 12, 16, 255))
            parts[frames[0]] = bytes(frame)
    return b"".join(parts)


# --- GIF: header and screen descriptor, then blocks; RIFF (WebP) chunks; TIFF directories ------

def mutate_gif(data: bytes, rng: random.Random) -> bytes:
    if len(data) < 13:
        return data
    head, tail = data[:13], data[13:]
    action = rng.choice(("screen", "extensions", "frames", "truncate", "comment"))
    if action == "screen":
        field = bytearray(head)
        offset = rng.choice((6, 8, 10))
        if offset == 10:
            field[10] = rng.randrange(256)
        else:
            field[offset:offset + 2] = struct.pack("<H", rng.choice(INTERESTING_16))
        return bytes(field) + tail
    if action == "extensions":  # empty graphic-control or application extensions, many of them
        block = rng.choice((b"!\xf9\x04\x00\x00\x00\x00\x00", b"!\xff\x00", b"!\x01\x00"))
        position = data.find(b"!") if rng.random() < 0.5 and b"!" in tail else 13
        return data[:position] + b"".join(repeated([block], rng.choice((1, 100, 10_000, 300_000)))) + data[position:]
    if action == "frames":
        start = data.find(b",", 13)
        if start < 0:
            return data
        frame = data[start:-1]
        return data[:-1] + b"".join(repeated([frame], rng.choice((2, 50, 500)))) + data[-1:]
    if action == "comment":
        return head + b"!\xfe" + b"\x01x" * rng.choice((10, 100_000)) + b"\x00" + tail
    return data[:rng.randrange(len(data))]


def riff_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    chunks, position = [], 12
    while position + 8 <= len(data):
        kind, length = struct.unpack_from("<4sI", data, position)
        chunks.append((kind, data[position + 8:position + 8 + length]))
        position += 8 + length + (length & 1)
    return chunks


def riff_join(chunks: list[tuple[bytes, bytes]], lie: dict[int, int] | None = None, size_lie: int | None = None) -> bytes:
    body = b"".join(kind + struct.pack("<I", (lie or {}).get(i, len(part)) & 0xFFFFFFFF) + part + b"\0" * (len(part) & 1)
                    for i, (kind, part) in enumerate(chunks))
    size = len(body) + 4 if size_lie is None else size_lie
    return b"RIFF" + struct.pack("<I", size & 0xFFFFFFFF) + b"WEBP" + body


def mutate_webp(data: bytes, rng: random.Random) -> bytes:
    chunks = riff_chunks(data)
    if not chunks:
        return data
    index = rng.randrange(len(chunks))
    action = rng.choice(("insert", "duplicate", "swap", "drop", "truncate", "lie", "riff", "canvas"))
    lie = size_lie = None
    if action == "insert":
        chunks.insert(rng.randrange(len(chunks) + 1), (rng.choice(RIFF_CHUNK_TYPES), rng.randbytes(rng.randrange(0, 40))))
    elif action == "duplicate":
        chunks[index:index] = repeated([chunks[index]], rng.choice((1, 10, 1000)))
    elif action in CHUNK_LIST_EDITS:
        edit_chunk_list(chunks, action, index, rng)
    elif action == "lie":
        lie = {index: rng.choice(INTERESTING_32)}
    elif action == "riff":
        size_lie = rng.choice(INTERESTING_32)
    else:  # a VP8X canvas of any size (24-bit width-1 and height-1)
        flags = rng.choice((0, 0x02, 0x10, 0x12, 0x3E))
        width, height = rng.choice(((16384, 16384), (1, 1), (4000, 3000), (1 << 24, 1 << 24)))
        vp8x = bytes((flags, 0, 0, 0)) + ((width - 1) & 0xFFFFFF).to_bytes(3, "little") + \
            ((height - 1) & 0xFFFFFF).to_bytes(3, "little")
        chunks = [(b"VP8X", vp8x)] + [chunk for chunk in chunks if chunk[0] != b"VP8X"]
    return riff_join(chunks, lie, size_lie)


def mutate_tiff(data: bytes, rng: random.Random) -> bytes:
    """Rewrite one entry of the first directory, add entries, or point the directory elsewhere."""
    if len(data) < 8:
        return data
    order = "<" if data[:2] == b"II" else ">"
    offset = struct.unpack_from(order + "I", data, 4)[0]
    if offset + 2 > len(data):
        return data
    count = struct.unpack_from(order + "H", data, offset)[0]
    out = bytearray(data)
    action = rng.choice(("value", "type", "count", "tags", "offset", "pages"))
    entry = offset + 2 + 12 * rng.randrange(max(count, 1))
    if action == "value" and entry + 12 <= len(out):
        struct.pack_into(order + "I", out, entry + 8, rng.choice(INTERESTING_32 + (rng.randrange(len(data)),)))
    elif action == "type" and entry + 12 <= len(out):
        struct.pack_into(order + "H", out, entry + 2, rng.choice((0, 1, 2, 3, 4, 5, 7, 11, 12, 13, 16, 99)))
    elif action == "count" and entry + 12 <= len(out):
        struct.pack_into(order + "I", out, entry + 4, rng.choice(INTERESTING_32))
    elif action == "tags":  # a new directory at the end with many entries of known tags
        entries = rng.choice((5, 100, 600, 5000))
        directory = struct.pack(order + "H", entries & 0xFFFF) + b"".join(
            struct.pack(order + "HHII", rng.choice(TIFF_TAGS), rng.choice((3, 4)), 1, rng.choice(INTERESTING_32))
            for _ in range(entries)) + b"\0\0\0\0"
        struct.pack_into(order + "I", out, 4, len(out))
        out += directory
    elif action == "offset":
        struct.pack_into(order + "I", out, 4, rng.choice(INTERESTING_32 + (rng.randrange(len(data)),)))
    else:  # a chain of directories pointing at each other (and at themselves)
        next_offset = offset + 2 + 12 * count
        if next_offset + 4 <= len(out):
            struct.pack_into(order + "I", out, next_offset, offset)
    return bytes(out)


# --- Byte level ---------------------------------------------------------------------------------

def mutate_bytes(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    if not out:
        return data
    action = rng.choice(("flip", "byte", "int16", "int32", "truncate", "splice", "insert"))
    position = rng.randrange(len(out))
    if action == "flip":
        for _ in range(rng.choice((1, 2, 8, 32))):
            spot = rng.randrange(len(out))
            out[spot] ^= 1 << rng.randrange(8)
    elif action == "byte":
        out[position] = rng.choice((0, 1, 0x7F, 0x80, 0xFF))
    elif action == "int16" and position + 2 <= len(out):
        out[position:position + 2] = struct.pack(rng.choice("<>") + "H", rng.choice(INTERESTING_16))
    elif action == "int32" and position + 4 <= len(out):
        out[position:position + 4] = struct.pack(rng.choice("<>") + "I", rng.choice(INTERESTING_32))
    elif action == "truncate":
        del out[position:]
    elif action == "splice":
        length = rng.randrange(1, 256)
        out[position:position] = b"".join(repeated([bytes(out[rng.randrange(len(out)):][:length])], rng.choice((1, 4, 64))))
    else:
        out[position:position] = rng.randbytes(rng.randrange(1, 64))
    return bytes(out)


STRUCTURE = {"png": mutate_png, "mpo": mutate_jpeg, "jpeg": mutate_jpeg, "gif": mutate_gif,
             "webp": mutate_webp, "tiff": mutate_tiff, "bmp": mutate_bytes}


def mutator_for(seed_name: str) -> Callable[[bytes, random.Random], bytes]:
    return STRUCTURE[seed_name.split("-")[0]]


def mutated_case(index: int, run_seed: int) -> tuple[str, bytes]:
    """Case ``index`` of a run: a seed file with one to four mutations, mostly structural."""
    rng = random.Random(run_seed * 1_000_003 + index)
    names = sorted(seed_images())
    name = names[index % len(names)]
    data = seed_images()[name]
    structural = mutator_for(name)
    for _ in range(rng.choice((1, 1, 2, 3, 4))):
        try:
            data = structural(data, rng) if rng.random() < 0.75 else mutate_bytes(data, rng)
        except (IndexError, struct.error, ValueError):
            data = mutate_bytes(data, rng)  # an earlier mutation broke the structure this one walks
        data = data[:LARGEST_CASE_BYTES]
    return name, data
