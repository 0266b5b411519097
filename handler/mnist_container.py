"""Count the parts of an encoded image before any pixel is decoded, and refuse what no drawing needs.

Pillow and its C decoders spend time per part of a file, not per byte: a progressive JPEG with
40,000 scans of 2 bytes each re-walks the whole picture 40,000 times, a GIF of a million empty
extension blocks is parsed block by block in Python. Header checks of width and height do not see
either. These walkers read only the framing (segment lengths, chunk lengths, block lengths), stop
as soon as a count is over its limit, and so cost at most a few milliseconds whatever the input.

Each limit is far above what any encoder writes for a single picture (libjpeg's progressive
script has 10 scans, a phone's EXIF and ICC segments are a dozen, libpng writes 8 KB IDAT chunks).

A JPEG's EXIF segment and a multi-picture JPEG's MP index are each a little TIFF directory, which
Pillow parses when it opens the file, copying each tag's data: 5,000 tags pointing at the same
64 KB took 250 ms. Their tags are counted like a TIFF's (a camera writes a dozen or two).
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterator

from handler.mnist_errors import BadInput

MAX_JPEG_SCANS = 32
MAX_JPEG_SEGMENTS = 512
MAX_PNG_CHUNKS = 4096
MAX_GIF_BLOCKS = 20_000
MAX_TIFF_TAGS = 512

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# In entropy-coded JPEG data 0xFF is followed by 0x00 (a stuffed byte), a restart marker D0-D7 or
# another 0xFF (fill); anything else is the next segment's marker.
JPEG_NEXT_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
JPEG_SOS, JPEG_EOI = 0xDA, 0xD9
JPEG_STANDALONE = {0x01, *range(0xD0, 0xD8)}
# Segments that hold a TIFF directory after a signature: marker -> (signature, what the directory is).
JPEG_TIFF_SEGMENTS = {0xE1: (b"Exif\0\0", "EXIF"), 0xE2: (b"MPF\0", "MP index")}


def refuse(what: str, count: int, limit: int) -> BadInput:
    return BadInput(f"the image has over {limit:,} {what} (counted {count:,} before stopping); "
                    "no drawing or photo needs that many")


def check_jpeg(data: bytes) -> None:
    """Scans and segments of the first picture (an MPO's later pictures are never decoded)."""
    position, segments, scans = 2, 0, 0
    while position + 4 <= len(data):
        if data[position] != 0xFF:
            return  # not a marker: the decoder reports the corruption
        marker = data[position + 1]
        if marker == 0xFF:
            position += 1
            continue
        if marker == JPEG_EOI:
            return
        if marker in JPEG_STANDALONE:
            position += 2
            continue
        segments += 1
        if segments > MAX_JPEG_SEGMENTS:
            raise refuse("JPEG segments", segments, MAX_JPEG_SEGMENTS)
        end = position + 2 + int.from_bytes(data[position + 2:position + 4], "big")
        if marker in JPEG_TIFF_SEGMENTS:
            check_embedded_tiff(data[position + 4:end], *JPEG_TIFF_SEGMENTS[marker])
        position = end
        if marker == JPEG_SOS:
            scans += 1
            if scans > MAX_JPEG_SCANS:
                raise refuse("JPEG scans", scans, MAX_JPEG_SCANS)
            following = JPEG_NEXT_MARKER.search(data, position)
            if following is None:
                return
            position = following.start()


def png_chunks(data: bytes) -> Iterator[tuple[bytes, memoryview]]:
    """Each (type, body) of a PNG after its signature, in order, until IEND or the data ends; the
    bodies are views of ``data``, not copies."""
    view, position = memoryview(data), len(PNG_SIGNATURE)
    while position + 8 <= len(data):
        length, kind = struct.unpack_from(">I4s", data, position)
        yield kind, view[position + 8:position + 8 + length]
        if kind == b"IEND":
            return
        position += 12 + length


def check_png(data: bytes) -> None:
    """Chunks, including those after the image data (Pillow reads them too)."""
    for chunks, _ in enumerate(png_chunks(data), start=1):
        if chunks > MAX_PNG_CHUNKS:
            raise refuse("PNG chunks", chunks, MAX_PNG_CHUNKS)


def skip_gif_sub_blocks(data: bytes, position: int, blocks: int) -> tuple[int, int]:
    while position < len(data):
        size = data[position]
        position += 1 + size
        blocks += 1
        if blocks > MAX_GIF_BLOCKS:
            raise refuse("GIF blocks", blocks, MAX_GIF_BLOCKS)
        if size == 0:
            break
    return position, blocks


def check_gif(data: bytes) -> None:
    """Extension blocks and data sub-blocks up to the end of the first frame."""
    if len(data) < 13:
        return
    flags = data[10]
    position = 13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)
    blocks = 0
    while position < len(data):
        introducer = data[position]
        if introducer == 0x21:  # extension: label, then sub-blocks
            position, blocks = skip_gif_sub_blocks(data, position + 2, blocks + 1)
        elif introducer == 0x2C:  # image descriptor, local colour table, LZW code size, sub-blocks
            if position + 10 > len(data):
                return
            local = data[position + 9]
            position += 10 + (3 << ((local & 7) + 1) if local & 0x80 else 0) + 1
            skip_gif_sub_blocks(data, position, blocks)
            return
        elif introducer == 0x3B:  # trailer
            return
        else:  # Pillow skips an unknown byte and reads on, one Python loop per byte
            position += 1
            blocks += 1
            if blocks > MAX_GIF_BLOCKS:
                raise refuse("GIF blocks", blocks, MAX_GIF_BLOCKS)


def first_directory_tags(data: bytes) -> int:
    """How many tags the first directory of a TIFF structure declares (0 where it cannot be read)."""
    if len(data) < 16:
        return 0
    order = "<" if data[:2] == b"II" else ">"
    if struct.unpack_from(order + "H", data, 2)[0] == 43:  # BigTIFF: 8-byte offsets, 8-byte counts
        offset = struct.unpack_from(order + "Q", data, 8)[0]
        count_format = order + "Q"
    else:
        offset = struct.unpack_from(order + "I", data, 4)[0]
        count_format = order + "H"
    if offset + struct.calcsize(count_format) > len(data):
        return 0
    return struct.unpack_from(count_format, data, offset)[0]


def check_tiff(data: bytes) -> None:
    """Tags of the first directory (Pillow parses each in Python; a picture needs a few dozen)."""
    tags = first_directory_tags(data)
    if tags > MAX_TIFF_TAGS:
        raise refuse("TIFF tags in its first directory", tags, MAX_TIFF_TAGS)


def check_embedded_tiff(segment: bytes, signature: bytes, kind: str) -> None:
    """Tags of the TIFF directory a JPEG segment holds after ``signature`` (its EXIF or MP index)."""
    if segment.startswith(signature):
        tags = first_directory_tags(segment[len(signature):])
        if tags > MAX_TIFF_TAGS:
            raise refuse(f"{kind} tags in one JPEG segment", tags, MAX_TIFF_TAGS)


SIGNATURES = ((b"\xff\xd8", check_jpeg), (PNG_SIGNATURE, check_png), (b"GIF8", check_gif),
              (b"II*\x00", check_tiff), (b"MM\x00*", check_tiff), (b"II+\x00", check_tiff), (b"MM\x00+", check_tiff))


def check_structure(data: bytes) -> None:
    """Raise ``BadInput`` if ``data`` has too many parts; called before Pillow opens it, because
    opening already walks the segments of a JPEG, the chunks of a PNG and the blocks of a GIF."""
    for signature, check in SIGNATURES:
        if data.startswith(signature):
            check(data)
            return
