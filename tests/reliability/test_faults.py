"""Faults with a TorchServe of the test's own: a worker killed under load, TorchServe stopped and
started again while the web front runs. All traffic stays on 127.0.0.1 and is bounded."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from bench.canvas_png import canvas_png
from bench.loadgen import run_clients, running_web_front, web_app
from bench.mnist_samples import one_of_each_digit
from serving.torchserve import model_workers, private_instance, start, stop

FOUR = canvas_png(one_of_each_digit()[4][1], box=170, top=50, left=60)
LOAD_S = 8.0
REPLACEMENT_GUARD_S = 120


@pytest.fixture
def own_torchserve(tmp_path):
    instance = private_instance(tmp_path / "torchserve")
    start(instance)
    yield instance
    stop(instance)


def web_client(instance, timeout_s: float = 5.0):
    return web_app(instance, REQUEST_TIMEOUT_S=timeout_s).test_client()


def test_stopping_torchserve_then_starting_it_again(own_torchserve):
    client = web_client(own_torchserve, timeout_s=3.0)
    assert client.post("/predict", data=FOUR, content_type="image/png").get_json()["digit"] == 4

    stop(own_torchserve)
    # Refused at once, not timed out: the message says which.
    response = client.post("/predict", data=FOUR, content_type="image/png")
    assert response.status_code == 503 and response.get_json()["error"] == "the model server is not reachable"
    assert client.get("/healthz").status_code == 503

    start(own_torchserve)  # the same web app, never restarted
    assert client.get("/healthz").status_code == 200
    assert client.post("/predict", data=FOUR, content_type="image/png").get_json()["digit"] == 4


def replacement_worker(instance, victim: int) -> bool:
    """Whether two workers are READY again, none of them the killed one."""
    current = model_workers(instance)
    return len(current) == 2 and all(w["status"] == "READY" for w in current) and \
        victim not in {w["pid"] for w in current}


def test_a_worker_killed_under_load_costs_only_its_requests_in_flight(own_torchserve):
    client_count = 4
    with running_web_front(own_torchserve) as (_, url):
        loads = []
        load = threading.Thread(target=lambda: loads.append(run_clients(url, [FOUR], client_count, LOAD_S)))
        load.start()
        time.sleep(LOAD_S / 4)
        victim = model_workers(own_torchserve)[0]["pid"]
        os.kill(victim, signal.SIGKILL)
        killed_at = time.monotonic()
        # A hang guard, not a speed requirement: TorchServe replaces the worker in a few seconds.
        while not replacement_worker(own_torchserve, victim) and time.monotonic() - killed_at < REPLACEMENT_GUARD_S:
            time.sleep(0.2)
        load.join()
        assert replacement_worker(own_torchserve, victim), "no READY replacement worker"
        (answers,) = loads
        failed = [answer.status for answer in answers.answers if answer.status != 200]
        assert set(failed) <= {503}, failed
        assert len(failed) <= client_count, f"{len(failed)} failures: more than the requests in flight"
        assert all(answer.body["digit"] == 4 for answer in answers.answers if answer.status == 200)
        assert set(run_clients(url, [FOUR], 1, 0.1).statuses) == {200}
    print(f"{len(answers.answers)} requests, {len(failed)} failed (503) when the worker was killed; "
          f"replacement READY after {time.monotonic() - killed_at:.1f} s")
