"""The open-set scores of leave-kinds-out (training/leave_kinds_out): the feature distance, the shares caught."""

from __future__ import annotations

import torch

from handler.mnist_contract import NUM_DIGITS
from training.calibration import FLAGGED_DIGIT_BUDGET
from training.leave_kinds_out import FeatureDistance, caught_shares
from training.model import DigitResNet


def test_features_far_from_every_digit_class_score_higher_than_a_class_s_own():
    generator = torch.Generator().manual_seed(0)
    centres = torch.randn(NUM_DIGITS, 8, generator=generator) * 5
    labels = torch.arange(NUM_DIGITS).repeat(50)
    features = centres[labels] + torch.randn(len(labels), 8, generator=generator)
    distance = FeatureDistance(features, labels)
    near = centres + 0.5 * torch.randn(NUM_DIGITS, 8, generator=generator)
    far = centres.mean(dim=0) + 20 * torch.randn(NUM_DIGITS, 8, generator=generator)
    assert distance(near).max() < distance(far).min()
    # The nearest class counts: a point on one class's mean is at distance 0 whatever the others.
    assert torch.allclose(distance(distance.means.float()), torch.zeros(NUM_DIGITS, dtype=torch.float64), atol=1e-9)


def test_each_budget_is_reported_and_a_larger_one_catches_at_least_as_much():
    torch.manual_seed(0)
    network = DigitResNet().eval()
    images = torch.randint(0, 256, (400, 28, 28), dtype=torch.uint8)
    train_digits = (images[:200], torch.arange(NUM_DIGITS).repeat(20))
    asked = {"noise": images[300:], "blank": torch.zeros(50, 28, 28, dtype=torch.uint8)}
    shares = caught_shares(network, train_digits, images[200:300], asked, [FLAGGED_DIGIT_BUDGET, 0.05])
    scores = ("eleventh class", "energy", "feature distance", "nearest digits", "nearest digits, every layer",
              "either", "eleventh class or nearest digits", "eleventh class, or every layer for half as many again")
    assert len(shares) == 2 * len(scores)
    for score in scores:
        wider = shares[f"{score} (5.0% of digits flagged)"]
        assert set(wider) == set(asked)
        assert all(wider[name] >= shares[score][name] for name in asked)
    # The noise asked about is drawn like the validation "digits": a lower threshold flags more of it.
    assert all(shares[f"{score} (5.0% of digits flagged)"]["noise"] > shares[score]["noise"] for score in scores)

