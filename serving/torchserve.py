"""Start TorchServe and wait until the model's workers are READY; stop it and wait until Java exits.

    python -m serving.torchserve start     # builds model_store/mnist.mar, starts, waits for READY
    python -m serving.torchserve stop      # stops, waits for the Java process to exit

``/ping`` says Healthy even while a worker crash-loops, so readiness is read from the management
API's list of the model's workers. Each instance keeps its pid file, logs and temporary files in
its own run folder, so a test's TorchServe never collides with the one a user started.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from serving.archive import build_archive
from serving.settings import (MODEL_NAME, MODEL_STORE, TORCHSERVE_CONFIG, TORCHSERVE_LOG_CONFIG,
                              TORCHSERVE_RUN_DIR)

START_TIMEOUT_S = 120
STOP_TIMEOUT_S = 30


@dataclass(frozen=True)
class Instance:
    """Where one TorchServe keeps its state, and the addresses its config file names."""

    run_dir: Path
    config: Path
    model_store: Path

    @property
    def pid_file(self) -> Path:
        # The torchserve CLI keeps its pid file in tempfile.gettempdir(), which follows TMPDIR.
        return self.run_dir / "tmp" / ".model_server.pid"

    def address(self, name: str) -> str:
        return read_properties(self.config)[f"{name}_address"]

    def predictions_url(self) -> str:
        return f"{self.address('inference')}/predictions/{MODEL_NAME}"

    def environment(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(TMPDIR=str(self.run_dir / "tmp"), TEMP=str(self.run_dir / "tmp"),
                   LOG_LOCATION=str(self.run_dir / "logs"), METRICS_LOCATION=str(self.run_dir / "logs"))
        return env


DEFAULT_INSTANCE = Instance(TORCHSERVE_RUN_DIR, TORCHSERVE_CONFIG, MODEL_STORE)


def read_properties(path: Path) -> dict[str, str]:
    properties = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            properties[key.strip()] = value.strip()
    return properties


ADDRESS_KEYS = ("inference_address", "management_address", "metrics_address")
GRPC_PORT_KEYS = ("grpc_inference_port", "grpc_management_port")


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


def config_on_ports(text: str, ports: list[int]) -> str:
    """config.properties with every listening port replaced, all else (loopback included) kept."""
    for key, port in zip(ADDRESS_KEYS + GRPC_PORT_KEYS, ports):
        if key.endswith("_address"):
            pattern, replacement = rf"^{key}=http://127\.0\.0\.1:\d+$", f"{key}=http://127.0.0.1:{port}"
        else:
            pattern, replacement = rf"^{key}=\d+$", f"{key}={port}"
        text, count = re.subn(pattern, replacement, text, flags=re.MULTILINE)
        if count != 1:
            raise ValueError(f"the configuration has no loopback {key} line to override")
    return text


def private_instance(run_dir: Path, model_settings: dict[str, int] | None = None,
                     properties: dict[str, str] | None = None) -> Instance:
    """An instance in ``run_dir`` configured like config.properties but on free loopback ports
    (for tests and benchmarks), optionally with other values for the model's settings
    (``{"batchSize": 8, "maxBatchDelay": 2, "minWorkers": 1, "maxWorkers": 1}``) and for lines
    of the file (``{"enable_model_api": "true"}``)."""
    text = config_on_ports(TORCHSERVE_CONFIG.read_text(), free_ports(len(ADDRESS_KEYS + GRPC_PORT_KEYS)))
    for key, value in (model_settings or {}).items():
        text, count = re.subn(rf'"{key}": \d+', f'"{key}": {value}', text)
        if count != 1:
            raise ValueError(f"the configuration has no {key} to override")
    for key, value in (properties or {}).items():
        text, count = re.subn(rf"^{key}=.*$", f"{key}={value}", text, flags=re.MULTILINE)
        if count != 1:
            raise ValueError(f"the configuration has no {key} line to override")
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.properties").write_text(text)
    return Instance(run_dir, run_dir / "config.properties", run_dir / "model_store")


def model_workers(instance: Instance) -> list[dict]:
    """The model's workers (pid, status, ...) as the management API describes them; [] if unreachable."""
    url = f"{instance.address('management')}/models/{MODEL_NAME}"
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            description = json.load(response)
    except (urllib.error.URLError, OSError, ValueError):
        return []
    return [worker for model in description for worker in model.get("workers", [])]


def running_pid(instance: Instance) -> int | None:
    try:
        pid = int(instance.pid_file.read_text().split()[0])
        os.kill(pid, 0)
    except (OSError, ValueError, IndexError):
        return None
    return pid


def log_tail(instance: Instance, lines: int = 30) -> str:
    log = instance.run_dir / "logs" / "ts_log.log"
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:]) if log.exists() else "(no log)"


def start(instance: Instance = DEFAULT_INSTANCE, timeout_s: float = START_TIMEOUT_S) -> int:
    """Archive the model, start TorchServe, and return its pid once every worker is READY."""
    if running_pid(instance):
        raise RuntimeError(f"TorchServe already runs from {instance.run_dir} (pid {running_pid(instance)})")
    (instance.run_dir / "tmp").mkdir(parents=True, exist_ok=True)
    build_archive(instance.model_store)
    subprocess.run(
        [sys.executable, "-m", "ts.model_server", "--start", "--ncs",
         "--ts-config", str(instance.config), "--log-config", str(TORCHSERVE_LOG_CONFIG),
         "--model-store", str(instance.model_store)],
        check=True, env=instance.environment(), cwd=instance.run_dir, stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        pid = running_pid(instance)
        states = [worker["status"] for worker in model_workers(instance)]
        if pid and states and all(state == "READY" for state in states):
            return pid
        if pid is None:  # the CLI wrote the pid file before returning: Java has died
            raise RuntimeError(f"TorchServe exited during start-up:\n{log_tail(instance)}")
        time.sleep(0.5)
    stop(instance)
    raise TimeoutError(f"the model's workers were not READY within {timeout_s:.0f} s:\n{log_tail(instance)}")


def stop(instance: Instance = DEFAULT_INSTANCE, timeout_s: float = STOP_TIMEOUT_S) -> None:
    """Stop TorchServe and return only once its Java process has exited."""
    pid = running_pid(instance)
    if pid is None:
        return
    # `torchserve --stop` returns before Java exits; signal it ourselves and wait.
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not process_alive(pid):
            break
        time.sleep(0.2)
    else:
        os.kill(pid, signal.SIGKILL)
    instance.pid_file.unlink(missing_ok=True)


@contextmanager
def scratch_instance(model_settings: dict[str, int] | None = None) -> Iterator[Instance]:
    """A private instance in a temporary folder, started, and stopped and removed on leaving
    (for the benchmarks and the load test)."""
    with tempfile.TemporaryDirectory() as scratch:
        instance = private_instance(Path(scratch), model_settings)
        start(instance)
        try:
            yield instance
        finally:
            stop(instance)


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie child of ours has exited; reap it if it is ours.
    try:
        return os.waitpid(pid, os.WNOHANG) == (0, 0)
    except ChildProcessError:
        status = Path(f"/proc/{pid}/stat")
        return status.exists() and status.read_text().split()[2] != "Z"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=("start", "stop", "status"))
    action = parser.parse_args().action
    if action == "start":
        pid = start()
        print(f"TorchServe is READY (pid {pid}): inference at {DEFAULT_INSTANCE.predictions_url()}")
    elif action == "stop":
        stop()
        print("TorchServe stopped")
    else:
        print(json.dumps({"pid": running_pid(DEFAULT_INSTANCE), "workers": model_workers(DEFAULT_INSTANCE)}))


if __name__ == "__main__":
    main()
