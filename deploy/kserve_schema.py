"""Write the JSON Schema of KServe's InferenceService (serving.kserve.io/v1beta1) that
tests/deploy/test_schemas.py validates deploy/kserve.yaml against.

No PyPI package ships KServe's CRD file, but KServe's Python SDK ships the same API types, generated
from the Go types the CRD is generated from: every field's JSON name and type (``attribute_map``,
``openapi_types``) and the fields that must be set. This reads them from the SDK's wheel without
importing it, and refers the Kubernetes types in them (containers, probes, resources, metadata) to
Kubernetes' own schemas as kubernetes-validate ships them. Unknown fields are refused, as in
kubernetes-validate's strict schemas.

    pip download --no-deps kserve==0.21.0 -d /tmp/kserve
    python -m deploy.kserve_schema /tmp/kserve/kserve-0.21.0-py3-none-any.whl
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import zipfile
from pathlib import Path

from kubernetes_validate.utils import latest_version, schema_contents

from serving.settings import REPO_ROOT

SCHEMA_FILE = REPO_ROOT / "deploy" / "schemas" / "kserve-inferenceservice-v1beta1.json"
# kubernetes-validate's schemas name their definitions file by this URI.
KUBERNETES_DEFINITIONS = "https://kubernetes.io/api/_definitions.json"
# Where a Kubernetes client class name (V1Probe) is looked for, in this order.
KUBERNETES_GROUPS = ("io.k8s.api.core.v1", "io.k8s.apimachinery.pkg.apis.meta.v1")
SCALARS = {"str": {"type": "string"}, "int": {"type": "integer"}, "float": {"type": "number"},
           "bool": {"type": "boolean"}, "datetime": {"type": "string"}, "object": {}}
# The SDK's names for Kubernetes' quantity ("1Gi", "500m", 2), which has no class of its own.
QUANTITY_NAMES = ("ResourceQuantity", "V1beta1MetricQuantity")
QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
REQUIRED_FIELD = re.compile(r"client_side_validation and (\w+) is None")


def sdk_models(wheel: Path) -> dict[str, tuple[dict[str, str], dict[str, str], set[str]]]:
    """Each KServe model class: (python attribute -> type, python attribute -> JSON name, required attributes)."""
    models = {}
    with zipfile.ZipFile(wheel) as archive:
        for name in archive.namelist():
            if not re.fullmatch(r"kserve/models/\w+\.py", name):
                continue
            source = archive.read(name).decode()
            for node in ast.parse(source).body:
                if not isinstance(node, ast.ClassDef):
                    continue
                tables = {target.id: ast.literal_eval(statement.value) for statement in node.body
                          if isinstance(statement, ast.Assign)
                          for target in statement.targets if isinstance(target, ast.Name)
                          and target.id in ("openapi_types", "attribute_map")}
                models[node.name] = (tables["openapi_types"], tables["attribute_map"],
                                     set(REQUIRED_FIELD.findall(source)))
    return models


def kubernetes_definition(class_name: str, definitions: set[str]) -> str:
    """V1Probe -> io.k8s.api.core.v1.Probe; K8sIoApiAutoscalingV2X (the Go path k8s.io/api/autoscaling/v2) ->
    io.k8s.api.autoscaling.v2.X."""
    by_go_path = {"K8sIo" + "".join(part[:1].upper() + part[1:] for part in key.split(".")[2:]): key
                  for key in definitions if key.startswith("io.k8s.")}
    if class_name in QUANTITY_NAMES:
        return f"{KUBERNETES_DEFINITIONS}#/$defs/{QUANTITY}"
    if class_name in by_go_path:
        return f"{KUBERNETES_DEFINITIONS}#/$defs/{by_go_path[class_name]}"
    kind = re.sub(r"^V\d+", "", class_name)
    for group in KUBERNETES_GROUPS:
        if f"{group}.{kind}" in definitions:
            return f"{KUBERNETES_DEFINITIONS}#/$defs/{group}.{kind}"
    raise KeyError(f"no Kubernetes definition for {class_name}")


def type_schema(openapi_type: str, models: dict, definitions: set[str]) -> dict:
    if openapi_type in SCALARS:
        return SCALARS[openapi_type]
    if match := re.fullmatch(r"list\[(.+)\]", openapi_type):
        return {"type": "array", "items": type_schema(match[1], models, definitions)}
    if match := re.fullmatch(r"dict\(str, (.+)\)", openapi_type):
        return {"type": "object", "additionalProperties": type_schema(match[1], models, definitions)}
    if openapi_type in models:
        return {"$ref": f"#/$defs/{openapi_type}"}
    return {"$ref": kubernetes_definition(openapi_type, definitions)}


def model_schema(name: str, models: dict, definitions: set[str]) -> dict:
    types, json_names, required = models[name]
    schema = {"type": "object", "additionalProperties": False,
              "properties": {json_names[attribute]: type_schema(openapi_type, models, definitions)
                             for attribute, openapi_type in types.items()}}
    if required & types.keys():
        schema["required"] = sorted(json_names[attribute] for attribute in required & types.keys())
    return schema


def reachable(name: str, models: dict, seen: set[str]) -> set[str]:
    """``name`` and the KServe types its fields use, and theirs."""
    seen.add(name)
    for openapi_type in models[name][0].values():
        for used in re.findall(r"\w+", openapi_type):
            if used in models and used not in seen:
                reachable(used, models, seen)
    return seen


def inference_service_schema(wheel: Path, definitions: set[str]) -> dict:
    models = sdk_models(wheel)
    # A manifest has no status (the cluster writes it), and the status types are Knative's.
    del models["V1beta1InferenceService"][0]["status"]
    used = reachable("V1beta1InferenceService", models, set())
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$comment": (f"Generated by deploy/kserve_schema.py from {wheel.name} (KServe's Python SDK on PyPI), "
                     "with Kubernetes types referred to kubernetes-validate's definitions."),
        "$defs": {name: model_schema(name, models, definitions) for name in sorted(used)},
        "$ref": "#/$defs/V1beta1InferenceService",
    }
    top = schema["$defs"]["V1beta1InferenceService"]
    top["properties"]["apiVersion"] = {"const": "serving.kserve.io/v1beta1"}
    top["properties"]["kind"] = {"const": "InferenceService"}
    top["required"] = sorted({"apiVersion", "kind", "metadata", "spec", *top.get("required", [])})
    return schema


def kubernetes_definitions() -> dict:
    """The definitions file of kubernetes-validate's strict schemas for its latest Kubernetes release."""
    return schema_contents(f"kubernetes-json-schema/v{latest_version()}-local-strict/_definitions.json",
                           latest_version())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("wheel", type=Path, help="the kserve wheel from `pip download --no-deps kserve==...`")
    wheel = parser.parse_args().wheel
    schema = inference_service_schema(wheel, set(kubernetes_definitions()["$defs"]))
    SCHEMA_FILE.parent.mkdir(exist_ok=True)
    SCHEMA_FILE.write_text(json.dumps(schema, indent=1, sort_keys=True) + "\n")
    print(f"wrote {SCHEMA_FILE.relative_to(REPO_ROOT)}: {len(schema['$defs'])} KServe types")


if __name__ == "__main__":
    main()
