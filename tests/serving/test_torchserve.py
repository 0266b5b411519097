"""Requests to a real TorchServe started from config.properties with the shipped model."""

from __future__ import annotations

import base64
import json
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import requests
import torch

from bench.canvas_png import canvas_png, ink_png, number_canvas, with_decimal_point
from bench.loadgen import worker_pids
from bench.mnist_samples import mnist_test_set, non_digit_drawings, one_of_each_digit
from handler.mnist_preprocess import image_to_symbols
from serving.settings import INT8_MODEL, SERIALIZED_MODEL
from serving.torchserve import model_workers
from tests.fixtures.images import png_header_only

SEVEN = canvas_png(one_of_each_digit()[7][1], box=160, top=90, left=30)


def test_workers_are_ready(torchserve):
    states = [worker["status"] for worker in model_workers(torchserve)]
    assert states and all(state == "READY" for state in states)


def test_a_cpu_worker_serves_the_int8_file(torchserve):
    """The probabilities served are the int8 file's, not the float one's (they differ slightly)."""
    pixels = torch.stack([symbol.pixels for symbol in image_to_symbols(SEVEN)])
    with torch.inference_mode():
        expected = {path: torch.jit.load(str(path)).eval()(pixels)[0, :10] for path in (INT8_MODEL, SERIALIZED_MODEL)}
    served = torch.tensor(requests.post(torchserve.predictions_url(), data=SEVEN, timeout=10).json()["probabilities"])
    assert torch.allclose(served, expected[INT8_MODEL].float(), atol=1e-6)
    assert not torch.allclose(served, expected[SERIALIZED_MODEL].float(), atol=1e-6)


def test_every_way_of_sending_the_png_gives_the_same_answer(torchserve):
    url = torchserve.predictions_url()
    encoded = base64.b64encode(SEVEN).decode()
    responses = [
        requests.post(url, data=SEVEN, headers={"Content-Type": "image/png"}, timeout=10),
        requests.post(url, files={"data": ("seven.png", SEVEN, "image/png")}, timeout=10),
        requests.post(url, data=encoded, headers={"Content-Type": "text/plain"}, timeout=10),
        requests.post(url, json={"image": "data:image/png;base64," + encoded}, timeout=10),
        requests.post(url, json={"data": encoded}, timeout=10),
    ]
    answers = [response.json() for response in responses]
    assert [response.status_code for response in responses] == [200] * 5
    assert all(answer == answers[0] for answer in answers)
    assert answers[0]["digit"] == 7
    assert set(answers[0]) == {"number", "is_digit", "digits", "digit", "confidence", "probabilities", "top3"}
    assert answers[0]["number"] == "7" and answers[0]["is_digit"] is True


def test_preview_on_request(torchserve):
    url = torchserve.predictions_url()
    as_form = requests.post(url, files={"data": SEVEN}, data={"preview": "true"}, timeout=10).json()
    as_json = requests.post(url, json={"image": base64.b64encode(SEVEN).decode(), "preview": True}, timeout=10).json()
    assert as_form["preview"].startswith("data:image/png;base64,")
    assert as_form == as_json


@pytest.mark.parametrize("digit, image", one_of_each_digit(), ids=[str(d) for d in range(10)])
def test_all_ten_digits_drawn_on_a_canvas(torchserve, digit, image):
    png = canvas_png(image, box=110 + 10 * digit, top=8 * digit, left=100 - 9 * digit)
    answer = requests.post(torchserve.predictions_url(), data=png, timeout=10).json()
    assert answer["digit"] == digit, answer


NON_DIGITS = non_digit_drawings()

BAD_INPUTS = {
    "not an image": (b"this is text, not a PNG", 400),
    "empty": (b"", 400),
    "truncated PNG": (SEVEN[: len(SEVEN) // 3], 400),
    "huge dimensions": (png_header_only(20_000, 20_000), 413),
    "decompression bomb": (png_header_only(100_000, 100_000), 413),
    "empty canvas": (canvas_png(np.zeros((28, 28), np.uint8)), 400),
}


@pytest.mark.parametrize("name", BAD_INPUTS)
def test_bad_input_gets_a_json_4xx_and_the_workers_survive(torchserve, name):
    data, status = BAD_INPUTS[name]
    pids = worker_pids(torchserve)
    response = requests.post(torchserve.predictions_url(), data=data, headers={"Content-Type": "image/png"},
                             timeout=10)
    assert response.status_code == status, response.text
    assert "error" in response.json() or "message" in response.json()
    assert worker_pids(torchserve) == pids


def test_a_request_over_max_request_size_is_refused_by_the_frontend(torchserve):
    pids = worker_pids(torchserve)
    response = requests.post(torchserve.predictions_url(), data=b"\0" * (4 * 1024 * 1024), timeout=10)
    assert response.status_code == 413
    assert worker_pids(torchserve) == pids


def test_a_concurrent_mix_of_good_and_bad_requests(torchserve):
    """Enough at once to form batches: each good request gets its digit, each bad one its own 4xx."""
    pids = worker_pids(torchserve)
    digits = one_of_each_digit()
    jobs = []
    for index in range(40):
        digit, image = digits[index % 10]
        jobs.append((digit, canvas_png(image)) if index % 3 else (None, b"garbage" * index))

    def send(job):
        return job[0], requests.post(torchserve.predictions_url(), data=job[1], timeout=30)

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(send, jobs))
    for expected, response in results:
        if expected is None:
            assert response.status_code == 400 and "error" in response.json()
        else:
            assert response.status_code == 200 and response.json()["digit"] == expected
    assert worker_pids(torchserve) == pids


def test_accuracy_through_the_whole_serving_path(torchserve):
    """1,000 MNIST test digits as canvas PNGs score within 0.5 points of the model in-process."""
    images, labels = mnist_test_set()
    rng = np.random.default_rng(0)
    count = 1000
    model = torch.jit.load(str(INT8_MODEL)).eval()  # the file a CPU worker serves
    with torch.inference_mode():
        in_process = model(torch.from_numpy(images[:count]).unsqueeze(1).float() / 255)[:, :10].argmax(1).numpy()
    in_process_accuracy = float((in_process == labels[:count]).mean())

    def send(index):
        box = int(rng.integers(120, 240))
        top, left = (int(v) for v in rng.integers(0, 280 - box, size=2))
        png = canvas_png(images[index], box=box, top=top, left=left)
        # A digit split in two, or taken for no digit, has no top-level digit: it counts as wrong.
        return json.loads(requests.post(torchserve.predictions_url(), data=png, timeout=30).text).get("digit", -1)

    with ThreadPoolExecutor(8) as pool:
        served = np.array(list(pool.map(send, range(count))))
    served_accuracy = float((served == labels[:count]).mean())
    print(f"in-process {in_process_accuracy:.2%}, through TorchServe as canvas PNGs {served_accuracy:.2%}")
    assert served_accuracy >= in_process_accuracy - 0.005


def test_a_number_is_read_left_to_right_with_a_box_per_digit(torchserve):
    digits = dict(one_of_each_digit())
    canvas = number_canvas([digits[4], digits[2], digits[0]], height=140, gap=35, jitter=10)
    answer = requests.post(torchserve.predictions_url(), data=ink_png(canvas), timeout=10).json()
    assert answer["number"] == "420" and answer["is_digit"] is True, answer
    assert "digit" not in answer and len(answer["digits"]) == 3
    lefts = [symbol["box"][0] for symbol in answer["digits"]]
    assert lefts == sorted(lefts) and all(symbol["box"][2] <= canvas.shape[1] for symbol in answer["digits"])


def test_a_touching_pair_is_two_digits_a_question_mark_no_digit_and_a_decimal_point_a_mark(torchserve):
    digits = dict(one_of_each_digit())
    touching = ink_png(number_canvas([digits[4], digits[8]], height=150, gap=-10))
    pair = requests.post(torchserve.predictions_url(), data=touching, timeout=10).json()
    assert pair["number"] == "48" and len(pair["digits"]) == 2, pair["number"]
    question = requests.post(torchserve.predictions_url(), data=NON_DIGITS["question mark"], timeout=10).json()
    assert question["is_digit"] is False and len(question["digits"]) == 1  # the dot stays with its hook
    point = ink_png(with_decimal_point(number_canvas([digits[3], digits[5]], height=150, gap=40), 10))
    decimal = requests.post(torchserve.predictions_url(), data=point, timeout=10).json()
    assert [symbol.get("mark") for symbol in decimal["digits"]] == [None, ".", None] and decimal["number"] == "35"
    assert decimal["is_digit"] is False and "decimal point" in decimal["reason"]


def test_drawings_that_are_not_digits_are_a_200_that_says_so(torchserve):
    answers = [requests.post(torchserve.predictions_url(), data=png, timeout=10) for png in NON_DIGITS.values()]
    assert all(response.status_code == 200 for response in answers)
    flagged = [name for name, response in zip(NON_DIGITS, answers) if response.json()["is_digit"] is False]
    assert len(flagged) >= len(NON_DIGITS) - 1, flagged
    for name in flagged:
        answer = answers[list(NON_DIGITS).index(name)].json()
        assert answer["number"] == "" and answer["reason"] and "digit" not in answer
