"""Names and paths that the archive, the TorchServe scripts, the web app and the tests share."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
MODEL_NAME = "mnist"
MODEL_VERSION = "1.0"
MODEL_STORE = REPO_ROOT / "model_store"
SERIALIZED_MODEL = MODEL_STORE / "mnist_resnet.pt"
# Its int8 copy (training/quantize.py), which CPU workers serve (handler/mnist_device.py).
INT8_MODEL = MODEL_STORE / "mnist_resnet_int8.pt"
# The model card's figures, written by training (training/train.py, training/quantize.py).
MODEL_METRICS = REPO_ROOT / "docs" / "model" / "metrics.json"
ARCHIVE = MODEL_STORE / f"{MODEL_NAME}.mar"
# The handler package, laid into the archive as a package (serving/archive.py), and the module
# whose one class holds TorchServe's hooks.
HANDLER_PACKAGE = REPO_ROOT / "handler"
HANDLER = HANDLER_PACKAGE / "mnist_handler.py"
TORCHSERVE_CONFIG = REPO_ROOT / "config.properties"
TORCHSERVE_LOG_CONFIG = REPO_ROOT / "serving" / "log4j2.xml"
TORCHSERVE_RUN_DIR = REPO_ROOT / "runs" / "torchserve"
# The corrections people send from the page (SQLite unless DATABASE_URL names another store), and
# where the learning loop keeps its exported corrections and candidate models (docs/LIFECYCLE.md).
CORRECTIONS_DB = REPO_ROOT / "runs" / "corrections.sqlite"
LIFECYCLE_DIR = REPO_ROOT / "runs" / "lifecycle"
# Fine-tuning needs fastai, which only the training environment has (README: two environments).
TRAIN_PYTHON = REPO_ROOT / ".venv-train" / "bin" / "python"
# Debian's Chromium, driven by Playwright in the browser tests and the stroke-replay benchmark.
# Without the flags after --disable-gpu it tries to reach Google's services at start, and on a
# closed network its connections are refused many at a time.
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
