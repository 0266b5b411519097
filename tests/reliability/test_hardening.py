"""The hardening review as tests: each fails if its setting regresses (docs/SECURITY.md)."""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path

import psutil
import requests

from handler.mnist_payload import MAX_BASE64_CHARS
from serving.settings import MODEL_NAME, REPO_ROOT, TORCHSERVE_CONFIG
from serving.torchserve import read_properties, running_pid
from web.app import create_app
from web.serve import make_server

PROPERTIES = read_properties(TORCHSERVE_CONFIG)


def test_every_torchserve_api_is_configured_on_loopback():
    for key in ("inference_address", "management_address", "metrics_address"):
        assert re.fullmatch(r"https?://127\.0\.0\.1:\d+", PROPERTIES[key]), key
    for key in ("grpc_inference_address", "grpc_management_address"):
        assert PROPERTIES[key] == "127.0.0.1", key


def test_torchserve_listens_on_loopback_only(torchserve):
    java = psutil.Process(running_pid(torchserve))
    listening = [c.laddr for c in java.net_connections(kind="inet") if c.status == psutil.CONN_LISTEN]
    assert len(listening) >= 5
    for address in listening:
        ip = ipaddress.ip_address(address.ip)
        ip = getattr(ip, "ipv4_mapped", None) or ip  # Java reports IPv4 sockets as ::ffff:a.b.c.d
        assert ip == ipaddress.ip_address("127.0.0.1"), address


def test_token_authorization_is_off_only_because_everything_is_on_loopback():
    assert PROPERTIES["disable_token_authorization"] == "true"
    assert all("127.0.0.1" in PROPERTIES[key] for key in ("inference_address", "management_address"))


def test_model_registration_api_is_off_and_urls_are_restricted():
    assert PROPERTIES["enable_model_api"] == "false"
    allowed = PROPERTIES["allowed_urls"].replace("\\\\", "\\")
    assert re.fullmatch(allowed, "file:///srv/app/model_store/mnist.mar")
    for url in ("https://attacker.example/evil.mar", "file:///etc/passwd", "http://127.0.0.1:8081/models",
                "file:///tmp/evil.mar"):
        assert not re.fullmatch(allowed, url), url


def test_registering_a_model_by_url_is_refused(torchserve):
    management = torchserve.address("management")
    response = requests.post(f"{management}/models", params={"url": "https://attacker.example/evil.mar"},
                             timeout=10)
    assert 400 <= response.status_code < 500
    models = requests.get(f"{management}/models", timeout=10).json()["models"]
    assert [model["modelName"] for model in models] == [MODEL_NAME]


def test_the_web_app_exposes_no_torchserve_api():
    app = create_app()
    routes = {rule.rule for rule in app.url_map.iter_rules()}
    assert routes == {"/", "/predict", "/explain", "/corrections", "/healthz", "/static/<path:filename>"}
    client = app.test_client()
    for path in ("/models", "/metrics", "/predictions/mnist", "/explanations/mnist", "/api-description",
                 "/models/mnist"):
        assert client.get(path).status_code == 404, path


def test_flask_runs_under_waitress_never_in_debug_mode():
    app = create_app()
    assert not app.debug
    server = make_server(create_app({"WEB_PORT": 0}))
    assert type(server).__module__.startswith("waitress")
    server.close()
    sources = "\n".join(path.read_text() for path in (REPO_ROOT / "web").rglob("*.py"))
    assert "debug=True" not in sources and "app.run(" not in sources


def test_request_size_is_limited_at_both_layers():
    """TorchServe's limit is sized for canvases, since it alone bounds TorchServe's form parsing; the
    web front's holds a phone photo's base64 and shrinks what it forwards to fit TorchServe's."""
    torchserve_limit = int(PROPERTIES["max_request_size"])
    assert 64 * 1024 <= torchserve_limit <= 256 * 1024
    assert MAX_BASE64_CHARS < create_app().config["MAX_CONTENT_LENGTH"] <= 4 * 1024 * 1024


def test_the_image_runs_as_a_non_root_user():
    users = re.findall(r"^USER (\S+)$", Path(REPO_ROOT / "Dockerfile").read_text(), re.MULTILINE)
    assert users and users[-1] not in ("root", "0")
