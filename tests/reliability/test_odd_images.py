"""Valid images that were misread or refused, each a regression test against a real TorchServe and
the real web front: a phone's photo stored sideways with an EXIF orientation, a phone's multi-picture
JPEG whose MP index is broken, a faint drawing; and canvases whose only ink is a speck, which are
empty. No worker dies."""

from __future__ import annotations

import numpy as np
import pytest
import requests

from bench import hostile_images as hostile
from bench.canvas_png import canvas_png
from bench.loadgen import web_app, worker_pids
from bench.mnist_samples import one_of_each_digit
from tests.fixtures.two_doors import check_torchserve_answer


def faint_drawing(digit: int, alpha: float) -> bytes:
    """A real MNIST digit drawn on a canvas with a pen of opacity ``alpha``."""
    return canvas_png((one_of_each_digit()[digit][1] * alpha).round().astype(np.uint8))


def read_as(digit: int):
    def check(status: int, body: dict) -> None:
        assert status == 200, body
        assert body["is_digit"] and body["digit"] == digit, body
    return check


def refused(start: str):
    def check(status: int, body: dict) -> None:
        assert status == 400, body
        assert body["error"].startswith(start), body
    return check


# name -> (payload, its Content-Type, what the answer must be)
CASES = {
    # Read sideways, the 7 was "not a digit".
    "portrait photo of a 7, stored sideways with EXIF orientation 6": (
        hostile.oriented_jpeg(hostile.paper_photo(7), 6), "image/jpeg", read_as(7)),
    "portrait photo of a 7, stored sideways with EXIF orientation 8": (
        hostile.oriented_jpeg(hostile.paper_photo(7), 8), "image/jpeg", read_as(7)),
    # Refused as "not an image Pillow can read".
    "MPO whose MP index claims one picture more than it lists": (
        hostile.mpo_claiming_more_pictures_than_listed(1), "image/jpeg", read_as(9)),
    "MPO whose second picture is missing": (hostile.mpo_cut_after_first_picture(), "image/jpeg", read_as(9)),
    "drawing of a 3 with a pen at 30% opacity": (faint_drawing(3, 0.3), "image/png", read_as(3)),
    "drawing of a 3 with a pen at 50% opacity": (faint_drawing(3, 0.5), "image/png", read_as(3)),
    # Each was answered "not a digit" or, for the last, was read twice at open.
    "transparent canvas holding one semi-transparent pixel": (
        hostile.transparent_canvas_with({(140, 140): 128}), "image/png", refused("no digit found")),
    "transparent canvas holding a few faint pixels": (
        hostile.transparent_canvas_with({(40, 60): 40, (200, 90): 60, (120, 230): 50, (141, 141): 70}),
        "image/png", refused("no digit found")),
    "MPO with a broken MP index and an EXIF of 5,400 tags": (
        hostile.with_tiff_segment(hostile.mpo_claiming_more_pictures_than_listed(1), 5400), "image/jpeg",
        refused("the image has over 512 EXIF tags")),
}


@pytest.fixture(scope="module")
def web_client(torchserve):
    return web_app(torchserve).test_client()


@pytest.mark.parametrize("name", CASES)
def test_directly_to_torchserve(torchserve, name):
    payload, content_type, check = CASES[name]
    pids = worker_pids(torchserve)
    response = requests.post(torchserve.predictions_url(), data=payload, headers={"Content-Type": content_type},
                             timeout=15)
    check_torchserve_answer(torchserve, response, check)
    assert worker_pids(torchserve) == pids


@pytest.mark.parametrize("name", CASES)
def test_through_the_web_front(web_client, torchserve, name):
    payload, content_type, check = CASES[name]
    pids = worker_pids(torchserve)
    response = web_client.post("/predict", data=payload, content_type=content_type)
    check(response.status_code, response.get_json())
    assert worker_pids(torchserve) == pids


def test_boxes_of_a_sideways_photo_are_given_as_it_is_shown(web_client):
    """The photo is shown 3024 wide and 4032 tall; its 7 is drawn in the middle 2000 pixels."""
    payload, content_type, _ = CASES["portrait photo of a 7, stored sideways with EXIF orientation 6"]
    (symbol,) = web_client.post("/predict", data=payload, content_type=content_type).get_json()["digits"]
    left, top, right, bottom = symbol["box"]
    assert 512 <= left < right <= 3024 - 512 and 1016 <= top < bottom <= 4032 - 1016
