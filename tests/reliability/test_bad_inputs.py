"""A corpus of hostile, broken and merely unusual inputs, each sent through the web app and to
TorchServe directly: broken ones get a 4xx with a JSON reason, unusual but valid ones an answer,
none a 5xx, and no worker dies."""

from __future__ import annotations

import base64

import numpy as np
import pytest
from PIL import Image

from bench.canvas_png import canvas_png
from bench.loadgen import web_app, worker_pids
from bench.mnist_samples import one_of_each_digit
from tests.fixtures.images import draw_seven, encode, png_header_only
from tests.fixtures.two_doors import send_to_torchserve, send_to_web

SEVEN = canvas_png(one_of_each_digit()[7][1])
DIGIT_L = draw_seven("L", 0, 255)
B64 = base64.b64encode(SEVEN).decode()


def lying_png() -> bytes:
    """A real PNG whose header claims twice the width its pixel data holds."""
    data = bytearray(encode(DIGIT_L))
    data[16:20] = (560).to_bytes(4, "big")
    return bytes(data)


def animated_gif() -> bytes:
    return encode(DIGIT_L, "GIF", save_all=True, append_images=[Image.new("L", (280, 280), 0)])


# name -> (how it is sent, payload, expected status)
# how: "raw" (body, Content-Type image/png), "text" (body, text/plain), "json" (a JSON document),
# "json-bytes" (a body labelled application/json), "form" (multipart fields without a file)
CORPUS = {
    "plain text": ("raw", b"hello, I am not an image", 400),
    "empty body": ("raw", b"", 400),
    "truncated PNG": ("raw", SEVEN[:200], 400),
    "PNG signature then garbage": ("raw", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, 400),
    "0x0 PNG header": ("raw", png_header_only(0, 0), 400),
    "1x1 image": ("raw", encode(Image.new("L", (1, 1), 255)), 400),
    "100000x1 image": ("raw", encode(Image.new("L", (100_000, 1), 255)), 400),
    "decompression bomb": ("raw", png_header_only(100_000, 100_000), 413),
    "huge dimensions under the bomb limit": ("raw", png_header_only(6000, 6000), 413),
    "PNG with a lying header": ("raw", lying_png(), 400),
    "SVG": ("raw", b'<svg xmlns="http://www.w3.org/2000/svg" width="280" height="280"><path d="M9 9"/></svg>', 400),
    "HTML": ("raw", b"<html><body><img src=x onerror=alert(1)></body></html>", 400),
    "blank canvas": ("raw", canvas_png(np.zeros((28, 28), np.uint8)), 400),
    "all-white JPEG": ("raw", encode(Image.new("RGB", (280, 280), "white"), "JPEG"), 400),
    "base64 of a truncated PNG": ("text", base64.b64encode(SEVEN[:100]), 400),
    "data URL of text": ("json", {"image": "data:image/png;base64," + base64.b64encode(b"nope").decode()}, 400),
    "JSON list": ("json", [B64], 400),
    "JSON number": ("json", 42, 400),
    "JSON image is a number": ("json", {"image": 5}, 400),
    "JSON image is null": ("json", {"image": None}, 400),
    "JSON without image": ("json", {"picture": B64}, 400),
    "JSON not UTF-8": ("json-bytes", b'{"image": "\xff\xfe\xfd"}', 400),
    "JSON cut short": ("json-bytes", b'{"image": "iVBOR', 400),
    "multipart without a file": ("form", {"note": "no file"}, 400),
    "body over the size limit": ("raw", b"\x89PNG" + b"\0" * (4 * 1024 * 1024), 413),
    "base64 over the size limit": ("text", b"A" * (3 * 1024 * 1024), 413),
    # Unusual but valid: each is a real drawing of a digit and must be answered.
    "16-bit grayscale PNG": ("raw", encode(Image.fromarray((np.asarray(DIGIT_L, np.uint16) * 257))), 200),
    "CMYK JPEG": ("raw", encode(draw_seven("RGB", "white", "black").convert("CMYK"), "JPEG"), 200),
    "palette PNG with transparency": ("raw", encode(draw_seven("P", 0, 1), transparency=0), 200),
    "animated GIF": ("raw", animated_gif(), 200),
    "PNG sent as text/plain": ("text", SEVEN, 200),
}


@pytest.fixture(scope="module")
def web_client(torchserve):
    return web_app(torchserve).test_client()


def test_the_corpus_is_large_enough():
    assert sum(status != 200 for _, _, status in CORPUS.values()) >= 25


def error_text(body: dict) -> str:
    return body.get("error") or body.get("message")


@pytest.mark.parametrize("name", CORPUS)
def test_the_web_front_and_torchserve_answer_alike(web_client, torchserve, name):
    """One parser (handler/mnist_payload.py) reads the body at both doors: the same status and the
    same error text, and no worker dies. TorchServe's Java front refuses a body over its
    max_request_size before any handler, with no body; the web front names its own limit."""
    how, payload, status = CORPUS[name]
    pids = worker_pids(torchserve)
    direct = send_to_torchserve(torchserve.predictions_url(), how, payload)
    through_web = send_to_web(web_client, how, payload)
    assert (direct.status_code, through_web.status_code) == (status, status), (direct.text[:300],
                                                                                through_web.get_json())
    web_body = through_web.get_json()
    if status == 200:
        assert "digit" in direct.json() and "digit" in web_body
    elif direct.content:
        assert error_text(web_body) == error_text(direct.json())
    else:
        assert status == 413 and isinstance(web_body["error"], str)
    assert worker_pids(torchserve) == pids
