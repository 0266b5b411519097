"""How familiar a drawing looks to the network: its layers' statistics against training digits'.

The eleventh class only knows the kinds of non-digit it was trained on. Leave-kinds-out
(training/leave_kinds_out.py) measures a score that does not need them: the distance from a
drawing's per-channel mean and spread of every layer's maps to the K-th nearest of some training
digits' (Sun et al. 2022, "Out-of-distribution detection with deep nearest neighbors"). Both pieces
are TorchScript-able: the served module (training/model.py) carries them, and gives the distance as
its last output column (docs/RECOGNITION.md, "Kinds never seen").
"""

from __future__ import annotations

import torch
from torch import nn

# Training digits kept and the neighbour measured to: the paper's K of 50 among 24,000 digits, scaled
# to what a served file could carry (4,000 keep nearly all of the gain: docs/RECOGNITION.md).
BANK_DIGITS = 4000
BANK_NEIGHBOUR = 8
# Which training digits are kept: the same draw at every training and fine-tune.
BANK_SEED = 0


def kept_for_bank(count: int) -> torch.Tensor:
    """The indices of the BANK_DIGITS (or fewer) of ``count`` training digits kept."""
    return torch.randperm(count, generator=torch.Generator().manual_seed(BANK_SEED))[:BANK_DIGITS]


class LayerStatistics(nn.Module):
    """A DigitResNet's logits and, after them, per channel the mean and then the spread over the
    pixels of its stem's and every stage's maps (the last stage's means are the pooled features
    its last layer reads)."""

    def __init__(self, network: nn.Module):
        super().__init__()
        self.network = network

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        maps = [self.network.stem((pixels - self.network.mean) / self.network.std)]
        for stage in self.network.stages:
            maps.append(stage(maps[-1]))
        # No int8 kernel for these: an FX-quantized copy computes them on float maps.
        pairs = [mean_and_spread(block) for block in maps]
        return torch.cat([self.network.head(maps[-1])] + [pair[0] for pair in pairs] + [pair[1] for pair in pairs],
                         dim=1)


def mean_and_spread(maps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per channel of (N, C, H, W) ``maps``, the mean and the standard deviation over the pixels
    (as torch.std_mean gives them), from two plain means: torch.std_mean took 2.6 of the int8 served
    module's 4.6 ms for 8 drawings on one CPU thread, these take a twentieth of that."""
    mean = maps.mean(dim=(2, 3))
    pixels = maps.shape[2] * maps.shape[3]
    variance = (maps - mean[:, :, None, None]).square().mean(dim=(2, 3)) * pixels / (pixels - 1)
    return mean, variance.sqrt()


# One node to FX, as torch.std_mean was: int8 quantization must not reach inside (an int8 mean and
# spread are too coarse to measure a distance with), so it computes them on float maps.
torch.fx.wrap("mean_and_spread")


def statistic_widths(network: nn.Module) -> list[int]:
    """The width of each block of LayerStatistics' columns after the logits: means, then spreads."""
    widths = [network.stem[0].out_channels] + [stage.body[0].out_channels for stage in network.stages]
    return widths * 2


def pooled_features(statistics: torch.Tensor, widths: list[int]) -> torch.Tensor:
    """The last stage's means among ``statistics`` (LayerStatistics' columns after the logits, in
    blocks of ``widths``): the pooled features the network's last layer reads."""
    return statistics.split(widths, dim=1)[len(widths) // 2 - 1]


class NearestDigits(nn.Module):
    """The distance of a drawing's statistics, each block made unit length (so each layer counts
    alike whatever its scale), to the K-th nearest training digit's. TorchScript-able."""

    def __init__(self, digit_statistics: torch.Tensor, widths: list[int], neighbour: int):
        super().__init__()
        self.widths = widths
        self.neighbour = neighbour
        with torch.inference_mode(False):  # a bank made of inference tensors could not be used under autograd
            self.register_buffer("bank", self.unit(digit_statistics.clone()))

    def unit(self, statistics: torch.Tensor) -> torch.Tensor:
        blocks = [nn.functional.normalize(block, dim=1) for block in statistics.float().split(self.widths, dim=1)]
        return torch.cat(blocks, dim=1) / len(blocks) ** 0.5

    def forward(self, statistics: torch.Tensor) -> torch.Tensor:
        """One distance per row, every row against the whole bank at once: no loop that a traced copy
        would fix to one batch size (callers with tens of thousands of rows pass them in chunks)."""
        similarity = torch.topk(self.unit(statistics) @ self.bank.T, self.neighbour, dim=1).values[:, -1]
        return (2 - 2 * similarity).clamp(min=0).sqrt()
