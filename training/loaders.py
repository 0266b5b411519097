"""fastai DataLoaders that slice whole batches out of in-memory uint8 tensors.

The stock per-item loader spends about 11 s an epoch here collating 28x28 images one by one;
slicing a batch from a tensor costs well under a second. Augmentation runs on the batch, and only
on the training split (fastai's ``split_idx`` 0).
"""

from __future__ import annotations

import torch
from fastai.data.core import DataLoaders, TfmdDL
from fastai.torch_core import TensorCategory, TensorImage
from fastai.vision.augment import PadMode, aug_transforms

TRAIN_SPLIT, VALID_SPLIT = 0, 1


def digit_augmentations() -> list:
    """Rotation ±15°, zoom ±10%, lighting, perspective warp, all as one affine/warp pass on the batch.

    No flips (digits are not symmetric) and zero padding (MNIST's background), not reflection.
    """
    return aug_transforms(do_flip=False, max_rotate=15.0, min_zoom=0.9, max_zoom=1.1,
                          max_lighting=0.1, max_warp=0.1, pad_mode=PadMode.Zeros)


class InMemoryDigits:
    """Renderings (V, N, 28, 28) uint8 of N images and labels (N,); items are indices, batches slices.

    Each time an image is drawn into a batch, one of its V renderings is picked at random with
    ``rendering_weights`` (the MNIST scan, its canvas pen-stroke redrawing, ...).
    """

    def __init__(self, renderings: torch.Tensor, labels: torch.Tensor, split_idx: int,
                 rendering_weights: tuple[float, ...] = (1.0,)):
        self.renderings, self.labels, self.split_idx = renderings, labels, split_idx
        self.rendering_weights = torch.tensor(rendering_weights)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> int:
        return index

    def batch(self, indices: list[int]) -> tuple[TensorImage, TensorCategory]:
        index = torch.as_tensor(indices)
        rendering = torch.multinomial(self.rendering_weights, len(index), replacement=True)
        pixels = self.renderings[rendering, index].unsqueeze(1).float().div_(255)
        return TensorImage(pixels), TensorCategory(self.labels[index])


class BatchSlicingDL(TfmdDL):
    def create_batch(self, indices):
        return self.dataset.batch(indices)

    def retain(self, batch, _indices):
        return batch


def make_dataloaders(train_renderings: torch.Tensor, train_labels: torch.Tensor, rendering_weights: tuple[float, ...],
                     valid_images: torch.Tensor, valid_labels: torch.Tensor, batch_size: int) -> DataLoaders:
    """Training batches mix the renderings of each image; validation is one fixed set of images."""
    train = InMemoryDigits(train_renderings, train_labels, TRAIN_SPLIT, rendering_weights)
    valid = InMemoryDigits(valid_images.unsqueeze(0), valid_labels, VALID_SPLIT)
    common = dict(num_workers=0, after_batch=digit_augmentations())
    return DataLoaders(
        BatchSlicingDL(train, bs=batch_size, shuffle=True, drop_last=True, **common),
        BatchSlicingDL(valid, bs=512, shuffle=False, **common),
        device=torch.device("cpu"),
    )
