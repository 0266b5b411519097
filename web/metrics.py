"""The web front's Prometheus metrics, in a registry of their own, served on a loopback-only port.

TorchServe's metrics API (config.properties: metrics_address) tells how the model server did; these
tell what the users of the page got: requests by route and status, their latency, and how the calls
to TorchServe went. docs/MONITORING.md has the scrape config and an alert.
"""

from __future__ import annotations

from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector, start_http_server

# Never the page's address: the metrics are for the operator on the host, not for the page's users.
METRICS_HOST = "127.0.0.1"
# A prediction takes 5-10 ms through the front; the top buckets reach the 5 s upstream timeout.
LATENCY_BUCKETS_S = (0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
UPSTREAM_CALLS = ("predict", "health")
UPSTREAM_ERROR_KINDS = ("timeout", "unreachable", "5xx")


class WebMetrics:
    """One app's metrics; each app has its own registry, so tests can build many apps."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        self.requests = Counter("mnist_web_requests", "Requests answered by the web front",
                                ["method", "route", "status"], registry=self.registry)
        self.request_seconds = Histogram("mnist_web_request_duration_seconds",
                                         "Time from a request's arrival in Flask to its response",
                                         ["route"], buckets=LATENCY_BUCKETS_S, registry=self.registry)
        self.in_flight = Gauge("mnist_web_requests_in_flight", "Requests the web front is answering now",
                               registry=self.registry)
        self.upstream_seconds = Histogram("mnist_web_upstream_duration_seconds",
                                          "Time of each call from the web front to TorchServe",
                                          ["call"], buckets=LATENCY_BUCKETS_S, registry=self.registry)
        self.upstream_errors = Counter("mnist_web_upstream_errors",
                                       "Calls to TorchServe that timed out, found it unreachable or got a 5xx",
                                       ["call", "kind"], registry=self.registry)
        # By version, so a canary's share and its errors can be compared with the default's.
        self.model_answers = Counter("mnist_web_model_answers", "Answers from the model, by route and model version",
                                     ["route", "version"], registry=self.registry)
        # Every error series exists from the start at 0, so rate() sees the first error.
        for call in UPSTREAM_CALLS:
            for kind in UPSTREAM_ERROR_KINDS:
                self.upstream_errors.labels(call, kind)


def serve_metrics(metrics: WebMetrics, port: int) -> WSGIServer:
    """Serve ``metrics`` at http://127.0.0.1:<port>/metrics from a daemon thread; port 0 picks a free one."""
    server, _thread = start_http_server(port, addr=METRICS_HOST, registry=metrics.registry)
    return server
