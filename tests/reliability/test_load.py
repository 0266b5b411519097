"""A short version of bench/load_test.py: 32 clients through the web front for a few seconds,
and a burst over TorchServe's job queue. Loopback only, bounded in count and time."""

from __future__ import annotations

import pytest

from bench.loadgen import running_web_front, sample_pngs
from bench.load_test import burst, digits_at_rest, run_load
from serving.torchserve import read_properties

pytestmark = pytest.mark.torchserve


@pytest.fixture(scope="module")
def web_url(torchserve):
    with running_web_front(torchserve) as (_, url):
        yield url


def test_32_clients_every_request_answered_the_same_as_at_rest(web_url):
    pngs = sample_pngs(32)
    expected = digits_at_rest(web_url, pngs)
    result = run_load(web_url, pngs, expected, clients=32, seconds=5.0)
    assert result.sent == result.answered > 100
    assert set(result.statuses) == {200}, result.statuses
    assert result.mismatches == 0


def test_a_burst_over_the_job_queue_gets_quick_503s_not_a_hang(torchserve):
    queue_size = int(read_properties(torchserve.config)["job_queue_size"])
    statuses, slowest_s = burst(torchserve.predictions_url(), sample_pngs(1)[0], 3 * queue_size)
    assert set(statuses) <= {200, 503} and statuses[503] > 0 and statuses[200] > 0, statuses
    assert slowest_s < 10
