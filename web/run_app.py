"""Run the whole app: TorchServe on the shipped model, then the web front under waitress.

    python -m web.run_app          (make run)

Prints the URL, stops both on Ctrl-C or SIGTERM, and exits non-zero if TorchServe dies while the
web front runs, so a container never looks up while it cannot answer. If a port it needs is taken,
it says which in one line and exits with status 2 before starting anything.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import threading
from urllib.parse import urlsplit

from flask import Flask

from serving.torchserve import DEFAULT_INSTANCE, GRPC_PORT_KEYS, Instance, read_properties, running_pid, start, stop
from web.app import create_app
from web.metrics import METRICS_HOST, serve_metrics
from web.observability import log_requests_to_stderr
from web.serve import make_server

WATCH_INTERVAL_S = 2.0
# A Ctrl-C in a terminal reaches Java too, which may exit before this process handles its own
# interrupt: a TorchServe that is gone and followed within this time by a stop was stopped, not lost.
STOP_GRACE_S = 1.0
PORT_TAKEN_EXIT_CODE = 2


def listening_addresses(app: Flask, instance: Instance) -> dict[str, tuple[str, int]]:
    """Every (host, port) that `make run` listens on, by what listens there."""
    addresses = {"the web page": (app.config["WEB_HOST"], app.config["WEB_PORT"]),
                 "the web front's metrics": (METRICS_HOST, app.config["WEB_METRICS_PORT"])}
    properties = read_properties(instance.config)
    for api in ("inference", "management", "metrics"):
        url = urlsplit(properties[f"{api}_address"])
        addresses[f"TorchServe's {api} API"] = (url.hostname, url.port)
    for key in GRPC_PORT_KEYS:
        api = key.split("_")[1]
        addresses[f"TorchServe's gRPC {api} API"] = (properties[f"grpc_{api}_address"], int(properties[key]))
    return addresses


def port_taken(host: str, port: int) -> bool:
    with socket.socket() as sock:
        # As the servers do, so a port in TIME_WAIT from a previous run still counts as free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def taken_ports_message(addresses: dict[str, tuple[str, int]]) -> str | None:
    taken = [f"{host}:{port} ({name})" for name, (host, port) in addresses.items() if port_taken(host, port)]
    if not taken:
        return None
    verb = "is" if len(taken) == 1 else "are"
    return (f"Cannot start: {', '.join(taken)} {verb} already in use. Stop what listens there "
            "(`make torchserve-stop` if it is this project's TorchServe), or change the port "
            "(WEB_PORT, WEB_METRICS_PORT, config.properties).")


def main() -> int:
    stopping = threading.Event()

    def shut_down(_signum, _frame):
        stopping.set()
        raise KeyboardInterrupt  # unwinds start() or server.run() in the main thread

    # Installed before TorchServe starts, so a SIGTERM during start-up still stops Java. SIGINT too:
    # a shell starts a background job with SIGINT ignored, and Python then never raises
    # KeyboardInterrupt, so `make run &` in a script could not be stopped by an interrupt.
    signal.signal(signal.SIGTERM, shut_down)
    signal.signal(signal.SIGINT, shut_down)
    app = create_app()
    message = taken_ports_message(listening_addresses(app, DEFAULT_INSTANCE))
    if message:
        print(message, file=sys.stderr)
        return PORT_TAKEN_EXIT_CODE
    log_requests_to_stderr()
    exit_code = 0

    def watch_torchserve():
        nonlocal exit_code
        while not stopping.wait(WATCH_INTERVAL_S):
            if running_pid(DEFAULT_INSTANCE) is None:
                if stopping.wait(STOP_GRACE_S):
                    return
                print("TorchServe has exited; stopping the web front.", file=sys.stderr, flush=True)
                exit_code = 1
                os.kill(os.getpid(), signal.SIGTERM)
                return

    try:
        print("Starting TorchServe (building model_store/mnist.mar first)...", flush=True)
        start(DEFAULT_INSTANCE)
        server = make_server(app)
        serve_metrics(app.extensions["metrics"], app.config["WEB_METRICS_PORT"])
        threading.Thread(target=watch_torchserve, daemon=True).start()
        print(f"The app is ready: http://{app.config['WEB_HOST']}:{app.config['WEB_PORT']}/  (Ctrl-C stops it; "
              f"metrics at http://{METRICS_HOST}:{app.config['WEB_METRICS_PORT']}/metrics)", flush=True)
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        stopping.set()
        print("Stopping TorchServe...", flush=True)
        stop(DEFAULT_INSTANCE)
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
