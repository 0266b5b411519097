"""The explanations' faithfulness checks of bench/explain_benchmark.py, on fewer validation digits:
the ink they rank highest matters most to the model, and a network with random weights is
explained differently."""

from __future__ import annotations

import pytest
import torch

from bench.explain_benchmark import deletion_test, fitted_validation_digits, sanity_check
from handler.mnist_contract import NUM_DIGITS
from serving.settings import SERIALIZED_MODEL

DIGITS = 80


@pytest.fixture(scope="module")
def explained():
    torch.set_num_threads(1)
    model = torch.jit.load(str(SERIALIZED_MODEL)).eval()
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    pixels, _ = fitted_validation_digits(DIGITS)
    with torch.inference_mode():
        chosen = model(pixels)[:, :NUM_DIGITS].argmax(dim=1)
    return model, pixels, chosen


def test_blanking_the_most_attributed_ink_costs_at_least_twice_a_random_blanking(explained):
    model, pixels, chosen = explained
    assert deletion_test(model, pixels, chosen)["ratio"] >= 2


def test_random_weights_are_explained_differently(explained):
    model, pixels, chosen = explained
    assert sanity_check(model.statistics.network, pixels, chosen) < 0.5
