"""`make run` (python -m web.run_app) with a port it needs already taken: one line, a non-zero exit,
and nothing started."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

from serving.settings import REPO_ROOT
from serving.torchserve import ADDRESS_KEYS, DEFAULT_INSTANCE, GRPC_PORT_KEYS, free_ports, read_properties, running_pid
from web.app import create_app
from web.run_app import PORT_TAKEN_EXIT_CODE, listening_addresses


def run_app_with(**environment) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "web.run_app"], cwd=REPO_ROOT, capture_output=True, text=True,
                          env=dict(os.environ, **environment), timeout=60)


def test_a_taken_web_port_is_named_in_one_line_before_anything_starts():
    pid_before = running_pid(DEFAULT_INSTANCE)
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        finished = run_app_with(WEB_PORT=str(port), WEB_METRICS_PORT=str(free_ports(1)[0]))
    assert finished.returncode == PORT_TAKEN_EXIT_CODE
    assert finished.stdout == ""
    [line] = finished.stderr.splitlines()
    assert f"127.0.0.1:{port} (the web page)" in line and "already in use" in line
    assert running_pid(DEFAULT_INSTANCE) == pid_before  # no TorchServe was started


def test_every_port_the_app_listens_on_is_checked():
    properties = read_properties(DEFAULT_INSTANCE.config)
    torchserve_ports = {int(properties[key].rsplit(":", 1)[1]) for key in ADDRESS_KEYS}
    torchserve_ports |= {int(properties[key]) for key in GRPC_PORT_KEYS}
    addresses = listening_addresses(create_app({"WEB_PORT": 5000, "WEB_METRICS_PORT": 5001}), DEFAULT_INSTANCE)
    assert sorted(port for _host, port in addresses.values()) == sorted({5000, 5001} | torchserve_ports)
