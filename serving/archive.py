"""Build model_store/mnist.mar from the TorchScript model and the handler package.

    python -m serving.archive [--export-path DIR]

The archive is built from the current sources every time TorchServe is started by this project,
so a stale archive cannot be served by mistake; it is not committed.

Inside the archive the handler package keeps its name (``handler/``, imported as ``handler.*`` as
everywhere else) and ``mnist_handler.py`` is also copied to the top, where TorchServe loads its hooks.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from serving.settings import ARCHIVE, HANDLER, HANDLER_PACKAGE, INT8_MODEL, MODEL_NAME, MODEL_VERSION, SERIALIZED_MODEL

# The archiver's console script may sit outside this interpreter's folder (Debian's python3 puts
# pip's scripts in /usr/local/bin); `-m model_archiver.model_packaging` works but warns from runpy.
ARCHIVER = "from model_archiver.model_packaging import generate_model_archive; generate_model_archive()"


def archive_name(version: str = MODEL_VERSION) -> str:
    """The shipped version is mnist.mar; each later one (docs/LIFECYCLE.md) has its own file beside it."""
    return f"{MODEL_NAME}.mar" if version == MODEL_VERSION else f"{MODEL_NAME}-{version}.mar"


def build_archive(export_path: Path = ARCHIVE.parent, version: str = MODEL_VERSION,
                  float_model: Path = SERIALIZED_MODEL, int8_model: Path = INT8_MODEL) -> Path:
    """The archive of ``version`` of the model from ``float_model`` and its int8 copy ``int8_model``
    (which must keep the name the handler looks for, handler/mnist_device.py)."""
    export_path.mkdir(parents=True, exist_ok=True)
    archive = export_path / archive_name(version)
    archive.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory() as staging, tempfile.TemporaryDirectory() as written:
        # The archiver copies a folder's contents, not the folder: stage the package inside one.
        package = Path(staging) / HANDLER_PACKAGE.name
        shutil.copytree(HANDLER_PACKAGE, package, ignore=shutil.ignore_patterns("__pycache__"))
        subprocess.run(
            [sys.executable, "-c", ARCHIVER,
             "--model-name", MODEL_NAME,
             "--version", version,
             "--serialized-file", str(float_model),
             "--handler", str(HANDLER),
             "--extra-files", f"{staging},{int8_model}",
             "--export-path", written],
            check=True,
        )
        # Written elsewhere first: the archiver names every version mnist.mar.
        shutil.move(Path(written) / f"{MODEL_NAME}.mar", archive)
    return archive


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--export-path", type=Path, default=ARCHIVE.parent, help="folder for mnist.mar")
    print(build_archive(parser.parse_args().export_path))


if __name__ == "__main__":
    main()
