"""Shared fixture: a real TorchServe (Java) on free loopback ports, started from config.properties."""

from __future__ import annotations

import pytest

from serving.torchserve import private_instance, process_alive, running_pid, start, stop


@pytest.fixture(scope="session")
def torchserve(tmp_path_factory):
    instance = private_instance(tmp_path_factory.mktemp("torchserve"))
    start(instance)
    pid = running_pid(instance)
    yield instance
    stop(instance)
    assert not process_alive(pid), "TorchServe's Java process outlived stop()"
