"""Faults with a TorchServe of the test's own: a worker killed under load, TorchServe stopped and
started again while the web front runs. All traffic stays on 127.0.0.1 and is bounded."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from bench.canvas_png import canvas_png
from serving.torchserve import model_workers, private_instance, start, stop
from tests.mnist_samples import one_of_each_digit
from tests.serving_helpers import web_app

pytestmark = pytest.mark.torchserve

FOUR = canvas_png(one_of_each_digit()[4][1], box=170, top=50, left=60)
WORKER_RECOVERY_S = 10


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
    started = time.monotonic()
    response = client.post("/predict", data=FOUR, content_type="image/png")
    assert response.status_code == 503 and response.get_json()["error"] == "the model server is not reachable"
    assert time.monotonic() - started < 3.0
    assert client.get("/healthz").status_code == 503

    start(own_torchserve)  # the same web app, never restarted
    assert client.get("/healthz").status_code == 200
    assert client.post("/predict", data=FOUR, content_type="image/png").get_json()["digit"] == 4


def test_a_worker_killed_under_load_costs_only_its_requests_in_flight(own_torchserve):
    client_count, duration_s = 4, 8.0
    statuses: list[tuple[int, int | None]] = []
    lock = threading.Lock()
    deadline = time.monotonic() + duration_s

    def load():
        client = web_client(own_torchserve)
        while time.monotonic() < deadline:
            response = client.post("/predict", data=FOUR, content_type="image/png")
            with lock:
                statuses.append((response.status_code, response.get_json().get("digit")))

    threads = [threading.Thread(target=load) for _ in range(client_count)]
    for thread in threads:
        thread.start()
    time.sleep(2.0)
    victim = model_workers(own_torchserve)[0]["pid"]
    os.kill(victim, signal.SIGKILL)
    killed_at = time.monotonic()

    recovered_at = None
    while time.monotonic() - killed_at < WORKER_RECOVERY_S + 5:
        current = model_workers(own_torchserve)
        if len(current) == 2 and all(w["status"] == "READY" for w in current) and \
                victim not in {w["pid"] for w in current}:
            recovered_at = time.monotonic()
            break
        time.sleep(0.2)
    for thread in threads:
        thread.join()

    assert recovered_at is not None and recovered_at - killed_at < WORKER_RECOVERY_S, "no READY replacement worker"
    failed = [status for status, _ in statuses if status != 200]
    assert set(failed) <= {503}, failed
    assert len(failed) <= client_count, f"{len(failed)} failures: more than the requests in flight"
    assert all(digit == 4 for status, digit in statuses if status == 200)
    assert web_client(own_torchserve).post("/predict", data=FOUR, content_type="image/png").status_code == 200
    print(f"{len(statuses)} requests, {len(failed)} failed (503) when the worker was killed; "
          f"replacement READY after {recovered_at - killed_at:.1f} s")
