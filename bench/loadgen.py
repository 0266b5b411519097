"""What the benchmark, the load test and the fault tests share: the sample requests, a web front
(or the in-process peer) in its own process, one POST on a keep-alive connection, the one load
generator (concurrent clients for a while, or a burst at once), and percentiles."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import urlparse

from flask import Flask

from bench.canvas_png import STYLES, WEIGHTS, styled_canvas
from bench.process_cpu import cpu_seconds, torchserve_roles
from serving.settings import REPO_ROOT
from serving.torchserve import Instance, free_ports, model_workers
from training.data import load_mnist
from web.app import create_app


def sample_pngs(count: int = 64, style: str = STYLES[0]) -> list[bytes]:
    """Real MNIST test digits drawn as 280x280 canvas PNGs of varying size and position, in one of
    the ink styles (by default the page's own: dark ink on a transparent canvas)."""
    images = load_mnist().test_images.numpy()
    return [styled_canvas(images[i], box=140 + i % 60, top=10 + i % 50, left=100 - i % 70, weight=WEIGHTS[0],
                          style=style) for i in range(count)]


def worker_pids(instance: Instance) -> list[int]:
    """The model's worker processes: unchanged before and after a request means no worker died."""
    return sorted(worker["pid"] for worker in model_workers(instance))


def worker_cpu_s(instance: Instance) -> float:
    """CPU seconds (user and system) the model's worker processes have spent, from /proc."""
    return cpu_seconds(torchserve_roles(instance)["workers"])


def web_app(instance: Instance, **overrides) -> Flask:
    """The web front configured to call ``instance``, in this process."""
    return create_app({"TORCHSERVE_INFERENCE_URL": instance.address("inference"),
                       "TORCHSERVE_MANAGEMENT_URL": instance.address("management"), **overrides})


@contextmanager
def running_web_front(instance: Instance,
                      settings: dict[str, str] | None = None) -> Iterator[tuple[subprocess.Popen, str]]:
    """The web front under waitress, in its own process (so it does not share the load generator's
    GIL), calling ``instance``, with ``settings`` (web/config.py's names) over its defaults: its
    process and /predict URL once /healthz says 200; stopped on leaving."""
    port, metrics_port = free_ports(2)
    env = dict(os.environ, TORCHSERVE_INFERENCE_URL=instance.address("inference"),
               TORCHSERVE_MANAGEMENT_URL=instance.address("management"), WEB_PORT=str(port),
               WEB_METRICS_PORT=str(metrics_port), **(settings or {}))
    with serving_in_own_process(["-m", "web.serve"], env, port) as running:
        yield running


@contextmanager
def running_peer() -> Iterator[tuple[subprocess.Popen, str]]:
    """The in-process app a user would write instead (bench/peer_app.py), in its own process:
    its process and /predict URL; stopped on leaving."""
    port = free_ports(1)[0]
    with serving_in_own_process(["-m", "bench.peer_app", "--port", str(port)], dict(os.environ), port) as running:
        yield running


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


@dataclass
class Answer:
    sample: int       # which of the PNGs was sent
    status: int       # 0 when the connection failed
    body: dict
    latency_ms: float


@dataclass
class Load:
    """Every answer concurrent clients got, in the order they came."""
    seconds: float = 0.0
    answers: list[Answer] = field(default_factory=list)

    @property
    def statuses(self) -> Counter:
        return Counter(answer.status for answer in self.answers)

    @property
    def answered(self) -> int:
        return sum(answer.status != 0 for answer in self.answers)

    @property
    def throughput(self) -> float:
        return len(self.answers) / self.seconds

    def percentile(self, q: float) -> float:
        return percentile([answer.latency_ms for answer in self.answers], q)


def run_clients(url: str, pngs: list[bytes], clients: int, seconds: float) -> Load:
    """``clients`` threads, each on its own keep-alive connection (a new one after a failure),
    posting the PNGs in turn until ``seconds`` have passed. Loopback only; it stops by itself."""
    parsed = urlparse(url)
    load = Load()
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def client(index: int) -> None:
        connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30)
        mine, sample = [], index % len(pngs)
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            try:
                status, body = post(connection, parsed.path, pngs[sample])
            except (OSError, http.client.HTTPException):
                connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30)
                status, body = 0, {}
            mine.append(Answer(sample, status, body, (time.perf_counter() - started) * 1000))
            sample = (sample + clients) % len(pngs)
        with lock:
            load.answers.extend(mine)

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(index,)) for index in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    load.seconds = time.perf_counter() - started
    return load


def burst(url: str, png: bytes, count: int) -> tuple[Counter, float]:
    """``count`` requests at once, each on its own connection; status counts and the slowest answer."""
    parsed = urlparse(url)
    statuses: Counter = Counter()
    slowest = 0.0
    lock = threading.Lock()
    gate = threading.Barrier(count)

    def one() -> None:
        nonlocal slowest
        connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30)
        gate.wait()
        started = time.perf_counter()
        try:
            status = post(connection, parsed.path, png)[0]
        except (OSError, http.client.HTTPException):
            status = 0
        with lock:
            statuses[status] += 1
            slowest = max(slowest, time.perf_counter() - started)

    threads = [threading.Thread(target=one) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses, slowest
