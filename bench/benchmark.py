"""Serving benchmark: in-process floor, the in-process peer app, TorchServe REST, and the Flask front,
side by side in one run.

    python -m bench.benchmark [--seconds 5] [--output docs/BENCHMARKS.md]      (make bench)

It first measures the forward pass of the float and int8 model files, and the peer
(bench/peer_app.py, the in-process Flask app a user would write instead) at 1, 8 and 32 clients;
then it starts a private TorchServe configured as config.properties (on free loopback ports) and
a web front (waitress, in its own process) in front of it, and measures sequential latency and
the throughput of 1, 8 and 32 concurrent clients, each sending 280x280 canvas PNGs of real MNIST
test digits. Other batching settings: bench/batching_grid.py. The load generator runs on the same
cores: the figures are what this machine does with client, web front and TorchServe together.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import torch

from bench.loadgen import percentile, post, run_clients, running_peer, running_web_front, sample_pngs
from handler.mnist_contract import MNIST_SIDE
from handler.mnist_preprocess import image_to_symbols
from serving.settings import INT8_MODEL, MODEL_METRICS, MODEL_NAME, MODEL_VERSION, SERIALIZED_MODEL, TORCHSERVE_CONFIG
from serving.torchserve import read_properties, scratch_instance

CONCURRENCY = (1, 8, 32)
SEQUENTIAL_REQUESTS = 300


@dataclass
class Figures:
    requests: int
    seconds: float
    latencies_ms: list[float]

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds

    def percentile(self, q: float) -> float:
        return percentile(self.latencies_ms, q)


def in_process_floor(pngs: list[bytes], repeats: int = 500) -> Figures:
    """Decode + preprocess + forward of one canvas PNG in this process, one torch thread."""
    torch.set_num_threads(1)
    model = torch.jit.load(str(INT8_MODEL)).eval()
    latencies = []
    with torch.inference_mode():
        for i in range(repeats):
            started = time.perf_counter()
            model(torch.stack([symbol.pixels for symbol in image_to_symbols(pngs[i % len(pngs)])])).argmax()
            latencies.append((time.perf_counter() - started) * 1000)
    return Figures(repeats, sum(latencies) / 1000, latencies[50:])


def post_png(connection: http.client.HTTPConnection, path: str, png: bytes) -> float:
    """Milliseconds for one answered prediction; anything but a 200 spoils the measurement."""
    started = time.perf_counter()
    status, body = post(connection, path, png)
    if status != 200:
        raise RuntimeError(f"HTTP {status}: {body}")
    return (time.perf_counter() - started) * 1000


def sequential(url: str, pngs: list[bytes], count: int = SEQUENTIAL_REQUESTS) -> Figures:
    parsed = urlparse(url)
    connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30)
    for png in pngs[:10]:
        post_png(connection, parsed.path, png)  # warm-up
    started = time.perf_counter()
    latencies = [post_png(connection, parsed.path, pngs[i % len(pngs)]) for i in range(count)]
    return Figures(count, time.perf_counter() - started, latencies)


def concurrent(url: str, pngs: list[bytes], clients: int, seconds: float) -> Figures:
    """``clients`` threads, each with its own keep-alive connection, posting for ``seconds``."""
    load = run_clients(url, pngs, clients, seconds)
    if set(load.statuses) != {200}:
        raise RuntimeError(f"answers other than 200 spoil the measurement: {dict(load.statuses)}")
    return Figures(len(load.answers), load.seconds, [answer.latency_ms for answer in load.answers])


def measure_shipped(pngs: list[bytes], seconds: float) -> dict:
    with scratch_instance() as instance, running_web_front(instance) as (_, web_url):
        direct_url = instance.predictions_url()
        results = {"sequential": {"torchserve": sequential(direct_url, pngs), "flask": sequential(web_url, pngs)},
                   "concurrent": {}}
        for clients in CONCURRENCY:
            results["concurrent"][clients] = {"torchserve": concurrent(direct_url, pngs, clients, seconds),
                                              "flask": concurrent(web_url, pngs, clients, seconds)}
    return results


def measure_peer(pngs: list[bytes], seconds: float) -> dict:
    """The in-process Flask app a user would write instead (bench/peer_app.py)."""
    with running_peer() as url:
        return {"sequential": sequential(url, pngs),
                "concurrent": {clients: concurrent(url, pngs, clients, seconds) for clients in CONCURRENCY}}


def ratios(setting: dict, peer: dict, floor_p50: float) -> str:
    """The issue's targets, as ratios measured in this one run."""
    web = {c: v["flask"].throughput / peer["concurrent"][c].throughput for c, v in setting["concurrent"].items()}
    direct_32 = setting["concurrent"][32]["torchserve"].throughput / peer["concurrent"][32].throughput
    direct_p50, web_p50 = (setting["sequential"][path].percentile(50) for path in ("torchserve", "flask"))
    return (f"Against the in-process peer: web front throughput {web[8]:.2f}x at 8 clients and {web[32]:.2f}x at "
            f"32; TorchServe direct {direct_32:.2f}x at 32; web front sequential p50 {web_p50 / floor_p50:.2f}x "
            f"the floor. Of a lone request's p50 beyond the floor, TorchServe's own hops (HTTP frontend, then "
            f"its socket to the Python worker) take {direct_p50 - floor_p50:.2f} ms and the web front "
            f"{web_p50 - direct_p50:.2f} ms.")


def forward_pass_ms(path: Path, batch: int, repeats: int = 300) -> float:
    """Median milliseconds of one forward pass of ``batch`` images, one torch thread."""
    torch.set_num_threads(1)
    model = torch.jit.load(str(path)).eval()
    pixels = torch.rand(batch, 1, MNIST_SIDE, MNIST_SIDE)
    latencies = []
    with torch.inference_mode():
        for _ in range(repeats + 30):
            started = time.perf_counter()
            model(pixels)
            latencies.append((time.perf_counter() - started) * 1000)
    return statistics.median(latencies[30:])


def forward_table() -> list[str]:
    """The two model files side by side: cost, latency at batch 1 and 8, accuracy (model card)."""
    metrics = json.loads(MODEL_METRICS.read_text())
    rows = ["| model file | multiply-accumulates | forward batch 1 ms | forward batch 8 ms | MNIST test "
            "| canvas-style test | ECE MNIST test |", "|---|---|---|---|---|---|---|"]
    for name, path in (("float", SERIALIZED_MODEL), ("int8", INT8_MODEL)):
        served = metrics["served"][name]
        rows.append(f"| `{path.name}` ({name}) | {metrics['macs'] / 1e6:.1f} M | {forward_pass_ms(path, 1):.2f} | "
                    f"{forward_pass_ms(path, 8):.2f} | {100 * served['accuracy']['MNIST test']:.2f}% | "
                    f"{100 * served['accuracy']['canvas-style test']:.2f}% | {100 * served['ece']['MNIST test']:.2f}% |")
    return rows


def report(floor: Figures, forward: list[str], peer: dict, setting: dict, seconds: float) -> str:
    base = statistics.median(floor.latencies_ms)
    model = json.loads(read_properties(TORCHSERVE_CONFIG)["models"])[MODEL_NAME][MODEL_VERSION]
    lines = [
        "# Serving benchmark",
        "",
        f"Generated by `make bench` (`python -m bench.benchmark --seconds {seconds:g}`) on "
        f"{time.strftime('%Y-%m-%d')}: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, torch {torch.__version__}. Client, web front and TorchServe share "
        "the same cores. Each request is a 280x280 RGBA canvas PNG of a real MNIST test digit.",
        "",
        "## The model's forward pass",
        "",
        "A CPU worker serves the int8 file (static post-training quantization, `training/quantize.py`), "
        "a GPU worker the float one; accuracy and calibration from the model card (docs/model/MODEL_CARD.md).",
        "",
        *forward,
        "",
        "## In process",
        "",
        f"**In-process floor** (decode + preprocess + forward of the int8 file, one torch thread): "
        f"p50 {base:.2f} ms, p99 {floor.percentile(99):.2f} ms.",
        "",
        "**In-process peer** (`bench/peer_app.py`: one Flask process holding the same model and the "
        "handler's own modules, waitress with 4 threads; what a user would write instead of this stack):",
        "",
        "| clients | requests/s | p50 ms | p99 ms |",
        "|---|---|---|---|",
        *[f"| {clients} | {figures.throughput:.0f} | {figures.percentile(50):.2f} | {figures.percentile(99):.2f} |"
          for clients, figures in [("sequential", peer["sequential"]), *peer["concurrent"].items()]],
        "",
        f"## TorchServe as config.properties ships it (batchSize {model['batchSize']}, maxBatchDelay "
        f"{model['maxBatchDelay']} ms, {model['minWorkers']} workers; other settings: [BATCHING.md](BATCHING.md))",
        "",
        "| path | clients | requests/s | p50 ms | p99 ms | p50 / floor |",
        "|---|---|---|---|---|---|",
    ]
    rows = [("sequential", setting["sequential"])] + [(str(c), v) for c, v in setting["concurrent"].items()]
    for clients, by_path in rows:
        for path, figures in by_path.items():
            lines.append(f"| {path} | {clients} | {figures.throughput:.0f} | {figures.percentile(50):.2f} | "
                         f"{figures.percentile(99):.2f} | {figures.percentile(50) / base:.1f}x |")
    seq = setting["sequential"]
    lines += ["", f"Flask adds {seq['flask'].percentile(50) - seq['torchserve'].percentile(50):.2f} ms at p50 "
              "(sequential); Flask keeps " + ", ".join(
                  f"{100 * v['flask'].throughput / v['torchserve'].throughput:.0f}% at {c} clients"
                  for c, v in setting["concurrent"].items()) + " of TorchServe's direct throughput.",
              "", ratios(setting, peer, base), ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of each concurrent run")
    parser.add_argument("--output", type=Path, default=None, help="also write the report to this file")
    args = parser.parse_args()
    pngs = sample_pngs()
    forward = forward_table()
    floor = in_process_floor(pngs)
    peer = measure_peer(pngs, args.seconds)
    text = report(floor, forward, peer, measure_shipped(pngs, args.seconds), args.seconds)
    print(text)
    if args.output:
        args.output.write_text(text + "\n")


if __name__ == "__main__":
    main()
