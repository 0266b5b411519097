"""Unit tests of handler/mnist_batch.py and mnist_device.py (no TorchServe)."""

from __future__ import annotations

import torch
from mnist_batch import batch_answers, describe_prediction, prepare_batch
from mnist_device import choose_device

from serving.canvas_png import canvas_png
from tests.mnist_samples import one_of_each_digit


def test_a_batch_keeps_bad_requests_apart_from_good_ones():
    good = canvas_png(one_of_each_digit()[3][1])
    rows = [{"body": good}, {"body": b"not an image"}, {"body": good, "preview": b"true"}, {"body": b""}]
    batch = prepare_batch(rows)
    assert batch.size == 4 and batch.good_rows == [0, 2] and sorted(batch.errors) == [1, 3]
    assert batch.pixels.shape == (2, 1, 28, 28)
    probabilities = torch.tensor([[0.0] * 3 + [1.0] + [0.0] * 6, [0.5, 0.3, 0.2] + [0.0] * 7])
    answers = batch_answers(batch, probabilities)
    assert [answer.get("digit") for answer in answers] == [3, None, 0, None]
    assert "error" in answers[1] and "error" in answers[3]
    assert "preview" in answers[2] and "preview" not in answers[0]


def test_an_all_bad_batch_needs_no_inference():
    batch = prepare_batch([{"body": b"x"}, {}])
    assert batch.good_rows == [] and batch.pixels.shape[0] == 0
    assert all("error" in answer for answer in batch_answers(batch, None))


def test_prediction_description():
    probabilities = torch.softmax(torch.arange(10.0), dim=0)
    answer = describe_prediction(probabilities)
    assert answer["digit"] == 9
    assert answer["confidence"] == answer["top3"][0]["probability"]
    assert [entry["digit"] for entry in answer["top3"]] == [9, 8, 7]
    assert len(answer["probabilities"]) == 10 and abs(sum(answer["probabilities"]) - 1) < 1e-4


def test_device_choice():
    assert choose_device(None, cuda_available=False) == torch.device("cpu")
    assert choose_device(None, cuda_available=True) == torch.device("cpu")
    assert choose_device(0, cuda_available=False) == torch.device("cpu")
    assert choose_device(1, cuda_available=True) == torch.device("cuda:1")
    assert choose_device("0", cuda_available=True) == torch.device("cuda:0")
