"""IDX parsing and verification (training/data.py) on the real files and on damaged copies."""

from __future__ import annotations

import gzip
import shutil

import pytest

from training.data import DEFAULT_CACHE_DIR, FILES, MnistFileError, load_mnist

LABEL_COUNTS_TRAIN = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]


@pytest.fixture
def source(tmp_path):
    """A folder with a fresh copy of the four verified raw files (hyphenated names)."""
    folder = tmp_path / "source"
    folder.mkdir()
    for spec in FILES.values():
        shutil.copy(DEFAULT_CACHE_DIR / spec.name, folder / spec.name)
    return folder


def test_real_files_load_with_the_published_counts(source, tmp_path):
    mnist = load_mnist(source, "dir", cache_dir=tmp_path / "cache")
    assert mnist.train_images.shape == (60_000, 28, 28) and mnist.test_images.shape == (10_000, 28, 28)
    assert mnist.train_labels.bincount().tolist() == LABEL_COUNTS_TRAIN
    train, valid = mnist.train_valid_split()
    assert len(train) == 54_000 and len(valid) == 6_000
    assert not set(train.tolist()) & set(valid.tolist())
    assert valid.tolist() == mnist.train_valid_split()[1].tolist()  # fixed seed


@pytest.mark.parametrize("rename", ["kaggle dotted", "gzipped", "gzipped dotted"])
def test_other_file_names_are_accepted(source, tmp_path, rename):
    for spec in FILES.values():
        path = source / spec.name
        name = spec.name.replace("-idx", ".idx") if "dotted" in rename else spec.name
        if "gzipped" in rename:
            (source / (name + ".gz")).write_bytes(gzip.compress(path.read_bytes(), compresslevel=1))
            path.unlink()
        else:
            path.rename(source / name)
    assert len(load_mnist(source, "dir", cache_dir=tmp_path / "cache").test_labels) == 10_000


def damage(path, how):
    data = bytearray(path.read_bytes())
    if how == "wrong magic":
        data[3] = 0x02
    elif how == "truncated":
        data = data[: len(data) - 100]
    elif how == "count mismatch":
        data[4:8] = (9_999).to_bytes(4, "big")
    elif how == "one changed pixel":
        data[5000] ^= 0xFF
    elif how == "mislabeled":
        data[100] = (data[100] + 1) % 10
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("file_key, how, message", [
    ("train_images", "wrong magic", "magic number"),
    ("test_images", "truncated", "truncated"),
    ("test_labels", "count mismatch", "holds 9999 items, expected 10000"),
    ("train_images", "one changed pixel", "SHA-256"),
    ("train_labels", "mislabeled", "SHA-256"),
])
def test_damaged_files_are_refused_by_name_and_nothing_is_cached(source, tmp_path, file_key, how, message):
    name = FILES[file_key].name
    damage(source / name, how)
    cache = tmp_path / "cache"
    with pytest.raises(MnistFileError, match=message) as error:
        load_mnist(source, "dir", cache_dir=cache)
    assert name in str(error.value)
    assert not cache.exists() or not any(cache.iterdir())


def test_a_missing_file_is_named(source, tmp_path):
    (source / FILES["test_labels"].name).unlink()
    with pytest.raises(MnistFileError, match="no t10k-labels-idx1-ubyte"):
        load_mnist(source, "dir", cache_dir=tmp_path / "cache")
