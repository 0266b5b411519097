"""TorchServe's /explanations/mnist and the web front's /explain, against a real TorchServe: per
symbol, the attributions of the digit explained, complete up to the stated gap, and a heat map over
the symbol's box; bad input gets its own 4xx as predictions do, and no worker dies."""

from __future__ import annotations

import base64
import io

import pytest
import requests
from PIL import Image

from bench.canvas_png import canvas_png, ink_png, number_canvas
from bench.loadgen import web_app, worker_pids
from bench.mnist_samples import non_digit_drawings, one_of_each_digit
from handler.mnist_contract import MNIST_SIDE

DIGITS = dict(one_of_each_digit())
SEVEN = canvas_png(DIGITS[7])
NUMBER = ink_png(number_canvas([DIGITS[4], DIGITS[9], DIGITS[2]], height=120, gap=30))


@pytest.fixture(scope="module")
def explain_url(torchserve):
    return torchserve.predictions_url().replace("/predictions/", "/explanations/")


@pytest.fixture(scope="module")
def web_client(torchserve):
    return web_app(torchserve).test_client()


def heatmap(symbol: dict) -> Image.Image:
    header, _, data = symbol["explanation"]["heatmap"].partition(",")
    assert header == "data:image/png;base64"
    return Image.open(io.BytesIO(base64.b64decode(data)))


def assert_explained(symbol: dict, target: int) -> None:
    explanation = symbol["explanation"]
    grid = explanation["attributions"]
    assert explanation["target"] == target
    assert len(grid) == MNIST_SIDE and all(len(row) == MNIST_SIDE for row in grid)
    total = sum(map(sum, grid))
    assert abs(total - explanation["logit_difference"]) <= (explanation["completeness_gap"] + 0.01) * \
        abs(explanation["logit_difference"])
    left, top, right, bottom = symbol["box"]
    picture = heatmap(symbol)
    assert picture.mode == "RGBA" and max(picture.size) <= 96
    assert abs(picture.width / picture.height - (right - left) / (bottom - top)) < 0.1
    assert picture.getchannel("A").getbbox() is not None  # something is drawn


def test_a_digit_is_explained_as_the_digit_it_was_read_as(torchserve, explain_url):
    pids = worker_pids(torchserve)
    response = requests.post(explain_url, data=SEVEN, headers={"Content-Type": "image/png"}, timeout=30)
    assert response.status_code == 200, response.text[:300]
    answer = response.json()
    assert answer["digit"] == 7 and answer["number"] == "7"
    assert_explained(answer["digits"][0], 7)
    assert explanation_gap(answer) < 0.15
    assert worker_pids(torchserve) == pids


def explanation_gap(answer: dict) -> float:
    return max(symbol["explanation"]["completeness_gap"] for symbol in answer["digits"])


def test_a_named_target_is_explained_instead(explain_url):
    response = requests.post(explain_url, files={"data": ("d.png", SEVEN, "image/png"), "target": (None, "1")},
                             timeout=30)
    answer = response.json()
    assert response.status_code == 200 and answer["digit"] == 7
    assert_explained(answer["digits"][0], 1)
    # Evidence for a 1 in a 7 is weaker than for the 7 itself.
    assert answer["digits"][0]["explanation"]["logit_difference"] < \
        requests.post(explain_url, data=SEVEN, timeout=30).json()["digits"][0]["explanation"]["logit_difference"]


def test_each_symbol_of_a_number_is_explained(explain_url):
    answer = requests.post(explain_url, data=NUMBER, headers={"Content-Type": "image/png"}, timeout=30).json()
    assert answer["number"] == "492"
    for symbol, digit in zip(answer["digits"], (4, 9, 2)):
        assert_explained(symbol, digit)


def test_a_non_digit_is_explained_with_its_best_guess(explain_url):
    answer = requests.post(explain_url, data=non_digit_drawings()["star"], timeout=30).json()
    assert answer["is_digit"] is False and "reason" in answer
    (symbol,) = answer["digits"]
    assert_explained(symbol, symbol["digit"])


@pytest.mark.parametrize("body, content_type, status, error", [
    (b"not an image", "image/png", 400, "not an image"),
    (b'{"image": "' + base64.b64encode(SEVEN) + b'", "target": 12}', "application/json", 400, '"target" must be'),
    (canvas_png(DIGITS[0] * 0), "image/png", 400, "no digit found"),
])
def test_bad_requests_get_their_own_4xx(torchserve, explain_url, web_client, body, content_type, status, error):
    pids = worker_pids(torchserve)
    direct = requests.post(explain_url, data=body, headers={"Content-Type": content_type}, timeout=30)
    through_web = web_client.post("/explain", data=body, content_type=content_type)
    assert (direct.status_code, through_web.status_code) == (status, status)
    assert error in direct.json()["error"] and through_web.get_json()["error"] == direct.json()["error"]
    assert worker_pids(torchserve) == pids


def test_the_web_front_gives_the_same_explanation(explain_url, web_client):
    direct = requests.post(explain_url, data=NUMBER, headers={"Content-Type": "image/png"}, timeout=30).json()
    through_web = web_client.post("/explain", data=NUMBER, content_type="image/png").get_json()
    assert through_web == direct
    named = web_client.post("/explain?target=3", data=SEVEN, content_type="image/png").get_json()
    assert named["digits"][0]["explanation"]["target"] == 3
