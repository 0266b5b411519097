"""CPU time of each process on a serving path, from /proc (psutil).

Wall time on a shared 2-core machine moves with whatever else runs; the CPU seconds a process has
spent move far less, and they say which process pays for a request: TorchServe's Java front, its
Python workers, the web front, or the peer's one process.
"""

from __future__ import annotations

from collections.abc import Callable

import psutil

from serving.torchserve import Instance, running_pid

# A path's processes by role, looked up afresh for each reading (a worker TorchServe restarts is a new process).
Roles = Callable[[], dict[str, list[psutil.Process]]]


def cpu_seconds(processes: list[psutil.Process]) -> float:
    """User and system CPU seconds the processes have spent (their own threads, not their children)."""
    return sum(sum(process.cpu_times()[:2]) for process in processes)


def torchserve_roles(instance: Instance) -> dict[str, list[psutil.Process]]:
    """TorchServe's Java front (HTTP, job queue, worker threads, metrics) and its Python workers."""
    java = psutil.Process(running_pid(instance))
    return {"Java front": [java], "workers": java.children(recursive=True)}


def reading(roles: Roles) -> dict[str, float]:
    return {role: cpu_seconds(processes) for role, processes in roles().items()}


def spent_ms_per_request(before: dict[str, float], after: dict[str, float], requests: int) -> dict[str, float]:
    """CPU milliseconds each role spent per answered request between two readings."""
    return {role: 1000 * (after[role] - before[role]) / requests for role in before}
