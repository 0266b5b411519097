"""Unit tests of handler/mnist_preprocess.py with real images made here with Pillow."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from bench import hostile_images as hostile
from bench.canvas_png import canvas_png
from bench.mnist_samples import mnist_test_set, one_of_each_digit
from handler.mnist_container import MAX_TIFF_TAGS
from handler.mnist_errors import BadInput
from handler.mnist_preprocess import MAX_IMAGE_BYTES, decode_image, image_to_symbols, preview_png
from tests.fixtures.images import draw_seven, encode, png_header_only
from tests.fixtures.mnist_framing import centre_of_mass, ink_box


def image_to_tensor(data: bytes) -> torch.Tensor:
    """The fitted pixels of an image that holds one symbol."""
    symbols = image_to_symbols(data)
    assert len(symbols) == 1, [symbol.box for symbol in symbols]
    return symbols[0].pixels


def assert_mnist_style(pixels: torch.Tensor) -> None:
    assert pixels.shape == (1, 28, 28) and pixels.dtype == torch.float32
    assert 0.0 <= pixels.min() and pixels.max() <= 1.0 and pixels.max() > 0.5
    row, col = centre_of_mass(pixels)
    assert abs(row - 14) <= 1.0 and abs(col - 14) <= 1.0
    assert max(ink_box(pixels)) in (19, 20, 21)
    # Background is dark, like MNIST: the corners hold no ink.
    assert pixels[0, :3, :3].max() == 0 and pixels[0, -3:, -3:].max() == 0


REFERENCE = image_to_tensor(encode(draw_seven("L", 0, 255)))


@pytest.mark.parametrize("name, image", [
    ("dark ink on transparent RGBA", draw_seven("RGBA", (0, 0, 0, 0), (0, 0, 0, 255))),
    ("light ink on transparent RGBA", draw_seven("RGBA", (255, 255, 255, 0), (255, 255, 255, 255))),
    ("coloured ink on transparent RGBA", draw_seven("RGBA", (0, 0, 0, 0), (30, 60, 200, 255))),
    ("black on white RGB", draw_seven("RGB", (255, 255, 255), (0, 0, 0))),
    ("white on black L", draw_seven("L", 0, 255)),
    ("dark ink on transparent LA", draw_seven("LA", (0, 0), (0, 255))),
    ("1-bit", draw_seven("1", 1, 0)),
])
def test_every_polarity_and_transparency_gives_the_same_digit(name, image):
    pixels = image_to_tensor(encode(image))
    assert_mnist_style(pixels)
    assert (pixels - REFERENCE).abs().mean() < 0.02, name


def test_palette_png_with_transparency():
    # Background and ink are both black in the palette; only transparency tells them apart.
    image = draw_seven("P", 0, 1)
    image.putpalette([0, 0, 0, 0, 0, 0])
    data = encode(image, transparency=0)
    assert Image.open(io.BytesIO(data)).info.get("transparency") == 0
    assert (image_to_tensor(data) - REFERENCE).abs().mean() < 0.02


def test_sixteen_bit_grayscale_is_not_clipped_to_white():
    array = (np.asarray(draw_seven("L", 0, 255), dtype=np.uint16) * 257)
    image = Image.fromarray(array.astype(np.uint16))
    assert image.mode.startswith("I;16")
    assert (image_to_tensor(encode(image)) - REFERENCE).abs().mean() < 0.02


@pytest.mark.parametrize("fmt, options", [("JPEG", {"quality": 85}), ("GIF", {}), ("WEBP", {"quality": 90}),
                                          ("BMP", {})])
def test_other_formats(fmt, options):
    image = draw_seven("RGB", (255, 255, 255), (0, 0, 0))
    pixels = image_to_tensor(encode(image, fmt, **options))
    assert_mnist_style(pixels)
    assert (pixels - REFERENCE).abs().mean() < 0.04


def test_first_frame_of_an_animated_gif():
    frames = [draw_seven("L", 0, 255), Image.new("L", (280, 280), 0)]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:])
    assert (image_to_tensor(data) - REFERENCE).abs().mean() < 0.02


@pytest.mark.parametrize("offset, scale, width", [
    ((-50, -50), 0.6, 10), ((90, 30), 0.6, 14), ((0, 0), 1.0, 30), ((100, 100), 0.3, 6), ((-40, 20), 0.8, 22),
])
def test_canvas_drawings_at_any_position_size_and_stroke_width_end_up_centred(offset, scale, width):
    image = draw_seven("RGBA", (0, 0, 0, 0), (0, 0, 0, 255), offset=offset, scale=scale, width=width)
    assert_mnist_style(image_to_tensor(encode(image)))


def test_any_canvas_size():
    for size in (100, 500, 1000):
        image = draw_seven("RGBA", (0, 0, 0, 0), (0, 0, 0, 255), size=size, scale=size / 280,
                           width=max(2, size // 15))
        assert_mnist_style(image_to_tensor(encode(image)))


def test_real_mnist_digits_drawn_on_a_canvas_come_back_close_to_the_originals():
    for digit, original in one_of_each_digit():
        pixels = image_to_tensor(canvas_png(original, box=150, top=100, left=20)).squeeze(0).numpy()
        correlation = np.corrcoef(pixels.ravel(), original.ravel() / 255.0)[0, 1]
        assert correlation > 0.8, f"digit {digit}: correlation {correlation:.2f}"


@pytest.mark.parametrize("image", [
    Image.new("RGBA", (280, 280), (0, 0, 0, 0)),
    Image.new("RGB", (280, 280), (255, 255, 255)),
    Image.new("L", (280, 280), 0),
    Image.new("L", (28, 28), 255),
], ids=["transparent canvas", "white page", "black page", "white square"])
def test_no_ink_is_an_error_not_a_guess(image):
    with pytest.raises(BadInput, match="no digit found") as error:
        image_to_tensor(encode(image))
    assert error.value.status == 400


@pytest.mark.parametrize("data, status, message", [
    (b"", 400, "empty"),
    (b"hello, this is not an image", 400, "not an image"),
    (b"<svg xmlns='http://www.w3.org/2000/svg'><circle r='5'/></svg>", 400, "not an image"),
    (encode(draw_seven("L", 0, 255))[:300], 400, "corrupt or truncated"),
    (png_header_only(5000, 5000), 413, "limit is"),
    (png_header_only(100_000, 100_000), 413, "too many pixels"),
    (b"\x89PNG" + b"\0" * (MAX_IMAGE_BYTES + 1), 413, "bytes"),
], ids=["empty", "text", "svg", "truncated", "too many pixels", "decompression bomb", "too many bytes"])
def test_bad_images_are_refused_with_a_specific_message(data, status, message):
    with pytest.raises(BadInput, match=message) as error:
        image_to_tensor(data)
    assert error.value.status == status


def test_bomb_warning_never_passes_silently(recwarn):
    # Between Pillow's warning threshold (89 M pixels) and our own limit nothing may slip through.
    with pytest.raises(BadInput):
        image_to_tensor(png_header_only(10_000, 10_000))
    assert not [w for w in recwarn if issubclass(w.category, Image.DecompressionBombWarning)]


@pytest.mark.parametrize("size", [(100_000, 1), (1, 1), (7, 300)])
def test_images_too_thin_to_hold_a_digit_are_refused(size):
    image = Image.new("L", size, 0)
    image.paste(255, (0, 0, size[0] // 2 + 1, size[1]))
    with pytest.raises(BadInput, match="too small to hold a digit"):
        image_to_tensor(encode(image))


def test_preview_is_the_28x28_png_the_model_sees():
    url = preview_png(REFERENCE)
    assert url.startswith("data:image/png;base64,")
    image = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
    assert image.size == (28, 28) and image.mode == "L"
    assert np.abs(np.asarray(image) / 255.0 - REFERENCE.squeeze(0).numpy()).max() <= 1 / 255


def pixels_of(image: Image.Image) -> np.ndarray:
    return np.asarray(image, dtype=np.float32)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_a_photo_is_read_as_its_exif_orientation_shows_it(orientation):
    upright = hostile.paper_photo(7, size=(304, 400), digit_side=200)
    data = hostile.oriented_jpeg(upright, orientation)
    # The photo is built right: Pillow's own reading of the tag shows it upright.
    shown = ImageOps.exif_transpose(Image.open(io.BytesIO(data)))
    assert shown.size == upright.size and np.abs(pixels_of(shown) - pixels_of(upright)).mean() < 2
    (expected,) = image_to_symbols(hostile.encode(upright, "JPEG", quality=90))
    (symbol,) = image_to_symbols(data)
    assert (symbol.pixels - expected.pixels).abs().mean() < 0.01
    assert np.abs(np.subtract(symbol.box, expected.box)).max() <= 1


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_a_12_megapixel_photo_is_turned_after_its_draft_decode(orientation):
    upright = hostile.paper_photo(7)
    data = hostile.oriented_jpeg(upright, orientation)
    image, declared_size = decode_image(data)
    # Decoded at a quarter of its size, then turned: the upright photo's proportions, reduced.
    assert image.size == (upright.width // 4, upright.height // 4) and declared_size == upright.size
    (expected,) = image_to_symbols(hostile.encode(upright, "JPEG", quality=90))
    (symbol,) = image_to_symbols(data)
    assert (symbol.pixels - expected.pixels).abs().mean() < 0.01
    assert np.abs(np.subtract(symbol.box, expected.box)).max() <= 4  # the reduction's rounding, scaled back


def test_an_orientation_tag_outside_exifs_values_leaves_the_pixels_as_stored():
    image = Image.open(io.BytesIO(hostile.oriented_jpeg(hostile.paper_photo(7, (304, 400), 200), 6)))
    exif = image.getexif()
    exif[0x0112] = 9
    stored = hostile.encode(image, "JPEG", quality=90, exif=exif)
    assert decode_image(stored)[1] == image.size


BROKEN_MPOS = {
    "MP index claims one picture more than it lists": hostile.mpo_claiming_more_pictures_than_listed(1),
    "MP index claims 65,535 pictures": hostile.mpo_claiming_more_pictures_than_listed(65_533),
    "second picture missing": hostile.mpo_cut_after_first_picture(),
}


@pytest.mark.parametrize("name", BROKEN_MPOS)
def test_a_multi_picture_jpeg_with_a_broken_index_is_read_by_its_first_picture(name):
    (expected,) = image_to_symbols(hostile.mpo_photo())
    (symbol,) = image_to_symbols(BROKEN_MPOS[name])
    assert torch.equal(symbol.pixels, expected.pixels) and symbol.box == expected.box


def test_pillow_alone_refuses_an_mpo_whose_index_claims_more_pictures_than_it_lists():
    """Why the preprocessing falls back to a plain JPEG: when this fails, Pillow reads such files itself."""
    with pytest.raises(UnidentifiedImageError):
        Image.open(io.BytesIO(hostile.mpo_claiming_more_pictures_than_listed(1)))


@pytest.mark.parametrize("marker, signature, kind", [(0xE1, b"Exif\0\0", "EXIF"), (0xE2, b"MPF\0", "MP index")],
                         ids=["EXIF", "MP index"])
def test_a_jpeg_segment_with_more_tags_than_a_camera_writes_is_refused_unparsed(marker, signature, kind):
    photo = hostile.mpo_claiming_more_pictures_than_listed(1)
    with pytest.raises(BadInput, match=f"over {MAX_TIFF_TAGS} {kind} tags") as error:
        image_to_symbols(hostile.with_tiff_segment(photo, 5400, marker, signature))
    assert error.value.status == 400
    assert len(image_to_symbols(hostile.with_tiff_segment(photo, MAX_TIFF_TAGS, marker, signature))) == 1


@pytest.mark.parametrize("pixels, ink_rgb", [
    ({(140, 140): 128}, (0, 0, 0)),
    ({(140, 140): 128}, (255, 255, 255)),
    ({(40, 60): 40, (200, 90): 60, (120, 230): 50, (141, 141): 70}, (0, 0, 0)),
    ({(140, 140): 255}, (0, 0, 0)),
    ({(x, y): 255 for x in (140, 141) for y in (140, 141)}, (30, 60, 200)),
], ids=["one semi-transparent dark pixel", "one semi-transparent light pixel", "a few faint pixels",
        "one opaque pixel", "a 2x2 dot of blue ink"])
def test_a_canvas_whose_only_ink_is_a_speck_is_empty(pixels, ink_rgb):
    with pytest.raises(BadInput, match="^no digit found") as error:
        image_to_symbols(hostile.transparent_canvas_with(pixels, ink_rgb))
    assert error.value.status == 400


@pytest.mark.parametrize("alpha", [0.3, 0.5])
def test_a_faint_but_visible_drawing_is_read_as_if_drawn_at_full_strength(alpha):
    for digit, original in one_of_each_digit():
        faint = image_to_tensor(canvas_png((original * alpha).round().astype(np.uint8)))
        assert (faint - image_to_tensor(canvas_png(original))).abs().mean() < 0.01, digit


def test_the_mnist_digit_with_the_least_ink_is_read_at_its_own_size_and_30_percent_strength():
    images, _ = mnist_test_set()
    least = images[int(images.reshape(len(images), -1).sum(axis=1).argmin())]
    faint = (least * 0.3).round().astype(np.uint8)
    assert_mnist_style(image_to_tensor(canvas_png(faint, box=28, top=0, left=0, side=28)))


@pytest.mark.parametrize("mode", ["L", "LA", "RGB", "RGBA"])
@pytest.mark.parametrize("interlaced", [False, True])
def test_libspng_decodes_a_plain_png_to_the_pixels_pillow_decodes(mode, interlaced):
    ink = ImageOps.invert(Image.open(io.BytesIO(canvas_png(one_of_each_digit()[7][1]))).convert("RGBA").convert("L"))
    image = Image.merge("RGBA", [ink, ink.point(lambda v: v // 2), ink.point(lambda v: 255 - v), ink]).convert(mode)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", interlace=interlaced)
    decoded, size = decode_image(buffer.getvalue())
    assert size == image.size and decoded.mode == mode
    assert np.array_equal(np.asarray(decoded), np.asarray(image))


def test_a_png_libspng_cannot_decode_is_refused_as_corrupt():
    png = bytearray(canvas_png(one_of_each_digit()[3][1]))
    data_at = png.index(b"IDAT") + 4
    png[data_at + 10:data_at + 40] = bytes(30)  # the compressed pixels broken, the header intact
    with pytest.raises(BadInput, match="corrupt or truncated"):
        decode_image(bytes(png))
