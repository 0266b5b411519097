"""Run the whole app: TorchServe on the shipped model, then the web front under waitress.

    python -m web.run_app          (make run)

Prints the URL, stops both on Ctrl-C or SIGTERM, and exits non-zero if TorchServe dies while the
web front runs, so a container never looks up while it cannot answer.
"""

from __future__ import annotations

import os
import signal
import sys
import threading

from serving.torchserve import DEFAULT_INSTANCE, running_pid, start, stop
from web.app import create_app
from web.serve import make_server

WATCH_INTERVAL_S = 2.0


def main() -> int:
    def shut_down(_signum, _frame):
        raise KeyboardInterrupt  # unwinds start() or server.run() in the main thread

    # Installed before TorchServe starts, so a SIGTERM during start-up still stops Java.
    signal.signal(signal.SIGTERM, shut_down)
    app = create_app()
    exit_code = 0

    def watch_torchserve():
        nonlocal exit_code
        stopped = threading.Event()
        while not stopped.wait(WATCH_INTERVAL_S):
            if running_pid(DEFAULT_INSTANCE) is None:
                print("TorchServe has exited; stopping the web front.", file=sys.stderr, flush=True)
                exit_code = 1
                os.kill(os.getpid(), signal.SIGTERM)
                return

    try:
        print("Starting TorchServe (building model_store/mnist.mar first)...", flush=True)
        start(DEFAULT_INSTANCE)
        server = make_server(app)
        threading.Thread(target=watch_torchserve, daemon=True).start()
        print(f"The app is ready: http://{app.config['WEB_HOST']}:{app.config['WEB_PORT']}/  (Ctrl-C stops it)",
              flush=True)
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        print("Stopping TorchServe...", flush=True)
        stop(DEFAULT_INSTANCE)
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
