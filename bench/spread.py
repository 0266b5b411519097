"""A figure measured in several rounds: its median, and the lowest and highest round, so that a
reader knows how far one run of the same benchmark may fall from it."""

from __future__ import annotations

import statistics
from dataclasses import dataclass


@dataclass(frozen=True)
class Spread:
    rounds: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.rounds)

    def text(self, decimals: int = 2, suffix: str = "") -> str:
        """``1.02x (0.95-1.10)``: the median, then the lowest and highest round."""
        low, high = min(self.rounds), max(self.rounds)
        return f"{self.median:.{decimals}f}{suffix} ({low:.{decimals}f}-{high:.{decimals}f})"


def spread(values) -> Spread:
    rounds = tuple(float(value) for value in values)
    if not rounds:
        raise ValueError("a spread needs at least one round")
    return Spread(rounds)
