"""The web front's configuration: defaults, then environment variables, read once at app creation.

TorchServe's addresses default to those in config.properties, so each port is written once.
"""

from __future__ import annotations

import os

from handler.mnist_payload import MAX_BASE64_CHARS
from serving.settings import CORRECTIONS_DB, MODEL_NAME, TORCHSERVE_CONFIG
from serving.torchserve import read_properties

_torchserve = read_properties(TORCHSERVE_CONFIG)

DEFAULTS = {
    "TORCHSERVE_INFERENCE_URL": _torchserve["inference_address"],
    "TORCHSERVE_MANAGEMENT_URL": _torchserve["management_address"],
    "MODEL_NAME": MODEL_NAME,
    # A prediction takes a few milliseconds; 5 s only runs out when TorchServe is stuck.
    "REQUEST_TIMEOUT_S": 5.0,
    # The handler's largest image as base64, with room for a JSON or multipart envelope around it.
    "MAX_UPLOAD_BYTES": MAX_BASE64_CHARS + 48 * 1024,
    # TorchServe's own request limit: an image larger than this, less the envelope the web front
    # adds, is shrunk before it is forwarded (handler/mnist_shrink.py).
    "TORCHSERVE_MAX_REQUEST_BYTES": int(_torchserve["max_request_size"]),
    "WEB_HOST": "127.0.0.1",
    "WEB_PORT": 5000,
    # The web front's Prometheus metrics, always on 127.0.0.1 (web/metrics.py, docs/MONITORING.md).
    "WEB_METRICS_PORT": 5001,
    # waitress worker threads: each waits on TorchServe for most of a request, so a few per core.
    "WEB_THREADS": 16,
    # Open connections waitress keeps (its default, 100, let 120 idle sockets lock everyone out).
    # An idle or slow connection holds no thread, only a few KB, until it has sent a whole request.
    "WEB_CONNECTION_LIMIT": 1000,
    # An idle connection is closed after this many seconds (waitress checks every 10 s).
    "WEB_CHANNEL_TIMEOUT_S": 30,
    # The corrections store (docs/LIFECYCLE.md): a SQLite file by default; with several web replicas
    # a PostgreSQL they share, e.g. postgresql+psycopg://user:password@host/corrections.
    "DATABASE_URL": f"sqlite:///{CORRECTIONS_DB}",
    "CORRECTIONS_PER_CLIENT_HOUR": 30,
    # Corrections kept in all (pending and reviewed); past this the store refuses until it is pruned.
    "CORRECTIONS_MAX_STORED": 20000,
    # A canvas PNG is 5-40 KB; a correction's drawing and answer are kept, so both are bounded.
    "CORRECTION_MAX_IMAGE_BYTES": 256 * 1024,
    "CORRECTION_MAX_ANSWER_BYTES": 64 * 1024,
    # Signs each answer (web/receipts.py) so a correction can only name an answer the service gave.
    # Empty: a random key per process, which is enough for one replica; replicas must share one.
    "RECEIPT_KEY": "",
    # A share (0-1) of /predict goes to this version of the model; the rest to TorchServe's default.
    "CANARY_VERSION": "",
    "CANARY_SHARE": 0.0,
}


def load_config(overrides: dict | None = None) -> dict:
    """Defaults, replaced by environment variables of the same name, replaced by ``overrides``."""
    config = {}
    for key, default in DEFAULTS.items():
        value = os.environ.get(key)
        config[key] = default if value is None else type(default)(value)
    config.update(overrides or {})
    return config
