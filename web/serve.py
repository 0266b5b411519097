"""The web front alone under waitress, for when TorchServe runs elsewhere (its URLs from the environment).

    TORCHSERVE_INFERENCE_URL=... TORCHSERVE_MANAGEMENT_URL=... python -m web.serve
"""

from __future__ import annotations

from flask import Flask
from waitress import create_server
from waitress.server import BaseWSGIServer

from web.app import create_app, upload_too_large
from web.framing import strict_json_channel
from web.metrics import serve_metrics
from web.observability import log_requests_to_stderr


def make_server(app: Flask, port: int | None = None) -> BaseWSGIServer:
    """A production WSGI server (never Flask's development server) on the configured address;
    ``port`` 0 picks a free one.

    Idle and slow clients cost a connection each, never a thread; poll() instead of select(), whose
    descriptor limit of 1024 is below the connection limit. A request whose body length is
    ambiguous is refused with 400 and its connection closed (web/framing.py).
    """
    upload_limit = app.config["MAX_UPLOAD_BYTES"]
    listeners: dict = {}
    # waitress spools a whole body before the app sees it, and answers one over its own limit
    # itself; at twice the app's limit, the app answers any body near its limit (chunked framing
    # included), and waitress only bounds what it spools.
    server = create_server(app, map=listeners, host=app.config["WEB_HOST"],
                           port=app.config["WEB_PORT"] if port is None else port,
                           threads=app.config["WEB_THREADS"], connection_limit=app.config["WEB_CONNECTION_LIMIT"],
                           channel_timeout=app.config["WEB_CHANNEL_TIMEOUT_S"], cleanup_interval=10,
                           asyncore_use_poll=True, max_request_body_size=2 * upload_limit)
    # Every listening socket (a host name can resolve to several), not only the one returned.
    channel = strict_json_channel(upload_too_large(upload_limit))
    for listener in listeners.values():
        if isinstance(listener, BaseWSGIServer):
            listener.channel_class = channel
    return server


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
