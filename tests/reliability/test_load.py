"""A short version of bench/load_test.py: 32 clients through the web front for a few seconds,
and a burst over TorchServe's job queue. Loopback only, bounded in count and time."""

from __future__ import annotations

import pytest

from bench.load_test import digits_at_rest, mismatches
from bench.loadgen import burst, run_clients, running_web_front, sample_pngs
from serving.torchserve import read_properties

CLIENTS = 32


@pytest.fixture(scope="module")
def web_url(torchserve):
    with running_web_front(torchserve) as (_, url):
        yield url


def test_32_clients_every_request_answered_the_same_as_at_rest(web_url):
    pngs = sample_pngs(CLIENTS)
    expected = digits_at_rest(web_url, pngs)
    load = run_clients(web_url, pngs, clients=CLIENTS, seconds=5.0)
    # Every client finishes the request it started before the deadline, however slow the machine.
    assert len(load.answers) >= CLIENTS
    assert set(load.statuses) == {200}, load.statuses
    assert mismatches(load, expected) == 0


def test_a_burst_over_the_job_queue_gets_503s_not_a_hang(torchserve):
    queue_size = int(read_properties(torchserve.config)["job_queue_size"])
    statuses, _ = burst(torchserve.predictions_url(), sample_pngs(1)[0], 3 * queue_size)
    # Status 0 would be a connection that failed or hung past the client's 30 s timeout.
    assert set(statuses) <= {200, 503} and statuses[503] > 0 and statuses[200] > 0, statuses
