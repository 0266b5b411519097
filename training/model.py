"""A small residual network for 1x28x28 MNIST digits.

The network takes pixels in [0, 1] and normalises them itself with the MNIST statistics, so the
exported TorchScript file carries the only copy of those numbers that serving needs.
"""

from __future__ import annotations

import torch
from torch import nn

from handler.mnist_contract import MNIST_SIDE, NUM_CLASSES, NUM_DIGITS
from training.familiarity import NearestDigits

MNIST_MEAN = 0.1307
MNIST_STD = 0.3081
STAGE_WIDTHS = (32, 64, 128)
BLOCKS_PER_STAGE = (1, 1, 1)


class ResidualBlock(nn.Module):
    """Two 3x3 convolutions whose output is added to the input (projected by a 1x1 where needed)."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
            nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
        )
        if stride != 1 or in_channels != out_channels:
            self.shortcut: nn.Module = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )
        else:
            self.shortcut = nn.Identity()
        self.activation = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.activation(self.body(x) + self.shortcut(x))


class DigitResNet(nn.Module):
    """Stem, three residual stages (28, 14 and 7 pixels), global average pooling, one linear layer."""

    def __init__(self, widths: tuple[int, ...] = STAGE_WIDTHS, blocks: tuple[int, ...] = BLOCKS_PER_STAGE,
                 stem_dropout: float = 0.05, head_dropout: float = 0.1):
        super().__init__()
        self.register_buffer("mean", torch.tensor(MNIST_MEAN))
        self.register_buffer("std", torch.tensor(MNIST_STD))
        self.stem = nn.Sequential(
            nn.Conv2d(1, widths[0], 3, padding=1, bias=False),
            nn.BatchNorm2d(widths[0]),
            nn.ReLU(inplace=True),
            nn.Dropout2d(stem_dropout),
        )
        stages = []
        in_channels = widths[0]
        for index, (width, count) in enumerate(zip(widths, blocks)):
            for block in range(count):
                stride = 2 if index > 0 and block == 0 else 1
                stages.append(ResidualBlock(in_channels, width, stride))
                in_channels = width
        self.stages = nn.Sequential(*stages)
        self.head = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Dropout(head_dropout),
            nn.Linear(in_channels, NUM_CLASSES),
        )

    def feature_maps(self, pixels: torch.Tensor) -> torch.Tensor:
        """``pixels``: (N, 1, 28, 28) in [0, 1], ink light on dark as in MNIST. Returns the last
        stage's (N, C, 7, 7) maps, which the head pools and reads."""
        return self.stages(self.stem((pixels - self.mean) / self.std))

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        """``pixels`` as ``feature_maps`` takes them. Returns (N, 11) logits."""
        return self.head(self.feature_maps(pixels))


class CalibratedDigitModel(nn.Module):
    """The trained network with its temperature, its "not a digit" threshold and the training digits
    its familiarity is measured against baked in.

    This is the module exported to TorchScript and served. Output (N, NUM_OUTPUTS), as
    handler/mnist_contract.py says: the ten digits' calibrated probabilities (summing to one), the
    probability that the drawing is not a digit (a digit when below ``non_digit_threshold``), and
    the distance of its layers' statistics to the nearest training digits' (``nearest``) divided by
    ``unfamiliar_distance`` (a whole drawing at 1 or more looks like no digit). ``statistics`` is a
    LayerStatistics of the network (whose ``network`` the explanations use) or its int8 copy.
    """

    __constants__ = ["num_digits", "num_classes"]

    def __init__(self, statistics: nn.Module, temperature: float, non_digit_threshold: float, nearest: NearestDigits,
                 unfamiliar_distance: float):
        super().__init__()
        self.num_digits, self.num_classes = NUM_DIGITS, NUM_CLASSES
        self.statistics = statistics
        self.nearest = nearest
        self.register_buffer("temperature", torch.tensor(temperature))
        self.register_buffer("non_digit_threshold", torch.tensor(non_digit_threshold))
        self.register_buffer("unfamiliar_distance", torch.tensor(unfamiliar_distance))

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        rows = self.statistics(pixels)
        logits = rows[:, :self.num_classes] / self.temperature
        digits = torch.softmax(logits[:, :self.num_digits], dim=1)
        not_a_digit = torch.softmax(logits, dim=1)[:, self.num_digits:]
        unfamiliarity = self.nearest(rows[:, self.num_classes:]) / self.unfamiliar_distance
        return torch.cat([digits, not_a_digit, unfamiliarity[:, None]], dim=1)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def count_macs(model: nn.Module) -> int:
    """Multiply-accumulates of convolutions and linear layers for one 1x28x28 image."""
    macs = 0

    def conv_hook(module: nn.Conv2d, _inputs, output: torch.Tensor) -> None:
        nonlocal macs
        kernel = module.kernel_size[0] * module.kernel_size[1] * module.in_channels // module.groups
        macs += output[0].numel() * kernel

    def linear_hook(module: nn.Linear, _inputs, _output) -> None:
        nonlocal macs
        macs += module.in_features * module.out_features

    hooks = [m.register_forward_hook(conv_hook) for m in model.modules() if isinstance(m, nn.Conv2d)]
    hooks += [m.register_forward_hook(linear_hook) for m in model.modules() if isinstance(m, nn.Linear)]
    was_training = model.training
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, 1, MNIST_SIDE, MNIST_SIDE))
    model.train(was_training)
    for hook in hooks:
        hook.remove()
    return macs
