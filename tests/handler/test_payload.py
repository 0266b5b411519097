"""Unit tests of handler/mnist_payload.py: every way a client may send the image."""

from __future__ import annotations

import base64
import json

import pytest

from handler.mnist_errors import BadInput
from handler.mnist_payload import MAX_BASE64_CHARS, parse_request

PNG = b"\x89PNG\r\n\x1a\n" + b"rest of a png"
B64 = base64.b64encode(PNG).decode()
DATA_URL = "data:image/png;base64," + B64


@pytest.mark.parametrize("row", [
    {"body": PNG},
    {"body": bytearray(PNG)},
    {"data": PNG},
    {"file": PNG},
    {"image": PNG},
    {"body": B64},
    {"body": B64.encode()},
    {"body": DATA_URL},
    {"body": DATA_URL.encode()},
    {"body": {"image": DATA_URL}},
    {"body": {"data": B64}},
    {"body": json.dumps({"image": DATA_URL}).encode()},
    {"body": base64.urlsafe_b64encode(PNG).rstrip(b"=")},
    {"body": B64[:10] + "\n" + B64[10:]},
], ids=["raw", "bytearray", "data field", "file field", "image field", "base64 text", "base64 bytes",
        "data URL text", "data URL bytes", "parsed JSON image", "parsed JSON data", "JSON bytes",
        "urlsafe base64 unpadded", "base64 with newline"])
def test_every_form_yields_the_same_image(row):
    request = parse_request(row)
    assert request.image == PNG
    assert request.want_preview is False


@pytest.mark.parametrize("row", [
    {"body": PNG, "preview": b"true"},
    {"body": PNG, "preview": "1"},
    {"body": {"image": DATA_URL, "preview": True}},
])
def test_preview_can_be_asked_for(row):
    assert parse_request(row).want_preview is True


@pytest.mark.parametrize("row, message", [
    ({}, "no image in the request"),
    ({"other": PNG}, "no image in the request"),
    ({"body": b""}, "body is empty"),
    ({"body": {"picture": DATA_URL}}, 'needs an "image"'),
    ({"body": {"image": 42}}, "must be a base64 string"),
    ({"body": {"image": None}}, "must be a base64 string"),
    ({"body": [DATA_URL]}, "must be an object"),
    ({"body": b'{"image": "unterminated'}, "not valid UTF-8 JSON"),
    ({"body": b'{"image": "\xff\xfe"}'}, "not valid UTF-8 JSON"),
    ({"body": "data:image/png;base64,@@@not base64@@@"}, "does not hold valid base64"),
], ids=["no fields", "unknown field", "empty body", "JSON without image", "JSON number", "JSON null",
        "JSON list", "broken JSON", "non-UTF-8 JSON", "bad data URL"])
def test_malformed_requests_are_refused_with_reasons(row, message):
    with pytest.raises(BadInput, match=message) as error:
        parse_request(row)
    assert error.value.status == 400


def test_huge_base64_is_refused_before_decoding():
    with pytest.raises(BadInput, match="limit") as error:
        parse_request({"body": "A" * (MAX_BASE64_CHARS + 8)})
    assert error.value.status == 413


@pytest.mark.parametrize("row, target", [
    ({"body": b"\x89PNG..."}, None),
    ({"data": b"\x89PNG...", "target": "4"}, 4),
    ({"data": b"\x89PNG...", "target": b" 0 "}, 0),
    ({"body": {"image": base64.b64encode(b"\x89PNG...").decode(), "target": 9}}, 9),
    ({"body": {"image": base64.b64encode(b"\x89PNG...").decode(), "target": 2}, "target": "7"}, 2),
])
def test_the_digit_to_explain_comes_from_a_field_or_the_json(row, target):
    assert parse_request(row).target == target


@pytest.mark.parametrize("target", ["12", "x", "-1", True, 3.0, [4]])
def test_a_target_that_is_not_one_digit_is_refused(target):
    with pytest.raises(BadInput, match='"target" must be one digit'):
        parse_request({"body": {"image": base64.b64encode(b"\x89PNG...").decode(), "target": target}})
