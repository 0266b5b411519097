"""The Flask front (web/app.py) against a real TorchServe, and against broken upstreams."""

from __future__ import annotations

import base64
import http.server
import io
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from bench.canvas_png import canvas_png, ink_png, number_canvas
from bench.loadgen import web_app
from bench.mnist_samples import non_digit_drawings, one_of_each_digit
from serving.torchserve import free_ports
from web.app import SECURITY_HEADERS, create_app
from web.serve import make_server

THREE = canvas_png(one_of_each_digit()[3][1], box=150, top=30, left=110)


@pytest.fixture(scope="module")
def client(torchserve):
    return web_app(torchserve).test_client()


def upstream_app(handler_class, **overrides):
    """A web app whose 'TorchServe' is a small local HTTP server behaving as ``handler_class`` says."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler_class)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    app = create_app({"TORCHSERVE_INFERENCE_URL": url, "TORCHSERVE_MANAGEMENT_URL": url, **overrides})
    return server, app


@pytest.mark.parametrize("form", ["multipart", "raw png", "json data url", "json base64"])
def test_each_input_form_is_forwarded_and_answered(client, form):
    encoded = base64.b64encode(THREE).decode()
    url = "/predict?preview=1"
    if form == "multipart":
        response = client.post(url, data={"image": (io.BytesIO(THREE), "d.png")})
    elif form == "raw png":
        response = client.post(url, data=THREE, content_type="image/png")
    elif form == "json data url":
        response = client.post(url, json={"image": "data:image/png;base64," + encoded})
    else:
        response = client.post(url, json={"image": encoded})
    assert response.status_code == 200, response.get_json()
    answer = response.get_json()
    assert answer["digit"] == 3 and answer["preview"].startswith("data:image/png;base64,")
    assert answer["number"] == "3" and answer["is_digit"] is True
    assert len(answer["probabilities"]) == 10


def test_previews_only_when_asked_for(client):
    plain = client.post("/predict", data=THREE, content_type="image/png").get_json()
    assert "preview" not in plain and "preview" not in plain["digits"][0]
    asked = client.post("/predict?preview=1", data=THREE, content_type="image/png").get_json()
    assert asked["digits"][0]["preview"] == asked["preview"]
    assert {k: v for k, v in asked.items() if k not in ("preview", "digits")} == \
        {k: v for k, v in plain.items() if k != "digits"}


def test_a_number_and_a_non_digit_through_the_web_front(client):
    digits = dict(one_of_each_digit())
    number = ink_png(number_canvas([digits[1], digits[9], digits[8], digits[4]], height=120, gap=30))
    answer = client.post("/predict", data=number, content_type="image/png").get_json()
    assert answer["number"] == "1984" and len(answer["digits"]) == 4 and "digit" not in answer
    star = client.post("/predict", data=non_digit_drawings()["star"], content_type="image/png").get_json()
    assert star["is_digit"] is False and star["number"] == "" and "digit" not in star
    touching = ink_png(number_canvas([digits[4], digits[8]], height=150, gap=-10))
    assert client.post("/predict", data=touching, content_type="image/png").get_json()["number"] == "48"
    question = client.post("/predict", data=non_digit_drawings()["question mark"], content_type="image/png")
    assert question.get_json()["is_digit"] is False


@pytest.mark.parametrize("kwargs, reason", [
    ({"data": b"definitely not a png", "content_type": "image/png"}, "not an image"),
    ({"data": canvas_png(one_of_each_digit()[0][1] * 0), "content_type": "image/png"}, "no digit found"),
    ({"data": b"", "content_type": "image/png"}, "the request body is empty"),
    ({"json": {"picture": "x"}}, 'needs an "image"'),
    ({"json": {"image": "data:image/png;base64,@@@"}}, "does not hold valid base64"),
    ({"data": {"note": "no file here"}}, "has no file"),
])
def test_bad_drawings_get_400_with_the_reason(client, kwargs, reason):
    response = client.post("/predict", **kwargs)
    assert response.status_code == 400
    assert reason in response.get_json()["error"]


def test_upload_over_the_limit_is_413(client):
    response = client.post("/predict", data=b"\0" * (client.application.config["MAX_UPLOAD_BYTES"] + 1),
                           content_type="image/png")
    assert response.status_code == 413 and "over" in response.get_json()["error"]


def test_page_and_security_headers(client):
    response = client.get("/")
    assert response.status_code == 200 and b"<canvas" in response.data
    for header, value in SECURITY_HEADERS.items():
        assert response.headers[header] == value
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert b"http://" not in response.data and b"https://" not in response.data  # no CDN assets
    for asset in ("/static/app.js", "/static/style.css"):
        assert client.get(asset).status_code == 200


def test_healthz_reports_ready_workers(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.get_json()["ready_workers"] >= 1


def test_torchserve_down_gives_503_quickly():
    port = free_ports(1)[0]
    app = create_app({"TORCHSERVE_INFERENCE_URL": f"http://127.0.0.1:{port}",
                      "TORCHSERVE_MANAGEMENT_URL": f"http://127.0.0.1:{port}"})
    client = app.test_client()
    response = client.post("/predict", data=THREE, content_type="image/png")
    assert response.status_code == 503 and response.get_json()["error"] == "the model server is not reachable"
    health = client.get("/healthz")
    assert health.status_code == 503 and health.get_json()["status"] == "unavailable"


class SlowUpstream(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        time.sleep(3)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


class FailingUpstream(SlowUpstream):
    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(500)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"code": 500, "message": "worker died"}')

    do_GET = do_POST


def test_slow_upstream_gives_504_within_the_timeout():
    server, app = upstream_app(SlowUpstream, REQUEST_TIMEOUT_S=0.5)
    client = app.test_client()
    response = client.post("/predict", data=THREE, content_type="image/png")
    assert response.status_code == 504 and "did not answer within 0.5 s" in response.get_json()["error"]
    server.shutdown()


def test_upstream_5xx_gives_503_without_details():
    server, app = upstream_app(FailingUpstream, REQUEST_TIMEOUT_S=1.0)
    client = app.test_client()
    response = client.post("/predict", data=THREE, content_type="image/png")
    assert response.status_code == 503 and "HTTP 500" in response.get_json()["error"]
    assert client.get("/healthz").status_code == 503
    server.shutdown()


def test_a_slow_upstream_does_not_exhaust_the_web_servers_threads():
    """Three times more slow requests than waitress has threads: each times out with 504, and the
    page still answers meanwhile, because the timeout gives every thread back."""
    upstream, app = upstream_app(SlowUpstream, REQUEST_TIMEOUT_S=0.5, WEB_THREADS=4)
    server = make_server(app, port=0)
    threading.Thread(target=server.run, daemon=True).start()
    web = f"http://127.0.0.1:{server.effective_port}"

    def slow_predict(_):
        return requests.post(f"{web}/predict", data=THREE, headers={"Content-Type": "image/png"}, timeout=10)

    with ThreadPoolExecutor(12) as pool:
        pending = pool.map(slow_predict, range(12))
        time.sleep(0.2)
        page = requests.get(web + "/", timeout=5)
        statuses = [response.status_code for response in pending]
    assert page.status_code == 200
    # Each timed out (the upstream answers only after seconds): no thread waited for it.
    assert statuses == [504] * 12
    server.close()
    upstream.shutdown()
