"""Real MNIST test digits for the tests, from the verified cache (filled by `make data`)."""

from __future__ import annotations

import functools

import numpy as np

from training.data import load_mnist


@functools.lru_cache(maxsize=1)
def mnist_test_set() -> tuple[np.ndarray, np.ndarray]:
    """(10000, 28, 28) uint8 images and (10000,) labels of the MNIST test set."""
    mnist = load_mnist()
    return mnist.test_images.numpy(), mnist.test_labels.numpy()


def one_of_each_digit() -> list[tuple[int, np.ndarray]]:
    images, labels = mnist_test_set()
    return [(digit, images[int(np.flatnonzero(labels == digit)[0])]) for digit in range(10)]
