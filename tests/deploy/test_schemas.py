"""Every manifest in deploy/ against the published schemas, offline: Kubernetes' own (as
kubernetes-validate ships them, strict: unknown fields refused) and KServe's InferenceService
(deploy/schemas/, written by deploy/kserve_schema.py from KServe's SDK)."""

from __future__ import annotations

import copy
import json

import jsonschema
import pytest
import yaml
from kubernetes_validate.utils import ValidationError, latest_version, validate
from referencing import Registry, Resource

from deploy.kserve_schema import KUBERNETES_DEFINITIONS, SCHEMA_FILE, kubernetes_definitions
from serving.settings import REPO_ROOT

MANIFESTS = sorted((REPO_ROOT / "deploy").glob("*.yaml"))
DOCUMENTS = [(path.name, document) for path in MANIFESTS for document in yaml.safe_load_all(path.read_text())]
KUBERNETES_DOCUMENTS = [(name, doc) for name, doc in DOCUMENTS if doc["kind"] != "InferenceService"]
KSERVE_DOCUMENTS = [(name, doc) for name, doc in DOCUMENTS if doc["kind"] == "InferenceService"]


def kserve_validator() -> jsonschema.Validator:
    definitions = Resource.from_contents(kubernetes_definitions())
    registry = Registry().with_resource(KUBERNETES_DEFINITIONS, definitions)
    return jsonschema.Draft202012Validator(json.loads(SCHEMA_FILE.read_text()), registry=registry)


def test_every_manifest_is_checked():
    assert {path.name for path in MANIFESTS} == {"kubernetes.yaml", "kserve.yaml"}
    assert len(KUBERNETES_DOCUMENTS) == 3 and len(KSERVE_DOCUMENTS) == 1


@pytest.mark.parametrize("name, document", KUBERNETES_DOCUMENTS, ids=[doc["kind"] for _name, doc in KUBERNETES_DOCUMENTS])
def test_kubernetes_manifests_match_the_current_release(name, document):
    validate(document, latest_version(), strict=True)


def test_the_kubernetes_check_refuses_a_misspelt_field():
    deployment = copy.deepcopy(next(doc for _name, doc in KUBERNETES_DOCUMENTS if doc["kind"] == "Deployment"))
    deployment["spec"]["template"]["spec"]["containers"][0]["imagePullPolcy"] = "Always"
    with pytest.raises(ValidationError, match="imagePullPolcy"):
        validate(deployment, latest_version(), strict=True)


def test_the_kserve_manifest_matches_the_inference_service_schema():
    validator = kserve_validator()
    for _name, document in KSERVE_DOCUMENTS:
        validator.validate(document)


@pytest.mark.parametrize("change, complaint", [
    (lambda spec: spec["predictor"]["model"].update(storageURI="pvc://x/"), "storageURI"),
    (lambda spec: spec["predictor"]["model"].pop("modelFormat"), "modelFormat"),
    (lambda spec: spec["predictor"]["model"]["resources"]["limits"].update(cpu=[2]), "cpu"),
    (lambda spec: spec.pop("predictor"), "predictor"),
])
def test_the_kserve_check_refuses_mistakes(change, complaint):
    document = copy.deepcopy(KSERVE_DOCUMENTS[0][1])
    change(document["spec"])
    errors = list(kserve_validator().iter_errors(document))
    assert errors and any(complaint in error.message or complaint in error.json_path for error in errors)
