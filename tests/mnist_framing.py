"""How an MNIST-style 28x28 image is framed: where its ink's centre of mass is and how big its ink box is."""

from __future__ import annotations

import numpy as np
import torch

INK = 0.1


def centre_of_mass(pixels: torch.Tensor) -> tuple[float, float]:
    image = pixels.squeeze(0).numpy()
    rows, cols = np.indices(image.shape)
    return (rows * image).sum() / image.sum(), (cols * image).sum() / image.sum()


def ink_box(pixels: torch.Tensor) -> tuple[int, int]:
    ink = pixels.squeeze(0).numpy() > INK
    rows, cols = np.flatnonzero(ink.any(axis=1)), np.flatnonzero(ink.any(axis=0))
    return rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1
