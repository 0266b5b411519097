"""The feature-space open-set score of leave-kinds-out (training/leave_kinds_out.FeatureDistance)."""

from __future__ import annotations

import torch

from handler.mnist_contract import NUM_DIGITS
from training.leave_kinds_out import FeatureDistance


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
