"""HTTP-level fuzzing of the web front from its OpenAPI description (docs/openapi.yaml) with
schemathesis, against the real web front under waitress and a real TorchServe: requests generated
from the schema and from violations of it get no 5xx, and every answer matches the schema."""

from __future__ import annotations

import threading

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import positive_data_acceptance

from bench.loadgen import web_app, worker_pids
from serving.settings import REPO_ROOT
from web.serve import make_server

SCHEMA = schemathesis.openapi.from_path(REPO_ROOT / "docs" / "openapi.yaml")
EXAMPLES_PER_OPERATION = 300


@pytest.fixture(scope="module")
def web_url(torchserve):
    server = make_server(web_app(torchserve), port=0)
    threading.Thread(target=server.run, daemon=True).start()
    pids = worker_pids(torchserve)
    yield f"http://127.0.0.1:{server.effective_port}"
    server.close()
    assert worker_pids(torchserve) == pids, "a TorchServe worker died during the schema run"


@SCHEMA.parametrize()
@settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.function_scoped_fixture])
def test_the_web_front_keeps_to_its_schema(case, web_url):
    response = case.call(base_url=web_url, timeout=15)
    # Bytes that the schema allows (any binary) are mostly no image: a 400 is the right answer.
    case.validate_response(response, excluded_checks=[positive_data_acceptance])
