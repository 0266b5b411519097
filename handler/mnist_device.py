"""Which device a TorchServe worker runs the model on."""

from __future__ import annotations

import torch


def choose_device(gpu_id, cuda_available: bool) -> torch.device:
    """The GPU TorchServe assigned to this worker when there is one and CUDA works, else the CPU.

    TorchServe passes ``gpu_id`` only when ``number_of_gpu`` in config.properties is above zero and
    it found GPUs; it spreads workers over the GPUs round-robin.
    """
    if cuda_available and gpu_id is not None:
        return torch.device(f"cuda:{int(gpu_id)}")
    return torch.device("cpu")
