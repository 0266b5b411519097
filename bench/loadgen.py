"""What the benchmark and the load test share: the sample requests, a web front (or the in-process
peer) in its own process, one POST on a keep-alive connection, and percentiles."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

from bench.canvas_png import canvas_png
from serving.settings import REPO_ROOT
from serving.torchserve import Instance, free_ports
from training.data import load_mnist


def sample_pngs(count: int = 64) -> list[bytes]:
    """Real MNIST test digits drawn as 280x280 canvas PNGs of varying size and position."""
    images = load_mnist().test_images.numpy()
    return [canvas_png(images[i], box=140 + i % 60, top=10 + i % 50, left=100 - i % 70) for i in range(count)]


@contextmanager
def running_web_front(instance: Instance) -> Iterator[tuple[subprocess.Popen, str]]:
    """The web front under waitress, in its own process (so it does not share the load generator's
    GIL), calling ``instance``: its process and /predict URL once /healthz says 200; stopped on leaving."""
    port, metrics_port = free_ports(2)
    env = dict(os.environ, TORCHSERVE_INFERENCE_URL=instance.address("inference"),
               TORCHSERVE_MANAGEMENT_URL=instance.address("management"), WEB_PORT=str(port),
               WEB_METRICS_PORT=str(metrics_port))
    with serving_in_own_process(["-m", "web.serve"], env, port) as running:
        yield running


@contextmanager
def running_peer() -> Iterator[str]:
    """The in-process app a user would write instead (bench/peer_app.py), in its own process:
    its /predict URL; stopped on leaving."""
    port = free_ports(1)[0]
    with serving_in_own_process(["-m", "bench.peer_app", "--port", str(port)], dict(os.environ), port) as (_, url):
        yield url


@contextmanager
def serving_in_own_process(arguments: list[str], env: dict, port: int) -> Iterator[tuple[subprocess.Popen, str]]:
    """``python arguments`` serving on ``port``: the process and its /predict URL once /healthz is 200."""
    # waitress warns on stderr whenever its task queue grows, which load makes it do on purpose.
    process = subprocess.Popen([sys.executable, *arguments], env=env, cwd=REPO_ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
                connection.request("GET", "/healthz")
                if connection.getresponse().status == 200:
                    break
            except OSError:
                time.sleep(0.1)
        yield process, f"http://127.0.0.1:{port}/predict"
    finally:
        process.terminate()
        process.wait()


def post(connection: http.client.HTTPConnection, path: str, png: bytes) -> tuple[int, dict]:
    """POST one PNG; the status and the JSON answer ({} if there is none)."""
    connection.request("POST", path, body=png, headers={"Content-Type": "image/png"})
    response = connection.getresponse()
    body = response.read()
    try:
        return response.status, json.loads(body) if body else {}
    except ValueError:
        return response.status, {}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))] if ordered else float("nan")
