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
from urllib.parse import urlparse

import psutil

from bench.loadgen import Load, burst, post, run_clients, running_web_front, sample_pngs
from serving.torchserve import read_properties, running_pid, scratch_instance


def digits_at_rest(url: str, pngs: list[bytes]) -> list[int]:
    parsed = urlparse(url)
    connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30)
    return [post(connection, parsed.path, png)[1]["digit"] for png in pngs]


def mismatches(load: Load, expected: list[int]) -> int:
    """Answers whose digit differs from the one given for the same PNG at rest."""
    return sum(answer.status == 200 and answer.body.get("digit") != expected[answer.sample] for answer in load.answers)


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
        run_clients(web_url, pngs, args.clients, 5.0)  # warm-up, not counted
        memory = [memory_mb(running_pid(instance), web.pid)]
        results = []
        for _ in range(args.rounds):
            results.append(run_clients(web_url, pngs, args.clients, args.seconds))
            memory.append(memory_mb(running_pid(instance), web.pid))
        queue_size = int(read_properties(instance.config)["job_queue_size"])
        burst_statuses, slowest = burst(direct_url, pngs[0], 3 * queue_size)

    for index, result in enumerate(results, 1):
        print(f"## Round {index}: {args.clients} clients through the web front for {args.seconds:g} s\n")
        print(f"- sent {len(result.answers)}, answered {result.answered}, statuses {dict(result.statuses)}")
        print(f"- {mismatches(result, expected)} answers differ from the digit given at rest")
        print(f"- {result.answered / args.seconds:.0f} requests/s, p50 {result.percentile(50):.1f} ms, "
              f"p99 {result.percentile(99):.1f} ms\n")
    print("| process | RSS before (MB) | " + " | ".join(f"after round {i} (MB)" for i in range(1, len(results) + 1))
          + " |\n" + "|---" * (len(results) + 2) + "|")
    for name in memory[0]:
        print(f"| {name} | " + " | ".join(f"{snapshot.get(name, float('nan')):.0f}" for snapshot in memory) + " |")
    print(f"\n## {3 * queue_size} requests at once straight at TorchServe (job_queue_size {queue_size})\n")
    print(f"- statuses {dict(burst_statuses)}; slowest answer {slowest * 1000:.0f} ms")
    ok = all(not any(s >= 500 or s == 0 for s in result.statuses) and mismatches(result, expected) == 0
             for result in results)
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
