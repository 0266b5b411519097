"""Fuzz the handler's preprocessing with mutated images, each case within a time and memory budget,
then send the same cases through the web front to a real TorchServe.

    python -m bench.image_fuzz                       (make fuzz: 10,000 cases, both stages)
    python -m bench.image_fuzz --cases 300 --in-process-only   (a quick look)

In process, every case runs in a child process (so a hang is killed and a memory peak is its own)
through ``mnist_batch.prepare_batch``, as in a worker. A case is a finding if the preprocessing
raises anything but its own ``BadInput`` (or logs one it turned into a 400), returns pixels outside
[0, 1], takes more than the time budget (in CPU time, so that other work on the machine does not
count, the least of three timings; a wall-clock watchdog catches hangs), or grows the
process's resident memory past the memory budget. Through TorchServe, a finding
is any 5xx, or a worker that died. Each case is ``(run seed, index)``, so a finding is reproduced
exactly; ``--save DIR`` writes the inputs of findings there.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import os
import queue
import re
import sys
import time
import warnings
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

TIME_BUDGET_S = 0.25
MEMORY_BUDGET_MB = 200
# A case still running after this is a hang: the child is killed and the run goes on after it.
HANG_S = 20.0
RETIMINGS = 3


@dataclass
class CaseResult:
    index: int
    seed_name: str
    outcome: str        # "answered", "refused", or a finding: "crash", "bad pixels", "slow", "memory", "hang"
    seconds: float
    detail: str = ""


@dataclass
class Report:
    results: list[CaseResult] = field(default_factory=list)
    memory_growth_mb: float = 0.0

    @property
    def findings(self) -> list[CaseResult]:
        return [r for r in self.results if r.outcome not in ("answered", "refused")]

    def worst(self) -> CaseResult:
        return max(self.results, key=lambda r: r.seconds)

    def summary(self) -> str:
        outcomes = Counter(r.outcome for r in self.results)
        times = sorted(r.seconds for r in self.results)
        worst = self.worst()
        lines = [f"{len(self.results):,} cases: " + ", ".join(f"{n:,} {o}" for o, n in outcomes.most_common()),
                 f"preprocessing CPU time: median {times[len(times) // 2] * 1000:.1f} ms, "
                 f"p99 {times[int(len(times) * 0.99)] * 1000:.1f} ms, worst {worst.seconds * 1000:.1f} ms "
                 f"(case {worst.index}, {worst.seed_name}: {worst.outcome} {worst.detail[:80]})",
                 f"worst growth of resident memory during one case: {self.memory_growth_mb:.0f} MB"]
        lines += [f"FINDING case {r.index} ({r.seed_name}): {r.outcome} after {r.seconds * 1000:.0f} ms: {r.detail}"
                  for r in self.findings]
        return "\n".join(lines)


class LoggedRefusals(logging.Handler):
    """Collects what the batch's error boundary logs when it turns an unexpected exception into a 400."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def memory_mb(field_name: str) -> float:
    """VmRSS (resident now) or VmHWM (resident at the peak since the last reset), in MB."""
    status = Path("/proc/self/status").read_text()
    return int(re.search(rf"^{field_name}:\s+(\d+) kB", status, re.MULTILINE).group(1)) / 1024


def reset_peak_memory() -> None:
    Path("/proc/self/clear_refs").write_text("5")  # Linux: VmHWM starts again from VmRSS


def child(tasks: multiprocessing.Queue, results: multiprocessing.Queue, time_budget_s: float) -> None:
    """Preprocess each (index, seed name, bytes) task; the cases are made by the parent, so that
    making them (a mutation may build large intermediates) never counts in this process's memory."""
    import torch  # noqa: PLC0415 - the child's own imports, not the parent's

    from bench.image_mutations import seed_images  # noqa: PLC0415
    from handler.mnist_batch import prepare_batch  # noqa: PLC0415

    torch.set_num_threads(1)  # as in a TorchServe worker
    logged = LoggedRefusals()
    logging.getLogger("handler.mnist_batch").addHandler(logged)
    os.dup2(os.open(os.devnull, os.O_WRONLY), 2)  # libtiff and libjpeg complain on stderr about every case
    warnings.simplefilter("ignore")
    for data in seed_images().values():  # warm up: first-use allocations are not a case's
        prepare_batch([{"body": data}])

    def run(data: bytes) -> tuple[str, float, str]:
        logged.messages.clear()
        started = time.process_time()
        try:
            batch = prepare_batch([{"body": data}])
        except Exception as error:  # noqa: BLE001 - what the fuzzer is looking for
            return "crash", time.process_time() - started, f"{type(error).__name__}: {error}"
        seconds = time.process_time() - started
        if logged.messages:
            return "crash", seconds, "; ".join(logged.messages)
        if 0 in batch.errors:
            error = batch.errors[0]
            return ("refused" if 400 <= error.status < 500 else "crash"), seconds, str(error)
        pixels = batch.pixels
        if pixels.ndim != 4 or pixels.shape[1:] != (1, 28, 28) or not torch.isfinite(pixels).all() \
                or pixels.min() < 0 or pixels.max() > 1:
            return "bad pixels", seconds, f"shape {tuple(pixels.shape)}"
        return "answered", seconds, ""

    while (task := tasks.get()) is not None:
        index, name, data = task
        resident_before = memory_mb("VmRSS")
        reset_peak_memory()
        outcome, seconds, detail = run(data)
        growth = memory_mb("VmHWM") - resident_before
        if outcome in ("answered", "refused") and seconds > time_budget_s:
            seconds = min([seconds] + [run(data)[1] for _ in range(RETIMINGS - 1)])
            if seconds > time_budget_s:
                outcome, detail = "slow", f"{len(data):,} bytes; {outcome}: {detail}"
        if growth > MEMORY_BUDGET_MB and outcome in ("answered", "refused"):
            outcome, detail = "memory", f"resident memory grew {growth:.0f} MB; {detail}"
        results.put((CaseResult(index, name, outcome, seconds, detail[:300]), growth))


def measure_in_process(cases: Iterable[tuple[int, str, bytes]], progress: bool = False,
                       time_budget_s: float = TIME_BUDGET_S) -> Report:
    """Each (index, name, bytes) case, one at a time in a child process; a hung child is killed
    and replaced, and the run goes on with the next case. A case over ``time_budget_s`` of CPU
    time (the least of three timings) is a finding."""
    context = multiprocessing.get_context("spawn")
    report = Report()
    worker = None
    try:
        for index, name, data in cases:
            if worker is None:
                tasks, results = context.Queue(), context.Queue()
                worker = context.Process(target=child, args=(tasks, results, time_budget_s), daemon=True)
                worker.start()
                first_wait_s = 120.0  # the child imports torch and warms up first
            tasks.put((index, name, data))
            try:
                result, growth = results.get(timeout=HANG_S + first_wait_s)
            except queue.Empty:
                result, growth = CaseResult(index, name, "hang", HANG_S, "killed after no answer"), 0.0
                worker.kill()
                worker.join()
                worker = None
            first_wait_s = 0.0
            report.results.append(result)
            report.memory_growth_mb = max(report.memory_growth_mb, growth)
            if progress and (index + 1) % 1000 == 0:
                print(f"  {index + 1:,} cases, worst {report.worst().seconds * 1000:.0f} ms, "
                      f"{len(report.findings)} findings", flush=True)
    finally:
        if worker is not None:
            tasks.put(None)
            worker.join(timeout=10)
            worker.kill()
    return report


def fuzz_in_process(cases: int, run_seed: int, progress: bool = False, time_budget_s: float = TIME_BUDGET_S) -> Report:
    """Mutated cases 0..cases-1 of ``run_seed``."""
    from bench.image_mutations import mutated_case  # noqa: PLC0415

    return measure_in_process(((index, *mutated_case(index, run_seed)) for index in range(cases)), progress,
                              time_budget_s)


def fuzz_through_torchserve(cases: int, run_seed: int, progress: bool = False) -> tuple[Counter, list[str]]:
    """Every case through the web front (test client) to a private TorchServe; 5xx and worker deaths."""
    from bench.image_mutations import mutated_case  # noqa: PLC0415
    from bench.loadgen import web_app, worker_pids  # noqa: PLC0415
    from serving.torchserve import scratch_instance  # noqa: PLC0415

    statuses: Counter = Counter()
    findings: list[str] = []
    with scratch_instance() as instance:
        client = web_app(instance).test_client()
        pids = worker_pids(instance)
        for index in range(cases):
            name, data = mutated_case(index, run_seed)
            response = client.post("/predict", data=data, content_type="image/png")
            statuses[response.status_code] += 1
            if response.status_code >= 500:
                findings.append(f"case {index} ({name}): HTTP {response.status_code} {response.get_json()}")
            if index % 100 == 99 or index == cases - 1:
                if worker_pids(instance) != pids:
                    findings.append(f"a worker died by case {index} ({name})")
                    pids = worker_pids(instance)
                if progress and index % 1000 == 999:
                    print(f"  {index + 1:,} requests: {dict(statuses)}", flush=True)
    return statuses, findings


def save_findings(findings: list[CaseResult], run_seed: int, folder: Path) -> None:
    from bench.image_mutations import mutated_case  # noqa: PLC0415

    folder.mkdir(parents=True, exist_ok=True)
    for finding in findings:
        _, data = mutated_case(finding.index, run_seed)
        (folder / f"seed{run_seed}-case{finding.index}-{finding.outcome.replace(' ', '-')}.bin").write_bytes(data)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=10_000, help="mutated images to try (default 10,000)")
    parser.add_argument("--seed", type=int, default=1, help="run seed: the same seed gives the same cases")
    parser.add_argument("--in-process-only", action="store_true", help="skip the run through TorchServe")
    parser.add_argument("--save", type=Path, help="write the inputs of findings to this folder")
    args = parser.parse_args()
    print(f"In process: {args.cases:,} mutated images, budget {TIME_BUDGET_S * 1000:.0f} ms and "
          f"{MEMORY_BUDGET_MB} MB each", flush=True)
    started = time.monotonic()
    report = fuzz_in_process(args.cases, args.seed, progress=True)
    print(report.summary(), f"\n({time.monotonic() - started:.0f} s)", flush=True)
    if args.save and report.findings:
        save_findings(report.findings, args.seed, args.save)
    failed = bool(report.findings)
    if not args.in_process_only:
        print(f"Through the web front and TorchServe: the same {args.cases:,} images", flush=True)
        started = time.monotonic()
        statuses, findings = fuzz_through_torchserve(args.cases, args.seed, progress=True)
        print(f"statuses: {dict(sorted(statuses.items()))}; {len(findings)} findings "
              f"({time.monotonic() - started:.0f} s)", flush=True)
        for finding in findings:
            print("FINDING", finding)
        failed = failed or bool(findings)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
