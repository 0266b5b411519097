"""Helpers for tests that talk to a TorchServe started by the tests."""

from __future__ import annotations

from flask import Flask

from serving.torchserve import Instance, model_workers
from web.app import create_app


def worker_pids(instance: Instance) -> list[int]:
    """The model's worker processes: unchanged before and after a request means no worker died."""
    return sorted(worker["pid"] for worker in model_workers(instance))


def web_app(instance: Instance, **overrides) -> Flask:
    """The web front configured to call ``instance``."""
    return create_app({"TORCHSERVE_INFERENCE_URL": instance.address("inference"),
                       "TORCHSERVE_MANAGEMENT_URL": instance.address("management"), **overrides})
