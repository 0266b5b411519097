"""Inputs the image fuzzer found (tests/reliability/fuzz_findings/), each a named regression test:
in process the preprocessing refuses or answers without an unexpected exception, and through the
web front and straight to a real TorchServe each gets a 4xx or an answer, no worker dying."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import requests

from bench.loadgen import web_app, worker_pids
from handler.mnist_batch import prepare_batch

FINDINGS = sorted((Path(__file__).parent / "fuzz_findings").iterdir())
CONTENT_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".gif": "image/gif", ".webp": "image/webp",
                 ".tif": "image/tiff"}


@pytest.mark.parametrize("path", FINDINGS, ids=[path.stem for path in FINDINGS])
def test_in_process_no_unexpected_exception(path, caplog):
    with caplog.at_level(logging.WARNING, logger="handler.mnist_batch"):
        batch = prepare_batch([{"body": path.read_bytes()}])
    assert not caplog.records, "the batch's error boundary caught: " + caplog.records[0].getMessage()
    assert (0 in batch.errors and 400 <= batch.errors[0].status < 500) or batch.pixels.shape[0] >= 1


@pytest.mark.parametrize("path", FINDINGS, ids=[path.stem for path in FINDINGS])
def test_through_the_web_front_and_torchserve(torchserve, path):
    data, content_type = path.read_bytes(), CONTENT_TYPES[path.suffix]
    pids = worker_pids(torchserve)
    direct = requests.post(torchserve.predictions_url(), data=data, headers={"Content-Type": content_type},
                           timeout=15)
    through_web = web_app(torchserve).test_client().post("/predict", data=data, content_type=content_type)
    for response_status in (direct.status_code, through_web.status_code):
        assert response_status == 200 or 400 <= response_status < 500
    assert worker_pids(torchserve) == pids
