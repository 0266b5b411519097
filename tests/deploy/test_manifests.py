"""Offline checks of the deployment files: they parse, and their names and ports agree with the
Dockerfile, config.properties and the web front's configuration."""

from __future__ import annotations

import json
import re

import yaml

from deploy.kserve_layout import KSERVE_PORT, write_layout
from serving.settings import MODEL_NAME, REPO_ROOT, TORCHSERVE_CONFIG
from serving.torchserve import read_properties
from web.config import DEFAULTS

DOCKERFILE = (REPO_ROOT / "Dockerfile").read_text()
KUBERNETES = {doc["kind"]: doc for doc in yaml.safe_load_all((REPO_ROOT / "deploy" / "kubernetes.yaml").read_text())}
KSERVE = yaml.safe_load((REPO_ROOT / "deploy" / "kserve.yaml").read_text())
INFERENCE_PORT = int(read_properties(TORCHSERVE_CONFIG)["inference_address"].rsplit(":", 1)[1])
MANAGEMENT_PORT = int(read_properties(TORCHSERVE_CONFIG)["management_address"].rsplit(":", 1)[1])


def exposed_ports() -> set[int]:
    return {int(port) for line in re.findall(r"^EXPOSE (.+)$", DOCKERFILE, re.MULTILINE) for port in line.split()}


def test_dockerfile_exposes_web_and_inference_but_not_management():
    assert exposed_ports() == {DEFAULTS["WEB_PORT"], INFERENCE_PORT}
    assert MANAGEMENT_PORT not in exposed_ports()


def test_dockerfile_runs_as_a_non_root_user_with_a_healthcheck():
    users = re.findall(r"^USER (\S+)$", DOCKERFILE, re.MULTILINE)
    assert users and users[-1] not in ("root", "0")
    assert re.search(r"^HEALTHCHECK .*\n.*/healthz", DOCKERFILE, re.MULTILINE)
    assert re.search(r"^ARG BASE_IMAGE=python:3\.11", DOCKERFILE, re.MULTILINE)


def test_dockerignore_keeps_data_venvs_and_caches_out():
    ignored = (REPO_ROOT / ".dockerignore").read_text().split()
    for entry in (".venv-*", "data", "runs", ".git", "**/__pycache__"):
        assert entry in ignored


def test_deployment_probes_and_ports_agree_with_the_image():
    deployment = KUBERNETES["Deployment"]
    pod = deployment["spec"]["template"]
    assert deployment["spec"]["selector"]["matchLabels"] == pod["metadata"]["labels"]
    container = pod["spec"]["containers"][0]
    ports = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert ports == {"web": DEFAULTS["WEB_PORT"], "inference": INFERENCE_PORT}
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "web"}
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True


def test_service_and_autoscaler_point_at_the_deployment():
    name = KUBERNETES["Deployment"]["metadata"]["name"]
    assert KUBERNETES["Service"]["spec"]["selector"] == KUBERNETES["Deployment"]["spec"]["selector"]["matchLabels"]
    assert KUBERNETES["Service"]["spec"]["ports"][0]["targetPort"] == "web"
    hpa = KUBERNETES["HorizontalPodAutoscaler"]["spec"]
    assert hpa["scaleTargetRef"]["name"] == name
    assert hpa["metrics"][0]["resource"]["name"] == "cpu"


def test_kserve_service_and_layout(tmp_path):
    assert KSERVE["apiVersion"] == "serving.kserve.io/v1beta1" and KSERVE["kind"] == "InferenceService"
    model = KSERVE["spec"]["predictor"]["model"]
    assert model["modelFormat"]["name"] == "pytorch" and model["storageUri"]
    layout = write_layout(tmp_path / "kserve")
    properties = read_properties(layout / "config" / "config.properties")
    assert properties["inference_address"].endswith(f":{KSERVE_PORT}")
    snapshot = json.loads(properties["model_snapshot"])
    mar_name = snapshot["models"][MODEL_NAME]["1.0"]["marName"]
    assert (layout / "model-store" / mar_name).stat().st_size > 0
    assert properties["model_store"] == "/mnt/models/model-store"
