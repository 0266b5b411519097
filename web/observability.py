"""Per-request instrumentation of the web front: a request id, the Prometheus metrics of web/metrics.py,
and one access-log line per request, as JSON:

    {"request_id": "...", "method": "POST", "path": "/predict", "status": 200, "duration_ms": 7.9, "upstream_ms": 6.1,
     "model_version": "1.0"}

An answer from the model is counted by the version that gave it (the canary's share, docs/LIFECYCLE.md).

The request id (the client's X-Request-ID if it sent a plain one, else a new one) is sent to
TorchServe in the same header and returned to the client, so the logs of the three can be joined.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid

from flask import Flask, g, has_request_context, request

from handler.mnist_contract import MODEL_VERSION_HEADER
from web.metrics import WebMetrics
from web.torchserve_client import TorchServeClient

REQUEST_ID_HEADER = "X-Request-ID"
# A client's id is kept only if it is short and plain, so it cannot forge or bloat log lines.
PLAIN_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
# Requests that match no route share one label, so probing random paths cannot blow up the metrics.
UNMATCHED_ROUTE = "unmatched"

access_log = logging.getLogger("web.access")


class UpstreamObserver:
    """What TorchServeClient asks for and reports on each call to TorchServe."""

    def __init__(self, metrics: WebMetrics) -> None:
        self.metrics = metrics

    def headers(self) -> dict[str, str]:
        return {REQUEST_ID_HEADER: g.request_id} if has_request_context() and "request_id" in g else {}

    def record(self, call: str, seconds: float, error_kind: str | None) -> None:
        self.metrics.upstream_seconds.labels(call).observe(seconds)
        if error_kind:
            self.metrics.upstream_errors.labels(call, error_kind).inc()
        if has_request_context():
            g.upstream_s = g.get("upstream_s", 0.0) + seconds


def install_observability(app: Flask, client: TorchServeClient) -> WebMetrics:
    """Count, time and log every request of ``app``, and its calls through ``client``."""
    metrics = WebMetrics()
    app.extensions["metrics"] = metrics
    client.observer = UpstreamObserver(metrics)

    def start_request():
        g.started = time.perf_counter()
        sent = request.headers.get(REQUEST_ID_HEADER, "")
        g.request_id = sent if PLAIN_REQUEST_ID.fullmatch(sent) else uuid.uuid4().hex
        metrics.in_flight.inc()
        g.in_flight = True

    # First of the before-request hooks, so a hook that answers early is still timed and logged.
    app.before_request_funcs.setdefault(None, []).insert(0, start_request)

    @app.after_request
    def count_and_log(response):
        duration_s = time.perf_counter() - g.started
        route = request.url_rule.rule if request.url_rule else UNMATCHED_ROUTE
        metrics.requests.labels(request.method, route, str(response.status_code)).inc()
        metrics.request_seconds.labels(route).observe(duration_s)
        response.headers[REQUEST_ID_HEADER] = g.request_id
        upstream_s = g.get("upstream_s")
        model_version = response.headers.get(MODEL_VERSION_HEADER)
        if model_version:
            metrics.model_answers.labels(route, model_version).inc()
        access_log.info(json.dumps({
            "request_id": g.request_id, "method": request.method, "path": request.path,
            "status": response.status_code, "duration_ms": round(duration_s * 1000, 2),
            "upstream_ms": None if upstream_s is None else round(upstream_s * 1000, 2),
            "model_version": model_version,
        }))
        return response

    @app.teardown_request
    def leave_in_flight(_error):
        if g.pop("in_flight", False):
            metrics.in_flight.dec()

    return metrics


def log_requests_to_stderr() -> None:
    """Write the access log, one JSON line per request, to stderr (for the entry points)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    access_log.addHandler(handler)
    access_log.setLevel(logging.INFO)
    access_log.propagate = False
