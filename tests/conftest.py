"""Shared fixtures: a real TorchServe (Java) on free loopback ports, started from config.properties."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest

from serving.settings import TORCHSERVE_CONFIG
from serving.torchserve import Instance, process_alive, running_pid, start, stop

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
            text, count = re.subn(rf"^{key}=http://127\.0\.0\.1:\d+$", f"{key}=http://127.0.0.1:{port}",
                                  text, flags=re.MULTILINE)
        else:
            text, count = re.subn(rf"^{key}=\d+$", f"{key}={port}", text, flags=re.MULTILINE)
        assert count == 1, f"config.properties has no loopback {key} line to override"
    return text


def start_test_torchserve(run_dir: Path) -> Instance:
    config = run_dir / "config.properties"
    config.write_text(config_on_ports(TORCHSERVE_CONFIG.read_text(), free_ports(5)))
    instance = Instance(run_dir, config, run_dir / "model_store")
    start(instance)
    return instance


@pytest.fixture(scope="session")
def torchserve(tmp_path_factory):
    instance = start_test_torchserve(tmp_path_factory.mktemp("torchserve"))
    pid = running_pid(instance)
    yield instance
    stop(instance)
    assert not process_alive(pid), "TorchServe's Java process outlived stop()"
