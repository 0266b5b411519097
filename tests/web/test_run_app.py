"""`make run` (python -m web.run_app): with a port it needs already taken, one line, a non-zero exit
and nothing started; started for real, an interrupt stops both servers quietly (even started as a
background job, which ignores SIGINT), and a TorchServe that dies under it stops it with a non-zero
exit."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading

import pytest

from serving.settings import REPO_ROOT
from serving.torchserve import ADDRESS_KEYS, DEFAULT_INSTANCE, GRPC_PORT_KEYS, free_ports, read_properties, running_pid
from web.app import create_app
from web.run_app import PORT_TAKEN_EXIT_CODE, listening_addresses

READY_TIMEOUT_S = 180
EXIT_TIMEOUT_S = 90


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


def as_a_background_job():
    """What a shell does to a job it starts with `&`: SIGINT ignored (then Python installs no
    KeyboardInterrupt of its own)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.fixture
def running_app():
    """``python -m web.run_app`` in its own process group, started as a script's background job,
    once it says it is ready."""
    assert running_pid(DEFAULT_INSTANCE) is None, "the app's TorchServe must not be running already"
    web_port, metrics_port = free_ports(2)
    app = subprocess.Popen([sys.executable, "-m", "web.run_app"], cwd=REPO_ROOT, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, start_new_session=True, preexec_fn=as_a_background_job,
                           env=dict(os.environ, WEB_PORT=str(web_port), WEB_METRICS_PORT=str(metrics_port)))
    try:
        deadline = threading.Timer(READY_TIMEOUT_S, os.killpg, (app.pid, signal.SIGTERM))
        deadline.start()
        ready = any(line.startswith("The app is ready") for line in app.stdout)
        deadline.cancel()
        assert ready and running_pid(DEFAULT_INSTANCE) is not None, app.stderr.read() if app.poll() is not None else ""
        yield app
    finally:
        if app.poll() is None:
            os.killpg(app.pid, signal.SIGTERM)
        app.wait(EXIT_TIMEOUT_S)


def test_an_interrupt_stops_both_servers_without_calling_it_a_crash(running_app):
    os.killpg(running_app.pid, signal.SIGINT)  # as a terminal's Ctrl-C: the whole group, Java included
    _, stderr = running_app.communicate(timeout=EXIT_TIMEOUT_S)
    assert running_app.returncode == 0, stderr
    assert "TorchServe has exited" not in stderr
    assert running_pid(DEFAULT_INSTANCE) is None


def test_a_torchserve_that_dies_stops_the_web_front_with_a_non_zero_exit(running_app):
    os.kill(running_pid(DEFAULT_INSTANCE), signal.SIGKILL)
    _, stderr = running_app.communicate(timeout=EXIT_TIMEOUT_S)
    assert running_app.returncode == 1
    assert "TorchServe has exited; stopping the web front." in stderr
