"""The web front's metrics and access log (web/metrics.py, web/observability.py): good and bad
requests through a real TorchServe, and calls to a TorchServe that times out, is gone or fails,
counted on the loopback metrics port and logged one JSON line each."""

from __future__ import annotations

import http.server
import json
import logging
import os
import re
import socket
import subprocess
import sys
import threading

import pytest
import requests
import yaml
from prometheus_client.parser import text_string_to_metric_families

from bench.canvas_png import canvas_png
from bench.loadgen import web_app
from bench.mnist_samples import one_of_each_digit
from serving.settings import REPO_ROOT
from serving.torchserve import free_ports
from web.app import create_app
from web.metrics import WebMetrics, serve_metrics
from web.observability import REQUEST_ID_HEADER
from web.serve import make_server

SEVEN = canvas_png(one_of_each_digit()[7][1])


class Front:
    """A web app under waitress on a free port, with its metrics served on another."""

    def __init__(self, app):
        self.app = app
        self.server = make_server(app, port=0)
        threading.Thread(target=self.server.run, daemon=True).start()
        self.metrics_server = serve_metrics(app.extensions["metrics"], 0)
        self.url = f"http://127.0.0.1:{self.server.effective_port}"
        self.metrics_url = f"http://127.0.0.1:{self.metrics_server.server_port}/metrics"

    def predict(self, body: bytes, **headers) -> requests.Response:
        return requests.post(f"{self.url}/predict", data=body, headers={"Content-Type": "image/png", **headers},
                             timeout=10)

    def samples(self) -> dict[tuple[str, frozenset], float]:
        text = requests.get(self.metrics_url, timeout=5).text
        return {(sample.name, frozenset(sample.labels.items())): sample.value
                for family in text_string_to_metric_families(text) for sample in family.samples}

    def value(self, name: str, **labels) -> float:
        return self.samples().get((name, frozenset(labels.items())), 0.0)

    def close(self):
        self.server.close()
        self.metrics_server.shutdown()
        self.metrics_server.server_close()


@pytest.fixture
def access_log(caplog):
    caplog.set_level(logging.INFO, logger="web.access")
    return lambda: [json.loads(record.getMessage()) for record in caplog.records if record.name == "web.access"]


@pytest.fixture(scope="module")
def front(torchserve):
    front = Front(web_app(torchserve))
    yield front
    front.close()


def test_good_and_bad_requests_are_counted_timed_and_logged(front, access_log):
    before = front.samples()
    good = front.predict(SEVEN, **{REQUEST_ID_HEADER: "client-id-1"})
    not_an_image = front.predict(b"not a png at all")
    empty = front.predict(b"")
    missing = requests.get(f"{front.url}/no/such/page", timeout=5)
    assert (good.status_code, not_an_image.status_code, empty.status_code, missing.status_code) == (200, 400, 400, 404)
    assert good.json()["digit"] == 7
    after = front.samples()

    def increase(name, **labels):
        key = (name, frozenset(labels.items()))
        return after.get(key, 0.0) - before.get(key, 0.0)

    assert increase("mnist_web_requests_total", method="POST", route="/predict", status="200") == 1
    assert increase("mnist_web_requests_total", method="POST", route="/predict", status="400") == 2
    assert increase("mnist_web_requests_total", method="GET", route="unmatched", status="404") == 1
    assert increase("mnist_web_request_duration_seconds_count", route="/predict") == 3
    # The empty body is refused by the front itself; the other two went to TorchServe, which answered.
    assert increase("mnist_web_upstream_duration_seconds_count", call="predict") == 2
    assert all(increase("mnist_web_upstream_errors_total", call="predict", kind=kind) == 0
               for kind in ("timeout", "unreachable", "5xx"))
    assert after[("mnist_web_requests_in_flight", frozenset())] == 0

    lines = access_log()
    assert [(line["method"], line["path"], line["status"]) for line in lines] == [
        ("POST", "/predict", 200), ("POST", "/predict", 400), ("POST", "/predict", 400), ("GET", "/no/such/page", 404)]
    assert lines[0]["request_id"] == good.headers[REQUEST_ID_HEADER] == "client-id-1"
    assert lines[0]["upstream_ms"] > 0 and lines[0]["duration_ms"] >= lines[0]["upstream_ms"]
    assert lines[2]["upstream_ms"] is None
    assert lines[1]["request_id"] != lines[2]["request_id"] and len(lines[1]["request_id"]) == 32
    assert not_an_image.headers[REQUEST_ID_HEADER] == lines[1]["request_id"]


def test_a_request_id_that_could_forge_log_lines_is_replaced(front, access_log):
    response = requests.get(f"{front.url}/healthz", headers={REQUEST_ID_HEADER: 'x" "status": 200 \t'}, timeout=5)
    [line] = access_log()
    assert line["request_id"] == response.headers[REQUEST_ID_HEADER] and '"' not in line["request_id"]


class RecordingFailingUpstream(http.server.BaseHTTPRequestHandler):
    """A 'TorchServe' whose worker is gone: 503 to everything, and remembers the request ids sent."""

    request_ids: list[str] = []

    def do_POST(self):
        self.request_ids.append(self.headers.get(REQUEST_ID_HEADER))
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(503)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"code": 503, "message": "No worker is available to serve request: mnist"}')

    do_GET = do_POST

    def log_message(self, *args):
        pass


def front_calling(url: str, **overrides) -> Front:
    return Front(create_app({"TORCHSERVE_INFERENCE_URL": url, "TORCHSERVE_MANAGEMENT_URL": url, **overrides}))


def test_upstream_failures_are_counted_by_kind(access_log):
    unreachable = front_calling(f"http://127.0.0.1:{free_ports(1)[0]}")
    # Accepts connections (the kernel's backlog) and never answers: the call times out.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    timing_out = front_calling(f"http://127.0.0.1:{silent.getsockname()[1]}", REQUEST_TIMEOUT_S=0.3)
    upstream = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RecordingFailingUpstream)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    failing = front_calling(f"http://127.0.0.1:{upstream.server_address[1]}")
    try:
        expected = {unreachable: ("unreachable", 503), timing_out: ("timeout", 504), failing: ("5xx", 503)}
        for front, (kind, status) in expected.items():
            assert front.predict(SEVEN).status_code == status
            assert front.value("mnist_web_upstream_errors_total", call="predict", kind=kind) == 1
            others = {"timeout", "unreachable", "5xx"} - {kind}
            assert all(front.value("mnist_web_upstream_errors_total", call="predict", kind=other) == 0
                       for other in others)
            assert front.value("mnist_web_requests_total", method="POST", route="/predict", status=str(status)) == 1
        assert requests.get(f"{failing.url}/healthz", timeout=5).status_code == 503
        assert failing.value("mnist_web_upstream_errors_total", call="health", kind="5xx") == 1
        lines = access_log()
        assert [line["status"] for line in lines] == [503, 504, 503, 503]
        assert lines[1]["upstream_ms"] >= 300
        # The request id in the log is the one TorchServe received.
        assert RecordingFailingUpstream.request_ids == [lines[2]["request_id"], lines[3]["request_id"]]
    finally:
        for front in (unreachable, timing_out, failing):
            front.close()
        silent.close()
        upstream.shutdown()


def test_metrics_are_on_loopback_and_not_on_the_page_port(front):
    assert front.metrics_server.server_address[0] == "127.0.0.1"
    assert requests.get(f"{front.url}/metrics", timeout=5).status_code == 404
    assert "mnist_web_requests_total" in requests.get(front.metrics_url, timeout=5).text


def test_the_entry_point_logs_each_request_to_stderr_and_serves_metrics(torchserve):
    web_port, metrics_port = free_ports(2)
    env = dict(os.environ, WEB_PORT=str(web_port), WEB_METRICS_PORT=str(metrics_port),
               TORCHSERVE_INFERENCE_URL=torchserve.address("inference"),
               TORCHSERVE_MANAGEMENT_URL=torchserve.address("management"))
    process = subprocess.Popen([sys.executable, "-m", "web.serve"], cwd=REPO_ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert f"metrics on http://127.0.0.1:{metrics_port}/metrics" in process.stdout.readline()
        response = requests.post(f"http://127.0.0.1:{web_port}/predict", data=SEVEN,
                                 headers={"Content-Type": "image/png"}, timeout=10)
        # Only the access log writes JSON lines; skip anything else (a library's warning).
        line = json.loads(next(text for text in process.stderr if text.startswith("{")))
        assert line["status"] == response.status_code == 200
        assert line["request_id"] == response.headers[REQUEST_ID_HEADER] and line["path"] == "/predict"
        metrics = requests.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).text
        assert 'mnist_web_requests_total{method="POST",route="/predict",status="200"} 1.0' in metrics
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_the_monitoring_doc_names_only_metrics_that_exist():
    doc = (REPO_ROOT / "docs" / "MONITORING.md").read_text()
    for block in re.findall(r"```yaml\n(.*?)```", doc, re.DOTALL):
        yaml.safe_load(block)
    families = {family.name for family in WebMetrics().registry.collect()}
    series = {family + suffix for family in families for suffix in ("", "_total", "_bucket", "_count", "_sum")}
    named = set(re.findall(r"mnist_web_\w+", doc))
    assert named and named <= series, named - series
