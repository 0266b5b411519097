"""Unit tests of the gate's rules (lifecycle/gate.judged) on figures that are shares of counts."""

from __future__ import annotations

import torch

from lifecycle.gate import GATE_RULES, judged

SERVING = {name: 0.5 for name, _, _ in GATE_RULES}


def verdict(figure: str, serving: float, candidate: float) -> bool:
    (found,) = [v for v in judged({**SERVING, figure: serving}, {**SERVING, figure: candidate})
                if v["figure"] == figure]
    return found["passed"]


def test_a_candidate_exactly_on_its_bound_passes_and_one_count_beyond_fails():
    # 0.05 points of 2,000 test digits is one digit; 1976/2000 >= 1977/2000 - 0.0005 is False in floats.
    assert verdict("canvas-style test accuracy", 1977 / 2000, 1976 / 2000)
    assert not verdict("canvas-style test accuracy", 1977 / 2000, 1975 / 2000)
    assert verdict("MNIST test digits called no digit", 3 / 2000, 5 / 2000)
    assert not verdict("MNIST test digits called no digit", 3 / 2000, 6 / 2000)


def float32_share(count: int, of: int) -> float:
    """A share as the gate's figures come: the float32 mean of a tensor of hits."""
    return float((torch.arange(of) < count).float().mean())


def test_float32_shares_on_their_bound_pass():
    # 9917 and 9912 of 10,000 as float32 means are 0.50000024 points apart.
    assert verdict("canvas-style test accuracy", float32_share(9917, 10000), float32_share(9912, 10000))
    assert not verdict("canvas-style test accuracy", float32_share(9917, 10000), float32_share(9911, 10000))


def test_held_out_corrections_must_improve_and_none_never_passes():
    assert verdict("held-out corrections", 0.0, 0.2)
    assert not verdict("held-out corrections", 0.2, 0.2)
    assert not verdict("held-out corrections", float("nan"), float("nan"))
