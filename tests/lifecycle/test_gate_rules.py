"""Unit tests of the gate's rules (lifecycle/gate.judged) on figures that are shares of counts."""

from __future__ import annotations

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


def test_held_out_corrections_must_improve_and_none_never_passes():
    assert verdict("held-out corrections", 0.0, 0.2)
    assert not verdict("held-out corrections", 0.2, 0.2)
    assert not verdict("held-out corrections", float("nan"), float("nan"))
