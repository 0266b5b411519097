"""The CI-sized run of the image fuzzer (bench/image_fuzz.py; `make fuzz` is the long
run): structure-aware mutations of valid PNG, JPEG, MPO, GIF, WebP, TIFF and BMP files of real
digits through the handler's preprocessing, each within the time and memory budget."""

from __future__ import annotations

from collections import Counter

from bench.image_fuzz import MEMORY_BUDGET_MB, TIME_BUDGET_S, fuzz_in_process
from bench.image_mutations import mutated_case, seed_images
from tests.fixtures.budgets import CPU_TIME_MARGIN

CI_CASES = 6000
CI_SEED = 20261201


def test_mutations_are_varied_and_reproducible():
    cases = [mutated_case(index, CI_SEED) for index in range(200)]
    assert cases == [mutated_case(index, CI_SEED) for index in range(200)]
    assert len({data for _, data in cases}) > 190
    originals = set(seed_images().values())
    assert sum(data in originals for _, data in cases) < 10
    assert len(Counter(name for name, _ in cases)) == len(seed_images())


def test_mutated_images_stay_within_the_budget():
    report = fuzz_in_process(CI_CASES, CI_SEED, time_budget_s=TIME_BUDGET_S * CPU_TIME_MARGIN)
    print(report.summary())
    assert len(report.results) == CI_CASES
    assert not report.findings, report.summary()
    assert report.worst().seconds <= TIME_BUDGET_S * CPU_TIME_MARGIN and report.memory_growth_mb <= MEMORY_BUDGET_MB
    outcomes = Counter(result.outcome for result in report.results)
    # A fuzzer that only ever reaches the first check tests little: many cases must decode.
    assert outcomes["answered"] > CI_CASES // 10 and outcomes["refused"] > CI_CASES // 10
