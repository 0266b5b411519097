"""An image too large for TorchServe's request limit, re-encoded smaller so that it fits.

TorchServe's ``max_request_size`` is sized for canvases (config.properties: it is what bounds the
form parsing TorchServe does before any handler runs), so the web front sends a phone photo this
way. The image is decoded by the handler's own ``decode_image`` (the same limits and budget, the
working size, EXIF orientation applied), turned grey (the ink is all the model reads; transparency
is kept), and written at halving sizes until it fits: JPEG for a photo, PNG where there is
transparency. The answer's boxes are then scaled back to the client's pixels (``boxes_scaled``).
"""

from __future__ import annotations

import io
import math

from PIL import Image

from handler.mnist_errors import BadInput
from handler.mnist_preprocess import MIN_SIDE, decode_image, has_transparency, is_wide_grey

# Grey JPEG quality for photos: paper grain compresses poorly losslessly, and at this quality a
# 1024-pixel photo of a digit is about 100-200 KB with its strokes' edges intact.
JPEG_QUALITY = 90


def grey(image: Image.Image) -> Image.Image:
    """8-bit grey, with alpha where the image has transparency."""
    if has_transparency(image):
        return image.convert("LA")  # applies a palette's or a colour key's transparency
    if is_wide_grey(image):  # on the 16-bit scale, as gray_and_alpha reads it
        return image.convert("I").point(lambda value: value / 257).convert("L")
    return image.convert("L")


def encoded(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    if image.mode == "LA":
        image.save(buffer, format="PNG", optimize=False)
    else:
        image.save(buffer, format="JPEG", quality=JPEG_QUALITY)
    return buffer.getvalue()


def shrunk_to_fit(data: bytes, limit: int) -> tuple[bytes, tuple[float, float]]:
    """``data`` re-encoded in at most ``limit`` bytes, and the (x, y) factors from its pixels to the
    client's. Raises ``BadInput`` as the handler would for an image it cannot read."""
    image, (width, height) = decode_image(data)
    image = grey(image)
    while len(smaller := encoded(image)) > limit:
        if min(image.size) // 2 < MIN_SIDE:
            raise BadInput(f"the image cannot be made smaller than {limit:,} bytes and stay legible", 413)
        image = image.reduce(2)
    return smaller, (width / image.width, height / image.height)


def boxes_scaled(answer: dict, factors: tuple[float, float]) -> dict:
    """``answer`` with each symbol's box (left, top, right, bottom) multiplied by ``factors``, out to
    whole pixels that still cover the ink."""
    fx, fy = factors
    for symbol in answer.get("digits", []):
        left, top, right, bottom = symbol["box"]
        symbol["box"] = [int(left * fx), int(top * fy), math.ceil(right * fx), math.ceil(bottom * fy)]
    return answer
