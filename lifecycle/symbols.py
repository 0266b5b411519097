"""A stored drawing as the model sees it: the handler's own segmentation and fitting, nothing else."""

from __future__ import annotations

import numpy as np

from handler.mnist_contract import MNIST_SIDE
from handler.mnist_errors import BadInput
from handler.mnist_preprocess import image_to_symbols


def fitted_symbols(image: bytes) -> np.ndarray:
    """(S, 28, 28) float32 in 0-1, left to right; (0, 28, 28) for a drawing the handler cannot read."""
    try:
        symbols = image_to_symbols(image)
    except BadInput:
        symbols = []
    return np.array([symbol.pixels.squeeze(0).numpy() for symbol in symbols],
                    dtype=np.float32).reshape(-1, MNIST_SIDE, MNIST_SIDE)
