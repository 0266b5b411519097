"""The residual network (training/model.py): shapes, size, and that the skips are real."""

from __future__ import annotations

import torch

from training.model import DigitResNet, ResidualBlock, count_macs, count_parameters


def test_output_shape_and_size():
    model = DigitResNet().eval()
    assert model(torch.rand(5, 1, 28, 28)).shape == (5, 11)
    assert 100_000 < count_parameters(model) < 1_000_000
    assert 10e6 < count_macs(model) < 60e6


def test_identity_skip_carries_the_input_when_the_body_is_silenced():
    block = ResidualBlock(8, 8).eval()
    torch.nn.init.zeros_(block.body[-1].weight)  # last batch norm scales the body to zero
    x = torch.rand(2, 8, 14, 14)
    assert torch.equal(block(x), torch.relu(x))


def test_projection_skip_where_the_shape_changes():
    block = ResidualBlock(8, 16, stride=2)
    assert isinstance(block.shortcut, torch.nn.Sequential)
    assert block(torch.rand(2, 8, 14, 14)).shape == (2, 16, 7, 7)


def test_gradient_reaches_the_input_through_the_skip_alone():
    block = ResidualBlock(4, 4).eval()
    for parameter in block.body.parameters():
        parameter.requires_grad_(False)
    torch.nn.init.zeros_(block.body[-1].weight)
    x = torch.rand(1, 4, 7, 7, requires_grad=True)
    block(x).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_the_model_normalises_its_own_input():
    model = DigitResNet()
    assert abs(model.mean.item() - 0.1307) < 1e-6 and abs(model.std.item() - 0.3081) < 1e-6
