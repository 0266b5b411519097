"""Which device a TorchServe worker runs the model on, and which of the model's two files it serves."""

from __future__ import annotations

from pathlib import Path

import torch

# The x86 backend's int8 kernels (fbgemm/oneDNN) run the quantized copy; other CPUs and GPUs serve
# the float file.
INT8_ENGINE = "x86"


def choose_device(gpu_id, cuda_available: bool) -> torch.device:
    """The GPU TorchServe assigned to this worker when there is one and CUDA works, else the CPU.

    TorchServe passes ``gpu_id`` only when ``number_of_gpu`` in config.properties is above zero and
    it found GPUs; it spreads workers over the GPUs round-robin.
    """
    if cuda_available and gpu_id is not None:
        return torch.device(f"cuda:{int(gpu_id)}")
    return torch.device("cpu")


def int8_file(float_file: Path) -> Path:
    """Where training/quantize.py writes the int8 copy of ``float_file``."""
    return float_file.with_name(f"{float_file.stem}_int8{float_file.suffix}")


def model_file(float_file: Path, device: torch.device, quantized_engines: list[str]) -> Path:
    """The int8 copy on a CPU with the x86 int8 kernels (about 5x faster per forward pass, the same
    accuracy: docs/model/MODEL_CARD.md); the float file anywhere else."""
    if device.type == "cpu" and INT8_ENGINE in quantized_engines:
        return int8_file(float_file)
    return float_file
