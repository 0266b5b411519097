"""Write the folder KServe's TorchServe runtime reads: config/config.properties and model-store/mnist.mar.

    python -m deploy.kserve_layout [--out runs/kserve]

The runtime mounts the storage at /mnt/models, listens on 8085 for inference, and serves the models
named in model_snapshot; the handler, limits and batch settings are the same as in config.properties.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from serving.archive import build_archive
from serving.settings import MODEL_NAME, MODEL_VERSION, REPO_ROOT, TORCHSERVE_CONFIG
from serving.torchserve import read_properties

KSERVE_PORT = 8085


def kserve_properties() -> str:
    ours = read_properties(TORCHSERVE_CONFIG)
    model = json.loads(ours["models"])[MODEL_NAME][MODEL_VERSION]
    snapshot = {"name": "startup.cfg", "modelCount": 1, "models": {MODEL_NAME: {MODEL_VERSION: model}}}
    return "\n".join([
        f"inference_address=http://0.0.0.0:{KSERVE_PORT}",
        f"management_address=http://0.0.0.0:{KSERVE_PORT}",
        "metrics_address=http://0.0.0.0:8082",
        "grpc_inference_port=7070",
        "grpc_management_port=7071",
        "enable_metrics_api=true",
        "metrics_mode=prometheus",
        "enable_envvars_config=true",
        "install_py_dep_per_model=false",
        f"max_request_size={ours['max_request_size']}",
        f"job_queue_size={ours['job_queue_size']}",
        "model_store=/mnt/models/model-store",
        f"model_snapshot={json.dumps(snapshot)}",
    ]) + "\n"


def write_layout(out: Path) -> Path:
    (out / "config").mkdir(parents=True, exist_ok=True)
    (out / "config" / "config.properties").write_text(kserve_properties())
    build_archive(out / "model-store")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "runs" / "kserve")
    print(write_layout(parser.parse_args().out))


if __name__ == "__main__":
    main()
