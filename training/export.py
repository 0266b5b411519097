"""Export the trained network to TorchScript and record reference outputs for the serving side."""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch
from torch import nn

REFERENCE_COUNT = 64


def reference_path(model_path: Path) -> Path:
    """Where the inputs and logits recorded by the training environment sit, beside the model."""
    return model_path.with_suffix(".reference.pt")


def export_torchscript(model: nn.Module, path: Path, test_images: torch.Tensor, traced: bool = False) -> float:
    """Script ``model`` (or trace it: an FX-quantized network cannot be scripted), load it back, and
    check it matches the eager model on test images.

    Also saves the reference inputs and outputs that the serving environment (another torch
    version) must reproduce. Returns the largest absolute difference seen.
    """
    model = model.eval().to(memory_format=torch.contiguous_format)
    pixels = test_images[:REFERENCE_COUNT].unsqueeze(1).float() / 255
    scripted = torch.jit.trace(model, pixels) if traced else torch.jit.script(model)
    path.parent.mkdir(parents=True, exist_ok=True)
    scripted.save(str(path))
    with torch.inference_mode():
        eager = model(pixels)
        reloaded = torch.jit.load(str(path))(pixels)
    difference = (eager - reloaded).abs().max().item()
    if difference > 1e-5:
        raise RuntimeError(f"TorchScript export differs from the eager model by {difference}")
    torch.save({"pixels": pixels, "logits": reloaded}, reference_path(path))
    return difference


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
