"""Load test through the web front, memory before and after, and TorchServe's queue limit on purpose.

    python -m bench.load_test [--clients 32] [--seconds 60]      (make load-test)

Starts a private TorchServe and web front on free loopback ports, records the answer for each
sample digit at rest, then runs ``--clients`` concurrent clients for ``--seconds`` and checks that
every request was answered, none with a 5xx, each with the same digit as at rest. Then it sends a
burst larger than TorchServe's job queue straight at TorchServe and reports what the clients saw.
All traffic goes to 127.0.0.1 and stops by itself.
"""

from __future__ import annotations

import argparse
import http.client
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urlparse

import psutil

from bench.loadgen import percentile, post, running_web_front, sample_pngs
from serving.torchserve import read_properties, running_pid, scratch_instance


@dataclass
class LoadResult:
    sent: int = 0
    answered: int = 0
    statuses: Counter = field(default_factory=Counter)
    mismatches: int = 0
    latencies_ms: list[float] = field(default_factory=list)

    def percentile(self, q: float) -> float:
        return percentile(self.latencies_ms, q)


def digits_at_rest(url: str, pngs: list[bytes]) -> list[int]:
    parsed = urlparse(url)
    connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30)
    return [post(connection, parsed.path, png)[1]["digit"] for png in pngs]


def run_load(url: str, pngs: list[bytes], expected: list[int], clients: int, seconds: float) -> LoadResult:
    parsed = urlparse(url)
    result = LoadResult()
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def client(index: int) -> None:
        connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30)
        i = index
        while time.perf_counter() < deadline:
            sample = i % len(pngs)
            with lock:
                result.sent += 1
            started = time.perf_counter()
            try:
                status, body = post(connection, parsed.path, pngs[sample])
            except (OSError, http.client.HTTPException):
                connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30)
                status, body = 0, {}
            elapsed = (time.perf_counter() - started) * 1000
            with lock:
                result.answered += status != 0
                result.statuses[status] += 1
                result.latencies_ms.append(elapsed)
                result.mismatches += status == 200 and body.get("digit") != expected[sample]
            i += clients

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return result


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


def memory_mb(torchserve_pid: int, web_pid: int) -> dict[str, float]:
    java = psutil.Process(torchserve_pid)
    figures = {"TorchServe frontend (Java)": java.memory_info().rss / 2**20}
    for index, worker in enumerate(sorted(java.children(recursive=True), key=lambda p: p.pid)):
        figures[f"worker {index + 1}"] = worker.memory_info().rss / 2**20
    figures["web front (waitress)"] = psutil.Process(web_pid).memory_info().rss / 2**20
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=60.0, help="length of each round")
    parser.add_argument("--rounds", type=int, default=2,
                        help="rounds of load; memory is read after each, so growth can be told from warm-up")
    args = parser.parse_args()
    pngs = sample_pngs()
    with scratch_instance() as instance, running_web_front(instance) as (web, web_url):
        direct_url = instance.predictions_url()
        expected = digits_at_rest(web_url, pngs)
        run_load(web_url, pngs, expected, args.clients, 5.0)  # warm-up, not counted
        memory = [memory_mb(running_pid(instance), web.pid)]
        results = []
        for _ in range(args.rounds):
            results.append(run_load(web_url, pngs, expected, args.clients, args.seconds))
            memory.append(memory_mb(running_pid(instance), web.pid))
        queue_size = int(read_properties(instance.config)["job_queue_size"])
        burst_statuses, slowest = burst(direct_url, pngs[0], 3 * queue_size)

    for index, result in enumerate(results, 1):
        print(f"## Round {index}: {args.clients} clients through the web front for {args.seconds:g} s\n")
        print(f"- sent {result.sent}, answered {result.answered}, statuses {dict(result.statuses)}")
        print(f"- {result.mismatches} answers differ from the digit given at rest")
        print(f"- {result.answered / args.seconds:.0f} requests/s, p50 {result.percentile(50):.1f} ms, "
              f"p99 {result.percentile(99):.1f} ms\n")
    print("| process | RSS before (MB) | " + " | ".join(f"after round {i} (MB)" for i in range(1, len(results) + 1))
          + " |\n" + "|---" * (len(results) + 2) + "|")
    for name in memory[0]:
        print(f"| {name} | " + " | ".join(f"{snapshot.get(name, float('nan')):.0f}" for snapshot in memory) + " |")
    print(f"\n## {3 * queue_size} requests at once straight at TorchServe (job_queue_size {queue_size})\n")
    print(f"- statuses {dict(burst_statuses)}; slowest answer {slowest * 1000:.0f} ms")
    ok = all(result.sent == result.answered and not any(s >= 500 or s == 0 for s in result.statuses)
             and result.mismatches == 0 for result in results)
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
