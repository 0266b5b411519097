"""Serving benchmark: the in-process floor, the in-process peer app, TorchServe direct and the web
front, in interleaved rounds, with the CPU time each process spends per request.

    python -m bench.benchmark [--rounds 3] [--seconds 5] [--output docs/BENCHMARKS.md]      (make bench)

It measures the forward pass of the float and int8 model files once; then it starts the peer
(bench/peer_app.py, the in-process Flask app a user would write instead), a private TorchServe
configured as config.properties (on free loopback ports) and a web front (waitress, in its own
process) in front of it, and runs ``--rounds`` rounds. A round measures the floor (prepare, int8
forward pass and answer in this process) on canvas PNGs of each ink style, then for each load
(sequential requests, then 1, 8 and 32 concurrent clients, each on its own keep-alive connection)
each path in turn, in an order that rotates from round to round, so that a slow minute of a shared
machine falls on every path alike. Every figure printed is the median of the rounds with the lowest
and highest round beside it. For each path and load the CPU seconds of each of its processes (from
/proc) are divided by the requests answered: far steadier than wall time on a shared machine. The
load generator runs on the same cores as the servers; its own CPU is shown, not counted to any path.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import psutil
import torch

from bench.canvas_png import STYLES
from bench.loadgen import percentile, post, run_clients, running_peer, running_web_front, sample_pngs
from bench.process_cpu import Roles, reading, spent_ms_per_request, torchserve_roles
from bench.spread import Spread, spread
from handler.mnist_batch import batch_answers, prepare_batch, read_batch
from handler.mnist_contract import MNIST_SIDE
from serving.settings import INT8_MODEL, MODEL_METRICS, MODEL_NAME, MODEL_VERSION, SERIALIZED_MODEL, TORCHSERVE_CONFIG
from serving.torchserve import Instance, read_properties, scratch_instance

CONCURRENCY = (1, 8, 32)
LOADS = ("sequential", *CONCURRENCY)
SEQUENTIAL_REQUESTS = 300
FLOOR_REPEATS = 300
WARM_UP_S = 3.0
# The web front waits as long for TorchServe as the load generator waits for it: on a shared machine a
# stall of a few seconds would otherwise end the run with a 504 instead of showing in the latencies.
WEB_FRONT_SETTINGS = {"REQUEST_TIMEOUT_S": "30"}
PEER, DIRECT, WEB = "peer", "torchserve", "web front"
PATHS = (PEER, DIRECT, WEB)
LOAD_GENERATOR = "load generator"
# The targets (issue 23), each checked on the medians of the rounds.
TARGETS = {"web front / peer, 8 clients": (">=", 1.0), "web front / peer, 32 clients": (">=", 1.0),
           "TorchServe direct / peer, 32 clients": (">=", 1.3),
           "stack CPU per request / peer's, 8 clients": ("<=", 1.5),
           "stack CPU per request / peer's, 32 clients": ("<=", 1.5)}
FLOOR_TARGET_MS = 2.0


@dataclass
class Figures:
    requests: int
    seconds: float
    latencies_ms: list[float]
    cpu_ms: dict[str, float] = field(default_factory=dict)  # CPU ms per answered request, by process role

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds

    def percentile(self, q: float) -> float:
        return percentile(self.latencies_ms, q)

    @property
    def serving_cpu_ms(self) -> float:
        """Every serving process's CPU per request; the load generator is no part of the path."""
        return sum(ms for role, ms in self.cpu_ms.items() if role != LOAD_GENERATOR)


@dataclass
class Floor:
    latencies_ms: list[float]
    cpu_ms: list[float]  # this thread's CPU time of each request


@dataclass
class ServedPath:
    name: str
    url: str
    roles: Roles


def path_roles(own: dict[str, int], instance: Instance | None = None) -> Roles:
    """A path's own processes by role (``own``: role -> pid), TorchServe's when the path goes
    through ``instance``, and this load generator."""
    processes = {role: [psutil.Process(pid)] for role, pid in own.items()}
    generator = [psutil.Process()]
    return lambda: {**processes, **(torchserve_roles(instance) if instance else {}), LOAD_GENERATOR: generator}


def in_process_floor(model: torch.jit.ScriptModule, pngs: list[bytes], repeats: int = FLOOR_REPEATS) -> Floor:
    """Prepare (decode, preprocess, segment, fit), int8 forward pass (two for a doubtful drawing)
    and answer of one canvas PNG in this process, one torch thread: what the peer and a TorchServe
    worker do for a request."""
    threshold = float(model.non_digit_threshold)
    latencies, cpu = [], []
    with torch.inference_mode():
        for i in range(repeats + 30):
            started, cpu_started = time.perf_counter(), time.thread_time()
            batch = prepare_batch([{"body": pngs[i % len(pngs)]}])
            batch_answers(batch, read_batch(batch, model), threshold)
            latencies.append((time.perf_counter() - started) * 1000)
            cpu.append((time.thread_time() - cpu_started) * 1000)
    return Floor(latencies[30:], cpu[30:])


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


def measured(path: ServedPath, load: Callable[[str], Figures]) -> Figures:
    """``load`` on the path, with the CPU time each of its processes spent per request."""
    before = reading(path.roles)
    figures = load(path.url)
    figures.cpu_ms = spent_ms_per_request(before, reading(path.roles), figures.requests)
    return figures


def one_round(paths: list[ServedPath], pngs: list[bytes], seconds: float, rotation: int) -> dict:
    """Every path under every load: {path: {load: Figures}}; the paths take turns, starting with
    the ``rotation``-th."""
    order = paths[rotation % len(paths):] + paths[:rotation % len(paths)]
    figures: dict = {path.name: {} for path in paths}
    for load in LOADS:
        for path in order:
            run = (lambda url: sequential(url, pngs)) if load == "sequential" else \
                (lambda url, clients=load: concurrent(url, pngs, clients, seconds))
            figures[path.name][load] = measured(path, run)
    return figures


def forward_pass_ms(path: Path, batch: int, repeats: int = 300) -> float:
    """Median milliseconds of one forward pass of ``batch`` images, one torch thread."""
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


def over_rounds(rounds: list[dict], path: str, load, figure: Callable[[Figures], float]) -> Spread:
    return spread(figure(one[path][load]) for one in rounds)


def ratios(rounds: list[dict]) -> dict[str, Spread]:
    """The issue's ratios against the peer, each computed within a round, then over the rounds."""
    def per_round(numerator: str, denominator: str, load, figure) -> Spread:
        return spread(figure(one[numerator][load]) / figure(one[denominator][load]) for one in rounds)

    def throughput(figures: Figures) -> float:
        return figures.throughput

    def cpu(figures: Figures) -> float:
        return figures.serving_cpu_ms

    return {"web front / peer, 8 clients": per_round(WEB, PEER, 8, throughput),
            "web front / peer, 32 clients": per_round(WEB, PEER, 32, throughput),
            "TorchServe direct / peer, 32 clients": per_round(DIRECT, PEER, 32, throughput),
            "stack CPU per request / peer's, 8 clients": per_round(WEB, PEER, 8, cpu),
            "stack CPU per request / peer's, 32 clients": per_round(WEB, PEER, 32, cpu)}


def met(value: float, rule: tuple[str, float]) -> str:
    comparison, bound = rule
    return "yes" if (value >= bound if comparison == ">=" else value <= bound) else "**no**"


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or platform.machine())
    return (f"{cpu}, {os.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB, "
            f"Python {platform.python_version()}, torch {torch.__version__}")


def floor_section(floors: list[dict[str, Floor]]) -> list[str]:
    lines = ["| ink style | p50 ms | p99 ms | CPU ms p50 | p50 target |", "|---|---|---|---|---|"]
    for style in STYLES:
        p50 = spread(percentile(one[style].latencies_ms, 50) for one in floors)
        p99 = spread(percentile(one[style].latencies_ms, 99) for one in floors)
        cpu = spread(percentile(one[style].cpu_ms, 50) for one in floors)
        lines.append(f"| {style} | {p50.text()} | {p99.text()} | {cpu.text()} | "
                     f"<= {FLOOR_TARGET_MS:.1f}: {met(p50.median, ('<=', FLOOR_TARGET_MS))} |")
    return lines


def latency_section(rounds: list[dict]) -> list[str]:
    lines = ["| path | clients | requests/s | p50 ms | p99 ms |", "|---|---|---|---|---|"]
    for load in LOADS:
        for path in PATHS:
            throughput = over_rounds(rounds, path, load, lambda f: f.throughput)
            p50 = over_rounds(rounds, path, load, lambda f: f.percentile(50))
            p99 = over_rounds(rounds, path, load, lambda f: f.percentile(99))
            lines.append(f"| {path} | {load} | {throughput.text(0)} | {p50.text()} | {p99.text()} |")
    return lines


def cpu_section(rounds: list[dict], handler_cpu_ms: Spread) -> list[str]:
    roles = ("peer", "web front", "Java front", "workers")
    lines = ["| path | clients | " + " | ".join(roles) + " | all serving processes | load generator |",
             "|---|---|" + "---|" * (len(roles) + 2)]
    for load in LOADS:
        for path in PATHS:
            cells = []
            for role in (*roles, "all", LOAD_GENERATOR):
                if role == "all":
                    cells.append(over_rounds(rounds, path, load, lambda f: f.serving_cpu_ms).text())
                elif role in rounds[0][path][load].cpu_ms:
                    cells.append(over_rounds(rounds, path, load, lambda f, r=role: f.cpu_ms[r]).text())
                else:
                    cells.append("")
            lines.append(f"| {path} | {load} | " + " | ".join(cells) + " |")
    workers_32 = over_rounds(rounds, DIRECT, 32, lambda f: f.cpu_ms["workers"])
    lines += ["", f"A request's own work (prepare, forward pass and answer, measured in process on the same "
              f"PNGs) is {handler_cpu_ms.text()} CPU ms; TorchServe's workers spend {workers_32.text()} per request "
              f"at 32 clients straight to TorchServe, so their share outside the handler (TorchServe's "
              f"request codec, its socket to the Java front, metrics) is about "
              f"{workers_32.median - handler_cpu_ms.median:.2f} ms."]
    return lines


def targets_section(rounds: list[dict], floors: list[dict[str, Floor]]) -> list[str]:
    lines = ["| ratio | median (min-max) of the rounds | target | met |", "|---|---|---|---|"]
    for name, value in ratios(rounds).items():
        comparison, bound = TARGETS[name]
        lines.append(f"| {name} | {value.text(suffix='x')} | {comparison} {bound:.1f}x | "
                     f"{met(value.median, TARGETS[name])} |")
    direct = over_rounds(rounds, DIRECT, "sequential", lambda f: f.percentile(50))
    web = over_rounds(rounds, WEB, "sequential", lambda f: f.percentile(50))
    lone = statistics.median(percentile(one[STYLES[0]].latencies_ms, 50) for one in floors)
    lines += ["", f"A lone request (sequential p50): the floor {lone:.2f} ms, TorchServe direct {direct.text()} ms, "
              f"the web front {web.text()} ms. TorchServe's own hops (HTTP front, then its socket to the Python "
              f"worker) add {direct.median - lone:.2f} ms to the floor and the web front "
              f"{web.median - direct.median:.2f} ms more."]
    return lines


def report(forward: list[str], floors: list[dict[str, Floor]], rounds: list[dict], args) -> str:
    model = json.loads(read_properties(TORCHSERVE_CONFIG)["models"])[MODEL_NAME][MODEL_VERSION]
    handler_cpu = spread(statistics.mean(one[STYLES[0]].cpu_ms) for one in floors)
    lines = [
        "# Serving benchmark",
        "",
        f"Generated by `make bench` (`python -m bench.benchmark --rounds {args.rounds} --seconds {args.seconds:g}`) "
        f"on {time.strftime('%Y-%m-%d %H:%M %Z')}: {machine()}. Every figure is the median of {args.rounds} "
        "rounds with the lowest and highest round in brackets; within a round the paths take turns at each "
        "load, in an order rotated from round to round. Client, web front and TorchServe share the same cores. "
        "Each request is a 280x280 RGBA canvas PNG of a real MNIST test digit, dark ink on transparent as the "
        "page sends it.",
        *(["", f"While it ran: {args.note}"] if args.note else []),
        "",
        "## The model's forward pass",
        "",
        "A CPU worker serves the int8 file (static post-training quantization, `training/quantize.py`), "
        "a GPU worker the float one; accuracy and calibration from the model card (docs/model/MODEL_CARD.md). "
        "One measurement, before the rounds.",
        "",
        *forward,
        "",
        "## The in-process floor",
        "",
        "Prepare (parse, decode, preprocess, segment, fit), int8 forward pass and answer of one request in this "
        "process, one torch thread, on 64 canvas PNGs of each ink style; CPU ms is this thread's CPU time. "
        "Where the time goes: `make bench-prepare` (`bench/prepare_profile.py`).",
        "",
        *floor_section(floors),
        "",
        "## Throughput and latency",
        "",
        f"The peer is `bench/peer_app.py`: one Flask process under waitress holding the same model file and the "
        f"handler's own modules, what a user would write instead of this stack. TorchServe as config.properties "
        f"ships it: batchSize {model['batchSize']}, maxBatchDelay {model['maxBatchDelay']} ms, "
        f"{model['minWorkers']} workers (other settings: [BATCHING.md](BATCHING.md)); the web front is "
        "`web/serve.py` in front of it.",
        "",
        *latency_section(rounds),
        "",
        "## CPU time per request",
        "",
        "CPU milliseconds (user and system, from /proc) each process spent per answered request: the peer's one "
        "process; TorchServe's Java front and its Python workers; the web front.",
        "",
        *cpu_section(rounds, handler_cpu),
        "",
        "## Against the peer",
        "",
        *targets_section(rounds, floors),
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3, help="rounds of every measurement (the median is printed)")
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of each concurrent run")
    parser.add_argument("--note", default="", help="what else ran on the machine, printed with the figures")
    parser.add_argument("--output", type=Path, default=None, help="also write the report to this file")
    args = parser.parse_args()
    torch.set_num_threads(1)
    pngs = sample_pngs()
    styled = {style: sample_pngs(style=style) for style in STYLES}
    forward = forward_table()
    model = torch.jit.load(str(INT8_MODEL)).eval()
    floors, rounds = [], []
    with ExitStack() as running:
        peer_process, peer_url = running.enter_context(running_peer())
        instance = running.enter_context(scratch_instance())
        web_process, web_url = running.enter_context(running_web_front(instance, WEB_FRONT_SETTINGS))
        paths = [ServedPath(PEER, peer_url, path_roles({"peer": peer_process.pid})),
                 ServedPath(DIRECT, instance.predictions_url(), path_roles({}, instance)),
                 ServedPath(WEB, web_url, path_roles({"web front": web_process.pid}, instance))]
        for path in paths:
            run_clients(path.url, pngs, 8, WARM_UP_S)  # Java's JIT and every process's caches, not counted
        for number in range(args.rounds):
            floors.append({style: in_process_floor(model, styled[style]) for style in STYLES})
            rounds.append(one_round(paths, pngs, args.seconds, number))
            print(f"round {number + 1} of {args.rounds}: " + ", ".join(
                f"{path} {rounds[-1][path][32].throughput:.0f}/s" for path in PATHS) + " at 32 clients", flush=True)
    text = report(forward, floors, rounds, args)
    print(text)
    if args.output:
        args.output.write_text(text + "\n")


if __name__ == "__main__":
    main()
