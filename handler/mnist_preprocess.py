"""Image bytes in, one MNIST-style 1x28x28 tensor per written symbol out. Pure functions: no TorchServe here.

MNIST's own recipe, applied to whatever a client sends (a browser canvas is an RGBA PNG with a
transparent background, any size, the digit anywhere in it):

1. decode safely: size limits checked from the header before any pixel is decoded; a photo is
   turned upright as its EXIF orientation says;
2. composite transparency and fix polarity so that the ink is light on a dark background;
3. find the symbols the ink may hold (``mnist_segment``), left to right, for the reader to choose;
4. crop each to its ink, scale the longer side to 20 pixels with anti-aliasing, keeping the aspect
   ratio, and place it in a 28x28 field so that its centre of mass is at the centre.

Pixels stay in [0, 1]: the exported model normalises with the MNIST statistics itself.
"""

from __future__ import annotations

import base64
import io
import warnings
from dataclasses import dataclass

import numpy as np
import torch
from PIL import ExifTags, Image, JpegImagePlugin, PngImagePlugin, UnidentifiedImageError

from handler.mnist_container import check_structure
from handler.mnist_contract import MNIST_SIDE
from handler.mnist_errors import BadInput
from handler.mnist_png import load_png
from handler.mnist_resample import lanczos_resized
from handler.mnist_segment import Candidate, Segmentation, inked_extent, split_symbols

DIGIT_BOX = 20
# Limits of what a client may send, chosen for what drawings and phone photos need (docs/SECURITY.md):
# a canvas PNG is 5-30 KB, and a phone's 12-megapixel JPEG of a digit on paper (mostly plain
# paper) about 0.3-1.5 MB. The byte limit also sizes TorchServe's max_request_size (base64 is 4/3),
# which bounds the form parsing TorchServe does before the handler (config.properties).
MAX_IMAGE_BYTES = 3 * 512 * 1024
# JPEG (and MPO, a phone's multi-picture JPEG) is decoded in draft mode at 1/2 to 1/8 scale, so
# a 12-megapixel photo (4032x3024 either way up) costs little; the full-size coefficients of a
# progressive JPEG still take 2 bytes per sample, which bounds this at about 75 MB.
MAX_JPEG_PIXELS = 4096 * 3072
# Every other format is decoded at full size: a 2048-pixel square holds any drawing canvas and a
# phone's screenshot, at 4 bytes per pixel at most 17 MB.
MAX_PIXELS = 2048 * 2048
# Decoded images are reduced (averaging, by a whole factor) until the longer side is at most this:
# a digit needs 20 pixels and a number of several digits a few hundred, and everything after
# decoding works per pixel.
MAX_WORKING_SIDE = 1024
# Below this a side cannot hold a legible digit (MNIST's digits are 20 pixels tall).
MIN_SIDE = 8
ACCEPTED_FORMATS = {"PNG", "JPEG", "MPO", "GIF", "WEBP", "BMP", "TIFF"}
DRAFT_FORMATS = {"JPEG", "MPO"}
JPEG_START = b"\xff\xd8"
# A phone held sideways stores the pixels sideways and says in EXIF how to show them. Only JPEG's is
# read: what cameras write, and its EXIF is one segment whose tags mnist_container has counted.
# Pillow's parsing of a PNG's or WebP's EXIF has no bound (a WebP's 1.4 MB EXIF of 65,000 tags ran
# this machine out of memory).
ORIENTED_FORMATS = {"JPEG", "MPO"}
# EXIF orientation -> the transpose that shows the picture upright (Pillow's ImageOps.exif_transpose
# has the same table, but transposes the image it is given: here that is the reduced one).
UPRIGHT = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
           5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
           8: Image.Transpose.ROTATE_90}
# The orientations that swap width and height.
SIDEWAYS = {5, 6, 7, 8}
# The pixel modes the steps after decoding can convert to grey and alpha; a decoder may produce
# others (a CIELab TIFF gives "LAB", which Pillow cannot convert to grey).
DECODED_MODES = {"1", "L", "LA", "La", "P", "PA", "RGB", "RGBA", "RGBa", "RGBX", "CMYK", "YCbCr", "HSV",
                 "I", "I;16", "I;16B", "I;16L", "I;16N", "F"}
# Modes with an alpha channel (a palette or grey image may carry transparency in its info instead).
TRANSPARENT_MODES = {"RGBA", "LA", "PA", "La", "RGBa"}
# Image.reduce refuses these modes; each is first widened to one it takes, losing nothing.
REDUCIBLE_AS = {"1": "L", "P": "RGBA", "I;16": "I", "I;16B": "I", "I;16L": "I", "I;16N": "I"}
# Ink below this fraction of full contrast is treated as background noise (JPEG artefacts, paper grain).
INK_THRESHOLD = 0.1
# Ink adding up to less than this many pixels at full strength is a speck, not a digit, however
# strongly it is stretched (one semi-transparent pixel on a canvas, a few faint ones, a 1-pixel dot).
# The least ink we read: MNIST's own digits at their own 28x28 size and 30% strength hold at least
# 5.4 pixels' worth (the thinnest "1" of its test set).
MIN_INK_PIXELS = 4
# A plain PNG (8-bit grey, colour, or colour and alpha; one frame; no palette or colour key),
# which is what a canvas sends, is decoded by libspng (pyspng): decode_image took 0.76 ms against
# Pillow's 1.15 on the page's canvas PNGs (medians of 6 interleaved rounds, 2026-12-02, this 2-core
# machine); its image data is inflated by zlib-ng first (``mnist_png``). Pillow still reads its
# header first, and decodes every other image.
SPNG_MODES = {"L", "RGB", "RGBA"}  # libspng gives no grey-and-alpha
# Pillow decompresses PNG text and ICC chunks up to 64 MB in all by default; a digit needs none.
PngImagePlugin.MAX_TEXT_MEMORY = 4 * 1024 * 1024


def open_image(data: bytes) -> Image.Image:
    """Identify ``data`` and read its header, refusing a format or size a digit never comes in."""
    check_structure(data)
    try:
        image = opened(data)
    except UnidentifiedImageError:
        raise BadInput("not an image Pillow can read (expected PNG, JPEG, GIF, WebP, BMP or TIFF)") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise BadInput("the image's header declares too many pixels", status=413) from None
    except Exception as error:  # noqa: BLE001 - whatever a parser raises on hostile bytes is bad input
        raise BadInput(f"the image header is corrupt ({type(error).__name__}: {error})") from None
    if image.format not in ACCEPTED_FORMATS:
        raise BadInput(f"{image.format} images are not accepted (expected PNG, JPEG, GIF, WebP, BMP or TIFF)")
    width, height = image.size
    if min(width, height) < MIN_SIDE:
        raise BadInput(f"the image is {width}x{height} pixels: too small to hold a digit "
                       f"(at least {MIN_SIDE} pixels each way)")
    if min(width, height) // working_size_factor(image.size) < MIN_SIDE:
        # Reduced to the working size, its short side would be under MIN_SIDE (the fuzzer's
        # 32767x168 JPEG would become a 1024x5 strip).
        raise BadInput(f"the image is {width}x{height} pixels: too thin to hold a digit (at most "
                       f"{MAX_WORKING_SIDE // MIN_SIDE} times as long as it is wide)")
    limit = MAX_JPEG_PIXELS if image.format in DRAFT_FORMATS else MAX_PIXELS
    if width * height > limit:
        raise BadInput(f"the image is {width}x{height} pixels; the limit is {limit:,} pixels for {image.format}",
                       status=413)
    if image.mode not in DECODED_MODES:
        raise BadInput(f"{image.format} images in {image.mode} colours are not accepted (use RGB or grey)")
    return image


def opened(data: bytes) -> Image.Image:
    """Pillow's image of ``data``, its header read and no pixel decoded."""
    try:
        return Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        if data.startswith(JPEG_START):
            return first_picture(data)
        raise


def first_picture(data: bytes) -> Image.Image:
    """The first picture of a multi-picture JPEG (MPO) that Pillow refused, as a plain JPEG.

    Pillow reads an MPO's MP index when it opens the file and refuses one that claims more pictures
    than it lists, although the first picture, the only one decoded, is an ordinary JPEG.
    """
    try:
        return JpegImagePlugin.JpegImageFile(io.BytesIO(data))
    except Exception:  # noqa: BLE001 - not even a plain JPEG: refused as Pillow refused it
        raise UnidentifiedImageError("not a JPEG either") from None


def working_size_factor(size: tuple[int, int]) -> int:
    """The whole factor that brings the longer side down to MAX_WORKING_SIDE (1 if it is there)."""
    return -(-max(size) // MAX_WORKING_SIDE)


def reduced_to_working_size(image: Image.Image) -> Image.Image:
    factor = working_size_factor(image.size)
    if factor <= 1:
        return image
    if image.mode in REDUCIBLE_AS:
        image = image.convert(REDUCIBLE_AS[image.mode])
    return image.reduce(factor)


def decode_image(data: bytes) -> tuple[Image.Image, tuple[int, int]]:
    """Decode ``data`` within a bounded time and memory, whatever its structure; the decoded image
    and the (width, height) its header declares, which the decoded one may be reduced from.

    Sizes and part counts are checked before any pixel is decoded; JPEG is decoded at the smallest
    scale that keeps the working size; only the first frame of an animation is decoded. A photo is
    turned upright after it is reduced, and the declared size with it: boxes are given as a viewer
    shows the picture.
    """
    if not data:
        raise BadInput("the image is empty (0 bytes)")
    if len(data) > MAX_IMAGE_BYTES:
        raise BadInput(f"the image is {len(data):,} bytes; the limit is {MAX_IMAGE_BYTES:,}", status=413)
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        image = open_image(data)
        declared_size = image.size
        try:
            if image.format in DRAFT_FORMATS:
                image.draft(None, (MAX_WORKING_SIDE, MAX_WORKING_SIDE))
            image = loaded(image, data)
            orientation = exif_orientation(image)
            return upright(reduced_to_working_size(image), orientation), upright_size(declared_size, orientation)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise BadInput("the image decodes to too many pixels", status=413) from None
        except Exception as error:  # noqa: BLE001 - Pillow raises struct.error, IndexError... on hostile bytes
            raise BadInput(f"the image is corrupt or truncated ({type(error).__name__}: {error})") from None


def loaded(image: Image.Image, data: bytes) -> Image.Image:
    """The pixels of ``image`` (opened from ``data``, its header checked): a plain PNG's by libspng,
    any other's by Pillow, the first frame of an animation."""
    if image.format == "PNG" and image.mode in SPNG_MODES and "transparency" not in image.info \
            and getattr(image, "n_frames", 1) == 1:
        return Image.fromarray(load_png(data, image.mode))
    image.seek(0)
    image.load()
    return image


def exif_orientation(image: Image.Image) -> int:
    """How a camera says its picture is to be shown (1-8, EXIF's values); 1, as stored, where unknown."""
    if image.format not in ORIENTED_FORMATS:
        return 1
    try:
        orientation = image.getexif().get(ExifTags.Base.Orientation, 1)
        return orientation if orientation in UPRIGHT else 1
    except Exception:  # noqa: BLE001 - an EXIF Pillow cannot parse tells nothing: the pixels as stored
        return 1


def upright(image: Image.Image, orientation: int) -> Image.Image:
    return image.transpose(UPRIGHT[orientation]) if orientation in UPRIGHT else image


def upright_size(size: tuple[int, int], orientation: int) -> tuple[int, int]:
    width, height = size
    return (height, width) if orientation in SIDEWAYS else (width, height)


def has_transparency(image: Image.Image) -> bool:
    """An alpha channel, or a palette's or a colour key's transparency."""
    return image.mode in TRANSPARENT_MODES or "transparency" in image.info


def is_wide_grey(image: Image.Image) -> bool:
    """16- or 32-bit grey: Pillow's convert("L") would clip everything above 255 to white."""
    return image.mode.startswith("I;16") or image.mode == "I"


def gray_and_alpha(image: Image.Image) -> tuple[np.ndarray, np.ndarray | None, tuple[int, int]]:
    """Luminance in [0, 1], alpha in [0, 1] where the image has transparency, and where they start.

    A transparent image is first cropped to its drawn (non-transparent) part, in Pillow: a canvas
    is mostly empty, and everything after this works per pixel. The (left, top) of that crop in the
    decoded image is returned with it, so that boxes can be given in the client's pixels.
    """
    if is_wide_grey(image):
        return np.asarray(image, dtype=np.float32) / 65535.0, None, (0, 0)
    if has_transparency(image):
        if image.mode not in ("RGBA", "LA"):
            image = image.convert("LA")  # applies a palette's or a colour key's transparency
        # RGBA is cropped before it is converted to grey: a canvas is mostly empty.
        drawn = image.getbbox(alpha_only=True)
        if drawn is None:
            raise BadInput("no digit found: the image is fully transparent")
        left, top, right, bottom = drawn
        # One pixel of margin each way; outside the image it reads as transparent.
        luma_alpha = unit_floats(np.asarray(image.crop((left - 1, top - 1, right + 1, bottom + 1)).convert("LA")))
        return luma_alpha[..., 0], luma_alpha[..., 1], (left - 1, top - 1)
    return unit_floats(np.asarray(image.convert("L"))), None, (0, 0)


def unit_floats(pixels: np.ndarray) -> np.ndarray:
    """8-bit pixels as float32 in [0, 1], converted and scaled in one pass."""
    return np.divide(pixels, np.float32(255.0), dtype=np.float32)


def ink_map(gray: np.ndarray, alpha: np.ndarray | None) -> np.ndarray:
    """How much ink each pixel holds, in [0, 1], whatever the polarity and transparency."""
    if alpha is not None and alpha.min() < 1.0:
        # Transparent means background: put it behind the strokes in the colour that contrasts
        # with them, so dark strokes on transparent do not become black on black.
        ink = gray * alpha
        stroke_luma = float(ink.sum() / alpha.sum())
        if stroke_luma < 0.5:
            # Composited on white (gray * alpha + 1 - alpha), then inverted: the background is 0.
            ink += 1.0 - alpha
            np.subtract(1.0, ink, out=ink)
        # Composited on black, the background is 0 already.
    else:
        border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
        background_level = float(np.median(border))
        if background_level > 0.5:
            ink, background_level = 1.0 - gray, 1.0 - background_level
        else:
            ink = gray.copy()
        contrast = 1.0 - background_level
        if contrast <= 0:
            raise BadInput("no digit found: the image is uniformly bright")
        ink -= background_level
        ink /= contrast
    np.clip(ink, 0.0, 1.0, out=ink)
    # Stretch the strongest stroke to full intensity, as MNIST's digits are: faint or coloured ink
    # should look like the pen the model learned from.
    strongest = float(ink.max())
    if strongest < INK_THRESHOLD:
        raise BadInput("no digit found: the image has no ink")
    check_enough_ink(ink)
    ink /= strongest
    return ink


def check_enough_ink(ink: np.ndarray) -> None:
    """Refuse ink too little to be a digit, before it is stretched to full intensity: stretched, one
    faint pixel would be as strong as a pen's stroke."""
    visible = float(ink[ink > INK_THRESHOLD].sum())
    if visible < MIN_INK_PIXELS:
        raise BadInput(f"no digit found: the ink adds up to {visible:.1f} pixels at full strength, too little "
                       f"for a digit (at least {MIN_INK_PIXELS})")


def center_in_field(digit: np.ndarray) -> np.ndarray:
    """Paste ``digit`` (at most 20x20) into 28x28 with its centre of mass at the field's centre."""
    rows, cols = np.arange(digit.shape[0])[:, None], np.arange(digit.shape[1])[None, :]
    mass = digit.sum()
    shift_row = int(round(MNIST_SIDE / 2 - (rows * digit).sum() / mass))
    shift_col = int(round(MNIST_SIDE / 2 - (cols * digit).sum() / mass))
    # Keep the whole digit inside the field even when its mass is far off its box's centre.
    shift_row = min(max(shift_row, 0), MNIST_SIDE - digit.shape[0])
    shift_col = min(max(shift_col, 0), MNIST_SIDE - digit.shape[1])
    field = np.zeros((MNIST_SIDE, MNIST_SIDE), dtype=np.float32)
    field[shift_row:shift_row + digit.shape[0], shift_col:shift_col + digit.shape[1]] = digit
    return field


def mnist_style(ink: np.ndarray) -> np.ndarray:
    """Crop to the ink, fit the longer side to 20 pixels, centre by mass in 28x28."""
    rows, cols = inked_extent(ink > INK_THRESHOLD)
    if rows.size == 0:
        raise BadInput("no digit found: the image has no ink")
    crop = ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    height, width = crop.shape
    scale = DIGIT_BOX / max(height, width)
    # Pillow's LANCZOS, as matrices (handler/mnist_resample.py): the same pixels at a third of the cost.
    digit = lanczos_resized(crop, max(1, round(width * scale)), max(1, round(height * scale)))
    np.clip(digit, 0.0, 1.0, out=digit)
    if digit.sum() <= 0:
        raise BadInput("no digit found: the ink vanishes at 28x28")
    return center_in_field(digit)


@dataclass
class FittedSymbol:
    pixels: torch.Tensor            # (1, 28, 28) in [0, 1], light on dark, as the model was trained on
    box: tuple[int, int, int, int]  # left, top, right, bottom (exclusive) in the client's image pixels
    span: tuple[int, int] = (0, 1)  # the drawing's parts it covers (mnist_segment)
    whole: bool = True              # one group of ink, uncut
    mark: str | None = None         # a decimal point or minus sign (mnist_segment): no digit, whatever is read


@dataclass
class Drawing:
    """A decoded drawing's groups of ink, ready to be fitted as candidate symbols."""
    segmentation: Segmentation
    origin: tuple[int, int]         # where the ink map starts in the decoded image
    scale: tuple[float, float]      # from the decoded image to the client's pixels

    @property
    def reason(self) -> str | None:
        return self.segmentation.reason

    def fitted(self, candidates: list[Candidate]) -> list[FittedSymbol]:
        (origin_x, origin_y), (scale_x, scale_y) = self.origin, self.scale
        fitted = []
        for candidate in candidates:
            left, top, right, bottom = candidate.symbol.box
            box = (int((left + origin_x) * scale_x), int((top + origin_y) * scale_y),
                   int(np.ceil((right + origin_x) * scale_x)), int(np.ceil((bottom + origin_y) * scale_y)))
            fitted.append(FittedSymbol(torch.from_numpy(mnist_style(candidate.symbol.ink)).unsqueeze(0), box,
                                       (candidate.first, candidate.stop), candidate.whole, candidate.mark))
        return fitted

    def wholes(self) -> list[FittedSymbol]:
        """Each group of ink as one symbol, fitted: the first reading tried."""
        return self.fitted(self.segmentation.wholes())


def read_drawing(data: bytes) -> Drawing:
    """Encoded image bytes to the drawing's groups of ink, for the reader (``mnist_batch``) to fit
    and read with the model."""
    image, (declared_width, declared_height) = decode_image(data)
    gray, alpha, (origin_x, origin_y) = gray_and_alpha(image)
    # The decoder may have reduced a large image: boxes are scaled back to the client's pixels.
    scale = (declared_width / image.width, declared_height / image.height)
    ink, (left, top) = around_the_ink(ink_map(gray, alpha))
    return Drawing(split_symbols(ink, INK_THRESHOLD), (origin_x + left, origin_y + top), scale)


def around_the_ink(ink: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:
    """``ink`` cropped to its strokes and one pixel more each way (their anti-aliased edge), and
    where the crop starts: an opaque canvas is mostly background, and segmentation works per pixel."""
    rows, cols = inked_extent(ink > INK_THRESHOLD)
    top, left = max(int(rows[0]) - 1, 0), max(int(cols[0]) - 1, 0)
    return ink[top:rows[-1] + 2, left:cols[-1] + 2], (left, top)


def image_to_symbols(data: bytes) -> list[FittedSymbol]:
    """The drawing's groups of ink, left to right, each whole and fitted MNIST-style: its symbols
    when no digits touch (no model is asked; the handler reads ``read_drawing`` with the model)."""
    return read_drawing(data).wholes()


def preview_png(pixels: torch.Tensor) -> str:
    """The 28x28 image the model sees, as a ``data:image/png;base64,...`` URL."""
    array = (pixels.squeeze(0).clamp(0, 1) * 255).round().to(torch.uint8).numpy()
    buffer = io.BytesIO()
    Image.fromarray(array, mode="L").save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
