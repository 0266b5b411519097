"""The web front alone under waitress, for when TorchServe runs elsewhere (its URLs from the environment).

    TORCHSERVE_INFERENCE_URL=... TORCHSERVE_MANAGEMENT_URL=... python -m web.serve
"""

from __future__ import annotations

from flask import Flask
from waitress import create_server
from waitress.server import BaseWSGIServer

from web.app import create_app
from web.metrics import serve_metrics
from web.observability import log_requests_to_stderr


def make_server(app: Flask, port: int | None = None) -> BaseWSGIServer:
    """A production WSGI server (never Flask's development server) on the configured address;
    ``port`` 0 picks a free one.

    Idle and slow clients cost a connection each, never a thread; poll() instead of select(), whose
    descriptor limit of 1024 is below the connection limit. A body over the upload limit is refused
    by waitress itself, before it spools the rest to a temporary file.
    """
    return create_server(app, host=app.config["WEB_HOST"], port=app.config["WEB_PORT"] if port is None else port,
                         threads=app.config["WEB_THREADS"], connection_limit=app.config["WEB_CONNECTION_LIMIT"],
                         channel_timeout=app.config["WEB_CHANNEL_TIMEOUT_S"], cleanup_interval=10,
                         asyncore_use_poll=True, max_request_body_size=app.config["MAX_UPLOAD_BYTES"])


def main() -> None:
    app = create_app()
    log_requests_to_stderr()
    server = make_server(app)
    metrics = serve_metrics(app.extensions["metrics"], app.config["WEB_METRICS_PORT"])
    print(f"web front on http://{server.effective_host}:{server.effective_port}/, "
          f"metrics on http://{metrics.server_address[0]}:{metrics.server_port}/metrics", flush=True)
    server.run()


if __name__ == "__main__":
    main()
