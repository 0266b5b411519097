"""The costliest inputs we know of that pass every check (the largest dimensions, bytes, scans and
chunks allowed), each through the handler's preprocessing within the time and memory budget."""

from __future__ import annotations

from bench.hostile_images import worst_cases_at_the_limits
from bench.image_fuzz import MEMORY_BUDGET_MB, TIME_BUDGET_S, measure_in_process
from handler.mnist_preprocess import MAX_IMAGE_BYTES
from tests.fixtures.budgets import CPU_TIME_MARGIN


def test_the_worst_inputs_under_the_limits_stay_within_the_budget():
    cases = worst_cases_at_the_limits()
    assert all(len(data) <= MAX_IMAGE_BYTES for data in cases.values())
    report = measure_in_process(((index, name, data) for index, (name, data) in enumerate(cases.items())),
                                time_budget_s=TIME_BUDGET_S * CPU_TIME_MARGIN)
    print("\n".join(f"{r.seed_name}: {r.outcome}, {r.seconds * 1000:.0f} ms" for r in report.results))
    assert not report.findings, report.summary()
    assert report.worst().seconds <= TIME_BUDGET_S * CPU_TIME_MARGIN
    assert report.memory_growth_mb <= MEMORY_BUDGET_MB
