"""The shipped TorchScript file, loaded in the serving environment (torch 2.13, no fastai)."""

from __future__ import annotations

import json

import torch

from serving.settings import REPO_ROOT, SERIALIZED_MODEL
from tests.mnist_samples import mnist_test_set
from training.calibration import expected_calibration_error
from training.export import reference_path, sha256_of

METRICS = json.loads((REPO_ROOT / "docs" / "model" / "metrics.json").read_text())


def test_serving_environment_is_not_the_training_one():
    assert torch.__version__.startswith("2.13.") and METRICS["versions"]["torch"].startswith("2.14.")


def test_outputs_match_those_recorded_by_the_training_environment():
    model = torch.jit.load(str(SERIALIZED_MODEL)).eval()
    reference = torch.load(reference_path(SERIALIZED_MODEL))
    with torch.inference_mode():
        logits = model(reference["pixels"])
    assert torch.allclose(logits, reference["logits"], atol=1e-5), (logits - reference["logits"]).abs().max()


def test_the_shipped_file_is_the_one_the_model_card_describes():
    assert sha256_of(SERIALIZED_MODEL) == METRICS["model_sha256"]
    assert not METRICS["quick"]


def test_the_shipped_model_reaches_the_model_card_accuracy_on_the_whole_test_set():
    images, labels = mnist_test_set()
    model = torch.jit.load(str(SERIALIZED_MODEL)).eval()
    with torch.inference_mode():
        predictions = torch.cat([model(torch.from_numpy(images[i:i + 1000]).unsqueeze(1).float() / 255)[:, :10].argmax(1)
                                 for i in range(0, len(images), 1000)])
    errors = int((predictions != torch.from_numpy(labels)).sum())
    # Another torch version may tip a digit that sits on a decision boundary; no more than that.
    assert abs(errors - METRICS["test_errors"]) <= 1, (errors, METRICS["test_errors"])


def test_the_shipped_model_is_calibrated_and_flags_few_real_digits():
    """On the MNIST test set (which chose nothing): calibration error within half a point of the
    card's and under the 1.5% target; no more real digits flagged as "not a digit" than 0.5%."""
    images, labels = mnist_test_set()
    model = torch.jit.load(str(SERIALIZED_MODEL)).eval()
    with torch.inference_mode():
        outputs = torch.cat([model(torch.from_numpy(images[i:i + 1000]).unsqueeze(1).float() / 255)
                             for i in range(0, len(images), 1000)])
    ece = expected_calibration_error(outputs[:, :10], torch.from_numpy(labels).long())
    card = METRICS["expected_calibration_error"]["MNIST test, calibrated"]
    assert ece <= min(card + 0.005, 0.015), (ece, card)
    flagged = float((outputs[:, 10] >= model.non_digit_threshold).float().mean())
    assert flagged <= 0.005 and abs(flagged - METRICS["not_a_digit"]["MNIST test digits flagged"]) < 0.001
