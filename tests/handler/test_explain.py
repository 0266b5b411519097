"""Unit tests of handler/mnist_explain.py on the shipped float model and real MNIST digits."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
import torch
from captum.attr import IntegratedGradients
from PIL import Image

from bench.canvas_png import canvas_png
from bench.mnist_samples import one_of_each_digit
from handler.mnist_explain import (
    COMPLETENESS_TARGET,
    MAX_REFINED_STEPS,
    PATH_POINTS_PER_REQUEST,
    attributions_within_budget,
    explained_digits,
    heatmap_png,
    ink_region,
    integrated_gradients,
    steps_for,
)
from handler.mnist_preprocess import image_to_symbols
from serving.settings import SERIALIZED_MODEL


@pytest.fixture(scope="module")
def network():
    model = torch.jit.load(str(SERIALIZED_MODEL)).eval()
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    return model.statistics.network


@pytest.fixture(scope="module")
def digits():
    """The model's input for one canvas of each digit, and the digits."""
    pairs = one_of_each_digit()
    pixels = torch.stack([image_to_symbols(canvas_png(image))[0].pixels for _, image in pairs])
    return pixels, torch.tensor([digit for digit, _ in pairs])


def test_the_same_as_captums_integrated_gradients(network, digits):
    pixels, targets = digits
    ours = torch.stack([a.grid for a in integrated_gradients(network, pixels, targets, steps=32)])
    captums = IntegratedGradients(network).attribute(pixels, baselines=torch.zeros_like(pixels), target=targets,
                                                     n_steps=32, method="gausslegendre").squeeze(1)
    assert torch.allclose(ours, captums, atol=1e-4 * float(captums.abs().max()))


def test_attributions_add_up_to_the_logit_difference_as_steps_grow(network, digits):
    pixels, targets = digits
    gaps = {steps: np.mean([a.completeness_gap for a in integrated_gradients(network, pixels, targets, steps)])
            for steps in (8, 64)}
    assert gaps[64] < 0.05 and gaps[64] < gaps[8] / 3
    with torch.inference_mode():
        logits = network(torch.cat([pixels, torch.zeros_like(pixels[:1])]))
    (first,) = integrated_gradients(network, pixels[:1], targets[:1], 64)
    assert first.logit_difference == pytest.approx(float(logits[0, targets[0]] - logits[-1, targets[0]]), rel=1e-4)


def test_a_blank_canvas_baseline_puts_every_attribution_on_ink(network, digits):
    pixels, targets = digits
    for attribution, fitted in zip(integrated_gradients(network, pixels, targets, steps_for(1)), pixels):
        assert (attribution.grid[fitted[0] == 0] == 0).all()


def test_the_digit_explained_is_the_clients_or_else_the_models():
    outputs = torch.tensor([[0.1, 0.7, 0.2, *[0.0] * 7, 0.01], [0.6, 0.1, 0.3, *[0.0] * 7, 0.9]])
    assert explained_digits(outputs, None).tolist() == [1, 0]
    assert explained_digits(outputs, 8).tolist() == [8, 8]


def test_the_heat_map_covers_the_box_in_its_colours():
    pixels = torch.zeros(1, 28, 28)
    pixels[0, 4:24, 10:18] = 1.0  # a tall symbol, 20 x 8 in the field
    grid = torch.zeros(28, 28)
    grid[4:14, 10:18], grid[14:24, 10:18] = 1.0, -0.5  # top half for, bottom half against
    assert ink_region(pixels) == (4, 10, 24, 18)
    url = heatmap_png(grid, pixels, (100, 50, 140, 150))  # a 40 x 100 box
    picture = Image.open(io.BytesIO(base64.b64decode(url.partition(",")[2]))).convert("RGBA")
    assert picture.size == (38, 96)
    top, bottom = picture.getpixel((19, 10)), picture.getpixel((19, 85))
    assert top[0] > top[2] and bottom[2] > bottom[0]  # orange for, blue against
    assert top[3] > bottom[3] > 0  # the stronger evidence is the more opaque


def test_within_its_budget_a_lone_digit_adds_up_within_five_percent(network, digits):
    pixels, targets = digits
    for index in range(len(pixels)):
        (attribution,) = attributions_within_budget(network, pixels[index:index + 1], targets[index:index + 1])
        assert attribution.completeness_gap <= COMPLETENESS_TARGET
        assert attribution.steps in (steps_for(1), min(MAX_REFINED_STEPS, PATH_POINTS_PER_REQUEST - steps_for(1)))


def test_a_number_refines_only_what_its_budget_leaves(network, digits):
    pixels, targets = digits
    eight = attributions_within_budget(network, pixels[:8], targets[:8])
    assert {a.steps for a in eight} == {steps_for(8)}  # 8 x 24 steps spend the whole budget
    pair = attributions_within_budget(network, pixels[:2], targets[:2])
    assert sum(a.steps for a in pair) <= PATH_POINTS_PER_REQUEST
