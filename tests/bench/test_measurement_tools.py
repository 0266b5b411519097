"""Unit tests of the measurement tools' own logic: the batching choice, the canvas renderings, the
rounds' spread, CPU time per request, the ratios against the peer and the stage profile."""

from __future__ import annotations

import time

import numpy as np
import psutil
import pytest

from bench.batching_grid import LATENCY_ALLOWANCE, config_choice, grid
from bench.benchmark import DIRECT, LOAD_GENERATOR, PEER, WEB, Figures, met, path_roles, ratios
from bench.canvas_png import STYLES, WEIGHTS, styled_canvas
from bench.mnist_samples import one_of_each_digit
from bench.prepare_profile import STAGES, StageClock, stages_timed
from bench.process_cpu import reading, spent_ms_per_request
from bench.report_sections import with_section
from bench.spread import spread
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


def test_a_spread_is_the_median_of_the_rounds_with_the_lowest_and_highest():
    figure = spread([1.10, 0.95, 1.02])
    assert figure.median == 1.02 and figure.text(suffix="x") == "1.02x (0.95-1.10)"
    with pytest.raises(ValueError):
        spread([])


def burn_cpu(seconds: float) -> None:
    started = time.thread_time()
    while time.thread_time() - started < seconds:
        pass


def test_cpu_seconds_count_what_a_process_spent_and_divide_it_per_request():
    me = [psutil.Process()]
    before = reading(lambda: {"this process": me})
    burn_cpu(0.2)
    after = reading(lambda: {"this process": me})
    # /proc counts in clock ticks (10 ms): each reading may fall up to one short.
    assert after["this process"] - before["this process"] >= 0.2 - 2 * 0.01
    assert spent_ms_per_request({"a": 1.0}, {"a": 1.5}, 100) == {"a": 5.0}


def test_the_load_generator_is_shown_but_no_part_of_a_paths_cpu():
    figures = Figures(10, 1.0, [1.0], cpu_ms={"web front": 1.0, "workers": 2.5, LOAD_GENERATOR: 4.0})
    assert figures.serving_cpu_ms == 3.5
    assert set(path_roles({"peer": psutil.Process().pid})()) == {"peer", LOAD_GENERATOR}


def served(throughput: float, cpu_ms: float) -> Figures:
    return Figures(int(throughput), 1.0, [1.0], cpu_ms={"all": cpu_ms})


def test_the_ratios_against_the_peer_are_taken_within_each_round_then_over_the_rounds():
    rounds = [{PEER: {8: served(100, 10), 32: served(100, 10)}, DIRECT: {32: served(150, 12)},
               WEB: {8: served(90, 16), 32: served(110, 16)}},
              {PEER: {8: served(50, 20), 32: served(50, 20)}, DIRECT: {32: served(60, 24)},
               WEB: {8: served(60, 20), 32: served(40, 40)}}]
    found = ratios(rounds)
    assert found["web front / peer, 8 clients"].rounds == (0.9, 1.2)
    assert found["TorchServe direct / peer, 32 clients"].rounds == (1.5, 1.2)
    assert found["stack CPU per request / peer's, 32 clients"].rounds == (1.6, 2.0)
    assert met(1.0, (">=", 1.0)) == "yes" and met(1.6, ("<=", 1.5)) == "**no**"


def test_the_profile_counts_a_stage_without_the_stages_it_calls_and_restores_the_handler():
    clock = StageClock()
    with clock.stage("outer"):
        with clock.stage("inner"):
            burn_cpu(0.05)
    assert clock.spent["inner"] >= 0.05 > clock.spent["outer"]
    originals = [getattr(module, name) for module, name, _ in STAGES]
    with stages_timed(clock):
        assert all(getattr(module, name) is not original for (module, name, _), original in zip(STAGES, originals))
    assert [getattr(module, name) for module, name, _ in STAGES] == originals


def test_a_benchmark_rewrites_its_own_section_of_a_shared_docs_file_and_no_other():
    document = "# Batching\n\ngrid\n\n# Levers\n\nold figures\n\n# Later\nkept\n"
    assert with_section(document, "# Levers\n\nnew figures\n") == \
        "# Batching\n\ngrid\n\n# Levers\n\nnew figures\n\n# Later\nkept\n"
    assert with_section("# Batching\n\ngrid\n", "# Levers\n\nfigures\n") == "# Batching\n\ngrid\n\n# Levers\n\nfigures\n"
    with pytest.raises(ValueError):
        with_section(document, "## not a section\n")
