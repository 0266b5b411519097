"""How familiar a drawing looks to the network (training/familiarity.py)."""

from __future__ import annotations

import torch

from handler.mnist_contract import NUM_CLASSES
from training.familiarity import LayerStatistics, NearestDigits, mean_and_spread, pooled_features, statistic_widths
from training.model import DigitResNet


def test_nearest_digits_scores_by_the_kth_nearest_training_digit_whatever_its_length():
    generator = torch.Generator().manual_seed(0)
    training = torch.nn.functional.normalize(torch.randn(200, 8, generator=generator), dim=1)
    nearest = NearestDigits(3 * training, [8], neighbour=5)  # lengths do not count: made unit length
    crowded = NearestDigits(torch.cat([training[:1].repeat(5, 1), training[1:]]), [8], neighbour=5)
    assert torch.allclose(crowded(5 * training[:1]), torch.zeros(1), atol=1e-3)
    assert nearest(training[:1]).item() > 0.1  # one neighbour at distance 0 is not five of them


def test_each_block_of_statistics_counts_alike_whatever_its_scale():
    generator = torch.Generator().manual_seed(0)
    small, large = torch.randn(1, 4, generator=generator), 1000 * torch.randn(1, 16, generator=generator)
    # Training digits on one point, whose small block alone turned round is as far as its large one.
    nearest = NearestDigits(torch.cat([small, large], dim=1).repeat(3, 1), [4, 16], neighbour=3)
    assert torch.allclose(nearest(torch.cat([small, large], dim=1)), torch.zeros(1), atol=1e-3)
    assert torch.allclose(nearest(torch.cat([-small, large], dim=1)), torch.tensor([2 ** 0.5]), atol=1e-3)
    assert torch.allclose(nearest(torch.cat([small, -large], dim=1)), torch.tensor([2 ** 0.5]), atol=1e-3)
    assert torch.allclose(nearest.bank.norm(dim=1), torch.ones(3))


def test_layer_statistics_are_the_network_s_logits_then_each_layer_s_means_and_spreads():
    torch.manual_seed(0)
    network = DigitResNet().eval()
    pixels = torch.rand(5, 1, 28, 28)
    with torch.inference_mode():
        rows = LayerStatistics(network)(pixels)
        maps = network.feature_maps(pixels)
    widths = statistic_widths(network)
    assert widths == [32, 32, 64, 128] * 2 and rows.shape == (5, NUM_CLASSES + sum(widths))
    assert torch.allclose(rows[:, :NUM_CLASSES], network(pixels), atol=1e-5)
    blocks = rows[:, NUM_CLASSES:].split(widths, dim=1)
    assert torch.allclose(blocks[3], maps.mean(dim=(2, 3)), atol=1e-5)
    assert torch.allclose(pooled_features(rows[:, NUM_CLASSES:], widths), network.head[:2](maps), atol=1e-5)
    assert torch.allclose(blocks[7], maps.std(dim=(2, 3)), atol=1e-5)


def test_both_pieces_script_to_torchscript_unchanged():
    torch.manual_seed(0)
    statistics = LayerStatistics(DigitResNet().eval()).eval()
    pixels = torch.rand(6, 1, 28, 28)
    with torch.inference_mode():
        rows = statistics(pixels)
        nearest = NearestDigits(rows[:3, NUM_CLASSES:], statistic_widths(statistics.network), neighbour=2)
        distances = nearest(rows[:, NUM_CLASSES:])
        assert torch.allclose(torch.jit.script(statistics)(pixels), rows, atol=1e-5)
        assert torch.allclose(torch.jit.script(nearest)(rows[:, NUM_CLASSES:]), distances, atol=1e-5)
    assert distances[3:].min() > 0  # the other three drawings are none of the kept ones


def test_mean_and_spread_are_those_torch_std_mean_gives_whatever_the_memory_layout():
    maps = torch.rand(3, 5, 7, 7, generator=torch.Generator().manual_seed(0)) * 4
    spread, mean = torch.std_mean(maps, dim=(2, 3))
    for layout in (maps, maps.contiguous(memory_format=torch.channels_last)):
        ours = mean_and_spread(layout)
        assert torch.allclose(ours[0], mean, atol=1e-6) and torch.allclose(ours[1], spread, atol=1e-5)
