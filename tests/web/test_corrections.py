"""POST /corrections on the real web front against a real TorchServe: a correction of a real answer
is kept exactly as sent; every bad one is refused with a JSON 4xx and leaves the store untouched."""

from __future__ import annotations

import base64
import json

import pytest

from bench.canvas_png import canvas_png, ink_png, number_canvas
from bench.loadgen import web_app
from bench.mnist_samples import non_digit_drawings, one_of_each_digit
from corrections.store import open_store, with_status
from tests.fixtures.corrections_store import stored
from web.corrections import quote_of

DIGITS = dict(one_of_each_digit())
SEVEN = canvas_png(DIGITS[7], box=150, top=30, left=110)
FORTY_TWO = ink_png(number_canvas([DIGITS[4], DIGITS[2]]))


@pytest.fixture
def store_url(tmp_path):
    return f"sqlite:///{tmp_path / 'corrections.sqlite'}"


@pytest.fixture
def client(torchserve, store_url):
    return web_app(torchserve, DATABASE_URL=store_url, CORRECTIONS_PER_CLIENT_HOUR=3).test_client()


def answered(client, image: bytes) -> dict:
    """What the page has after /predict: the drawing, the answer as received, version and receipt."""
    response = client.post("/predict", data=image, content_type="image/png")
    assert response.status_code == 200
    return quote_of(image, response)


def correct(client, body, address: str = "203.0.113.7", content_type: str = "application/json"):
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return client.post("/corrections", data=data, content_type=content_type, environ_base={"REMOTE_ADDR": address})



def test_a_correction_keeps_the_drawing_answer_version_and_correction(client, store_url):
    seven = answered(client, SEVEN)
    assert json.loads(seven["answer"])["number"] == "7" and seven["model_version"] == "1.0"
    response = correct(client, {**seven, "correction": "1"})
    assert response.status_code == 201 and response.json["status"] == "pending"
    engine = open_store(store_url)
    (kept,) = with_status(engine, "pending")
    engine.dispose()
    assert (kept.image, kept.served_answer, kept.model_version, kept.correction) == (
        SEVEN, seven["answer"], "1.0", "1")
    assert kept.client_hash and "203.0.113.7" not in kept.client_hash


def test_a_drawing_that_was_not_read_as_a_number_takes_any_length(client, store_url):
    star = answered(client, non_digit_drawings()["star"])
    assert json.loads(star["answer"])["is_digit"] is False
    assert correct(client, {**star, "correction": "4711"}).status_code == 201
    assert stored(store_url)["pending"] == 1


BAD = {
    "not json": (lambda good: b"correction=1", "application/x-www-form-urlencoded", 415),
    "broken json": (lambda good: b'{"image": ', "application/json", 400),
    "a list": (lambda good: [good], "application/json", 400),
    "no correction": (lambda good: {k: v for k, v in good.items() if k != "correction"}, "application/json", 400),
    "letters": (lambda good: {**good, "correction": "4a"}, "application/json", 400),
    "a number as JSON": (lambda good: {**good, "correction": 42}, "application/json", 400),
    "too long": (lambda good: {**good, "correction": "1" * 13}, "application/json", 400),
    "one digit for two symbols": (lambda good: {**good, "correction": "4"}, "application/json", 422),
    "the answer itself": (lambda good: {**good, "correction": "42"}, "application/json", 422),
    "a forged receipt": (lambda good: {**good, "receipt": "0" * 64}, "application/json", 403),
    "another version": (lambda good: {**good, "model_version": "2.0"}, "application/json", 403),
    "an edited answer": (lambda good: {**good, "answer": good["answer"].replace('"42"', '"41"')},
                         "application/json", 403),
    "another drawing": (lambda good: {**good, "image": "data:image/png;base64," + base64.b64encode(SEVEN).decode()},
                        "application/json", 403),
    "no image": (lambda good: {**good, "image": 5}, "application/json", 400),
}


@pytest.mark.parametrize("case", BAD)
def test_bad_corrections_get_a_json_4xx_and_nothing_is_stored(client, store_url, case):
    good = {**answered(client, FORTY_TWO), "correction": "47"}
    assert json.loads(good["answer"])["number"] == "42"
    make_body, content_type, status = BAD[case]
    response = correct(client, make_body(good), content_type=content_type)
    assert response.status_code == status and response.json["error"]
    assert stored(store_url) == {"pending": 0, "accepted": 0, "rejected": 0}
    assert correct(client, good).status_code == 201  # the same correction, done right, is taken


def test_an_oversized_drawing_is_refused(torchserve, store_url):
    client = web_app(torchserve, DATABASE_URL=store_url, CORRECTION_MAX_IMAGE_BYTES=len(SEVEN) - 1).test_client()
    response = correct(client, {**answered(client, SEVEN), "correction": "1"})
    assert response.status_code == 413 and "bytes" in response.json["error"]
    assert stored(store_url)["pending"] == 0


def test_one_address_is_limited_per_hour_and_others_are_not(client, store_url):
    seven = {**answered(client, SEVEN), "correction": "1"}
    assert [correct(client, seven).status_code for _ in range(4)] == [201, 201, 201, 429]
    assert correct(client, seven, address="198.51.100.9").status_code == 201
    assert stored(store_url)["pending"] == 4


def test_the_page_offers_the_correction_and_says_what_is_kept(client):
    page = client.get("/").get_data(as_text=True)
    assert 'id="correct"' in page and "salted hash of your address" in page
