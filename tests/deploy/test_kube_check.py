"""Unit tests of deploy/kube_check.py's pure parts: the overlay a test may add changes nothing of the
manifest's meaning, and a probe on a port the container does not name is caught before anything
runs. The check itself, with podman, runs in `make kube-check` (and in .ci/run)."""

from __future__ import annotations

import copy

import yaml

from deploy.kube_check import BREAKAGES, MANIFEST, app_container, deployment_of, overlaid_for_podman, probe_problems

DOCUMENTS = list(yaml.safe_load_all(MANIFEST.read_text()))
PORTS = {"web": 15000, "inference": 18080}


def test_the_shipped_manifests_probes_name_its_ports():
    assert probe_problems(app_container(deployment_of(DOCUMENTS))) == []


def test_a_probe_on_a_port_the_container_does_not_name_is_named():
    container = copy.deepcopy(app_container(deployment_of(DOCUMENTS)))
    breakage, message = BREAKAGES["probe-port"]
    breakage(container)
    (problem,) = probe_problems(container)
    assert message in problem and "['inference', 'web']" in problem


def test_the_overlay_adds_only_the_image_one_replica_and_loopback_host_ports():
    played = overlaid_for_podman(DOCUMENTS, "localhost/x:check", PORTS)
    assert [document["kind"] for document in played] == ["Deployment"]  # no Service, no autoscaler in podman
    original, overlaid = deployment_of(DOCUMENTS), deployment_of(played)
    assert overlaid["spec"]["replicas"] == 1
    container, before = app_container(overlaid), app_container(original)
    assert container["image"] == "localhost/x:check"
    assert [(p["name"], p["hostIP"], p["hostPort"]) for p in container["ports"]] == \
        [("web", "127.0.0.1", 15000), ("inference", "127.0.0.1", 18080)]
    unchanged = {key: value for key, value in container.items() if key not in ("image", "ports")}
    assert unchanged == {key: value for key, value in before.items() if key not in ("image", "ports")}
    assert overlaid["spec"]["template"]["spec"]["securityContext"] == \
        original["spec"]["template"]["spec"]["securityContext"]
    assert app_container(deployment_of(DOCUMENTS))["image"] == "mnist-digits:1.0"  # the original is untouched
