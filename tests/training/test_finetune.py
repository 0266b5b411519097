"""The candidate's weights: an average of the serving and the fine-tuned ones, counters untouched."""

import torch

from training.finetune import weight_average


def small_network(weight: float) -> torch.nn.Module:
    network = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.BatchNorm2d(2))
    for value in network.state_dict().values():
        value.fill_(weight)
    return network


def test_the_average_moves_each_weight_its_share_of_the_way_and_keeps_counters():
    serving, tuned = small_network(1.0), small_network(3.0)
    tuned[1].num_batches_tracked.fill_(7)
    averaged = weight_average(serving, tuned, 0.25)
    state = averaged.state_dict()
    for name, value in state.items():
        if value.is_floating_point():
            assert torch.equal(value, torch.full_like(value, 1.5)), name
    assert int(state["1.num_batches_tracked"]) == 7
    assert torch.equal(serving[0].weight, torch.ones_like(serving[0].weight))


def test_the_ends_of_the_average_are_the_two_models():
    for share, expected in ((0.0, 1.0), (1.0, 3.0)):
        weight = weight_average(small_network(1.0), small_network(3.0), share)[0].weight
        assert torch.equal(weight, torch.full_like(weight, expected))
