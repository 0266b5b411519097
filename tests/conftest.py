"""Shared fixture: a real TorchServe (Java) on free loopback ports, started from config.properties;
and the markers that let `make test-fast` leave out what needs Java or Chromium."""

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


# A test that uses one of these fixtures needs that marker's program; it gets the marker by using it.
MARKER_OF_FIXTURE = {"torchserve": "torchserve", "own_torchserve": "torchserve", "lifecycle_torchserve": "torchserve",
                     "page": "browser"}


def pytest_collection_modifyitems(items):
    for item in items:
        for fixture in set(item.fixturenames) & MARKER_OF_FIXTURE.keys():
            item.add_marker(MARKER_OF_FIXTURE[fixture])
