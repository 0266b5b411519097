"""Unit tests of the measurement tools' own logic: the batching choice and the canvas renderings."""

from __future__ import annotations

import numpy as np
import pytest

from bench.batching_grid import LATENCY_ALLOWANCE, config_choice, grid
from bench.benchmark import Figures
from bench.canvas_benchmark import STYLES, WEIGHTS, styled_canvas
from bench.mnist_samples import one_of_each_digit
from handler.mnist_preprocess import image_to_symbols


def test_the_grid_tries_every_batch_size_and_delay_once_per_worker_count():
    settings = grid()
    assert len(settings) == 2 * (1 + 3 * 3)  # batchSize 1 never waits, so one delay for it
    assert len({tuple(sorted(s.items())) for s in settings}) == len(settings)


def figures(p50_ms: float, per_second: float) -> Figures:
    return Figures(requests=int(per_second), seconds=1.0, latencies_ms=[p50_ms])


def row(batch_size: int, p50_ms: float, at_8: float, at_32: float):
    return ({"batchSize": batch_size}, {"sequential": figures(p50_ms, 1000 / p50_ms),
                                        "8": figures(10, at_8), "32": figures(40, at_32)})


def test_the_choice_is_the_best_throughput_among_settings_fast_enough_for_a_lone_request():
    rows = [row(1, 5.0, 380, 380), row(4, 5.0 * LATENCY_ALLOWANCE * 0.99, 400, 420), row(8, 6.5, 500, 600)]
    chosen, reason = config_choice(rows)
    assert chosen == {"batchSize": 4} and "400 and 420" in reason


@pytest.mark.parametrize("weight", WEIGHTS)
def test_every_ink_style_gives_the_model_the_same_image(weight):
    digit = dict(one_of_each_digit())[5]
    fitted = [image_to_symbols(styled_canvas(digit, 180, 40, 60, weight, style)) for style in STYLES]
    assert all(len(symbols) == 1 for symbols in fitted)
    for symbols in fitted[1:]:
        assert np.allclose(symbols[0].pixels, fitted[0][0].pixels, atol=1e-5)
