"""The second attack round (issue 9), each kind as a named regression test against a real
TorchServe and the real web front: bad input gets its own 4xx with a JSON reason within the
decoding budget, valid input an answer, nothing a 5xx, and no worker dies."""

from __future__ import annotations

import base64

import pytest
import requests

from bench import hostile_images as hostile
from bench.canvas_png import canvas_png
from bench.loadgen import web_app, worker_cpu_s, worker_pids
from bench.mnist_samples import one_of_each_digit
from serving.torchserve import read_properties
from tests.fixtures.budgets import CPU_TIME_MARGIN
from tests.fixtures.two_doors import check_torchserve_answer, send_to_torchserve, send_to_web

SEVEN = canvas_png(one_of_each_digit()[7][1])
DEEP_JSON = b'{"image": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"

# name -> (how it is sent, payload, expected status); "how" as in test_bad_inputs.
CASES = {
    # Pillow raised on these in load(); libspng, which decodes plain PNGs now, reads the whole image
    # before the broken chunk and ignores what follows it, as browsers do: the digit is read.
    "PNG with a 0-byte gAMA chunk after the image data": ("raw", hostile.png_with_chunk_after_image_data(b"gAMA", b""), 200),
    "PNG with a name-only iCCP chunk after the image data": ("raw", hostile.png_with_chunk_after_image_data(b"iCCP", b"name"), 200),
    "PNG with 5,000 chunks": ("raw", hostile.png_with_many_chunks(5000), 400),
    "PNG with 64 MB of zTXt behind 64 KB": ("raw", hostile.zlib_bomb_png_text(64), 400),
    "CIELab TIFF": ("raw", hostile.cielab_tiff(), 400),
    "progressive JPEG 4096x4096 with 40,000 scans": ("raw", hostile.progressive_jpeg_with_scans(40_000), 400),
    "GIF with 300,000 empty extension blocks": ("raw", hostile.gif_with_many_extensions(300_000), 400),
    "TIFF with 5,000 tags": ("raw", hostile.tiff_with_many_tags(5000), 400),
    "GIF with 400 KB of bytes Pillow skips one by one": ("raw", hostile.gif_with_bytes_pillow_skips(400_000), 400),
    "JPEG of 32767x168, too thin at the working size": ("raw", hostile.thin_jpeg(32767, 168), 400),
    "JSON nested 50,000 levels deep": ("json-bytes", DEEP_JSON, 400),
    "JSON with a lone surrogate escape": ("json-bytes", b'{"image": "\\ud800"}', 400),
    "data URL without a comma": ("json", {"image": "data:image/png;base64"}, 400),
    # Valid: what phone cameras write.
    "MPO from a phone camera": ("raw", hostile.mpo_photo(), 200),
    "12-megapixel phone photo": ("raw", hostile.phone_photo_jpeg(), 200),
}


@pytest.fixture(scope="module")
def web_client(torchserve):
    return web_app(torchserve).test_client()


def assert_answer(status: int, body, expected: int) -> None:
    assert status == expected, body
    assert ("digit" in body) if expected == 200 else isinstance(body.get("error"), str), body


@pytest.mark.parametrize("name", CASES)
def test_directly_to_torchserve(torchserve, name):
    how, payload, status = CASES[name]
    pids = worker_pids(torchserve)
    response = send_to_torchserve(torchserve.predictions_url(), how, payload)
    check_torchserve_answer(torchserve, response, lambda code, body: assert_answer(code, body, status))
    assert worker_pids(torchserve) == pids


@pytest.mark.parametrize("name", CASES)
def test_through_the_web_front(web_client, torchserve, name):
    how, payload, status = CASES[name]
    pids = worker_pids(torchserve)
    response = send_to_web(web_client, how, payload)
    assert_answer(response.status_code, response.get_json(), status)
    assert worker_pids(torchserve) == pids


def test_a_describe_header_does_not_switch_the_handler_off_predicting(torchserve):
    response = requests.post(torchserve.predictions_url(), data=SEVEN,
                             headers={"Content-Type": "image/png", "describe": "True"}, timeout=15)
    assert response.status_code == 200 and "digit" in response.json()


def test_an_explain_header_on_predictions_still_predicts(torchserve):
    response = requests.post(torchserve.predictions_url(), data=SEVEN,
                             headers={"Content-Type": "image/png", "explain": "True"}, timeout=15)
    assert response.status_code == 200 and "digit" in response.json()


def test_a_png_sent_as_urlencoded_is_read_as_the_image(web_client):
    """What `curl --data-binary @digit.png` sends by default."""
    response = web_client.post("/predict", data=SEVEN, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200 and "digit" in response.get_json()


@pytest.mark.parametrize("content_type", ["application/json", "text/html", "multipart/form-data",
                                          "application/octet-stream", "image/gif"])
def test_a_raw_png_is_read_whatever_its_content_type(web_client, content_type):
    response = web_client.post("/predict", data=SEVEN, content_type=content_type)
    assert response.status_code == 200 and "digit" in response.get_json()


def test_a_urlencoded_form_of_a_million_fields_is_refused_unparsed(web_client, torchserve):
    body = b"a&" * (web_client.application.config["MAX_UPLOAD_BYTES"] // 2 - 1024)
    pids = worker_pids(torchserve)
    response = web_client.post("/predict", data=body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400 and "form fields are not read" in response.get_json()["error"]
    assert worker_pids(torchserve) == pids


def multipart(parts: list[tuple[str, bytes]], boundary: str = "fuzzboundary") -> tuple[bytes, str]:
    body = b"".join(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode() + value + b"\r\n"
                    for name, value in parts) + f"--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def test_a_form_over_the_part_limit_says_so(web_client):
    body, content_type = multipart([(f"f{i}", b"") for i in range(1500)])
    response = web_client.post("/predict", data=body, content_type=content_type)
    assert response.status_code == 413
    assert "1,500 parts; the limit is 1,000" in response.get_json()["error"]


def test_a_form_with_a_large_text_field_says_so(web_client):
    body, content_type = multipart([("note", b"x" * 700_000)])
    response = web_client.post("/predict", data=body, content_type=content_type)
    assert response.status_code == 413
    assert "text field of the form is over 500,000 bytes" in response.get_json()["error"]


def test_a_base64_transfer_encoded_part_is_answered_by_the_web_front(web_client):
    """werkzeug hands the part over as its base64 text, which TorchServe's handler decodes."""
    boundary = "b64part"
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="d.png"\r\n'
            "Content-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\n").encode() \
        + base64.b64encode(SEVEN) + f"\r\n--{boundary}--\r\n".encode()
    response = web_client.post("/predict", data=body, content_type=f"multipart/form-data; boundary={boundary}")
    assert response.status_code == 200 and "digit" in response.get_json()


def test_a_broken_percent_escape_is_a_400_at_the_web_front(web_client):
    response = web_client.post("/predict", data=b"image=%zz", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400 and isinstance(response.get_json()["error"], str)


@pytest.mark.parametrize("name, body, content_type", [
    ("broken %-escape in a urlencoded body", b"image=%zz", "application/x-www-form-urlencoded"),
    ("empty field name in a urlencoded body", b"a=1&&b", "application/x-www-form-urlencoded"),
    ("multipart part with Content-Transfer-Encoding: base64",
     b'--b\r\nContent-Disposition: form-data; name="data"; filename="d.png"\r\n'
     b"Content-Transfer-Encoding: base64\r\n\r\n" + base64.b64encode(SEVEN) + b"\r\n--b--\r\n",
     "multipart/form-data; boundary=b"),
])
def test_upstream_limitations_of_torchservers_own_parser(torchserve, name, body, content_type):
    """TorchServe's Java front answers these 500 before any handler code runs (docs/SECURITY.md).
    The web front never sends either shape; this test fails when TorchServe changes, so that the
    documentation can follow. No worker is harmed."""
    pids = worker_pids(torchserve)
    response = requests.post(torchserve.predictions_url(), data=body, headers={"Content-Type": content_type},
                             timeout=15)
    assert response.status_code == 500, name
    assert worker_pids(torchserve) == pids


# What one request may cost a worker here (issue: at most 1 s), times the margin tests allow CPU time.
WORKER_CPU_BUDGET_S = 1.0


def test_torchservers_own_form_parsing_is_bounded_by_max_request_size(torchserve):
    """The worst body TorchServe itself parses: urlencoded, as large as it accepts, all empty fields.
    TorchServe hands each field to the worker separately before any handler code runs, so only
    max_request_size bounds the cost: the worker's CPU time for it stays within its budget."""
    body = b"a&" * (int(read_properties(torchserve.config)["max_request_size"]) // 2 - 1024)
    pids = worker_pids(torchserve)
    before = worker_cpu_s(torchserve)
    response = requests.post(torchserve.predictions_url(), data=body,
                             headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=60)
    assert response.status_code == 400
    assert worker_cpu_s(torchserve) - before <= WORKER_CPU_BUDGET_S * CPU_TIME_MARGIN
    assert worker_pids(torchserve) == pids
