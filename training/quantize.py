"""Int8 copy of the trained network for CPU serving: static post-training quantization (x86 backend).

    python -m training.quantize     # from the shipped float model: writes model_store/mnist_resnet_int8.pt

Weights per output channel and activations per tensor become int8; the observers see validation
images only (scans, their canvas redrawing and non-digits), so the test set still chooses nothing.
On this 2-core CPU the forward pass is 5-6x faster than the float one at batch 1 and 8
(docs/BENCHMARKS.md). The float file stays for GPUs, which have no int8 kernels for these ops.
The temperature and "not a digit" threshold are the float model's, wrapped around the int8
network; the figures written here show they still hold for it.
"""

from __future__ import annotations

import copy
import json
import warnings
from pathlib import Path

import torch
from torch import nn

from handler.mnist_device import int8_file
from training.evaluate import served_figures
from training.export import export_torchscript, sha256_of
from training.model import CalibratedDigitModel, DigitResNet
from training.model_card import write_model_card

BACKEND = "x86"
# Validation images the observers see: every OBSERVER_STRIDE-th of the calibration set.
OBSERVER_STRIDE = 5


def quantize_int8(network: nn.Module, observed_pixels: torch.Tensor) -> nn.Module:
    """``network`` with int8 weights and activations, its ranges observed on ``observed_pixels``
    ((N, 1, 28, 28) in [0, 1]); an FX GraphModule, which TorchScript can trace but not script."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao.quantization's notice that it moves to torchao
        from torch.ao.quantization import get_default_qconfig_mapping
        from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx
        torch.backends.quantized.engine = BACKEND
        prepared = prepare_fx(copy.deepcopy(network).cpu().eval(), get_default_qconfig_mapping(BACKEND),
                              (observed_pixels[:1],))
        with torch.inference_mode():
            for chunk in observed_pixels.split(500):
                prepared(chunk)
        return convert_fx(prepared)


def served_int8(network: nn.Module, temperature: float, threshold: float, calibration_images: torch.Tensor) -> nn.Module:
    """The served int8 module: ``network`` quantized on ``calibration_images`` ((N, 28, 28) uint8),
    with the float model's temperature and threshold."""
    observed = calibration_images[::OBSERVER_STRIDE].unsqueeze(1).float() / 255
    return CalibratedDigitModel(quantize_int8(network, observed), temperature, threshold).eval()


def export_int8(network: nn.Module, temperature: float, threshold: float, float_path: Path, *,
                valid_digits: torch.Tensor, valid_strokes: torch.Tensor, valid_labels: torch.Tensor,
                valid_non_digits: torch.Tensor, test_images: torch.Tensor, test_strokes: torch.Tensor,
                test_labels: torch.Tensor, report_non_digits: torch.Tensor) -> dict:
    """Quantize ``network`` on the validation images, export it beside the float file, and measure
    both served modules on the same sets (``served_figures``): the summary's entries for the model
    card. Images are (N, 28, 28) uint8."""
    quantized = served_int8(network, temperature, threshold, torch.cat([valid_digits, valid_strokes, valid_non_digits]))
    path = int8_file(float_path)  # where a CPU worker looks for it
    export_torchscript(quantized, path, test_images, traced=True)
    digit_sets = {"validation": (valid_digits, valid_labels), "canvas-style validation": (valid_strokes, valid_labels),
                  "MNIST test": (test_images, test_labels), "canvas-style test": (test_strokes, test_labels)}
    non_digit_sets = {"held-out non-digits": report_non_digits}
    served = {"float": CalibratedDigitModel(network, temperature, threshold).eval(), "int8": quantized}
    return {"served": {name: served_figures(module, digit_sets, non_digit_sets) for name, module in served.items()},
            "int8_model_file": path.name, "int8_model_sha256": sha256_of(path)}


def network_of(served_path: Path) -> tuple[nn.Module, float, float]:
    """The float network, temperature and threshold of an exported ``CalibratedDigitModel``."""
    state = torch.jit.load(str(served_path), map_location="cpu").state_dict()
    network = DigitResNet().eval()
    network.load_state_dict({name.removeprefix("network."): value for name, value in state.items()
                             if name.startswith("network.")})
    return network, float(state["temperature"]), float(state["non_digit_threshold"])


def main() -> None:
    """Quantize the shipped float model without retraining, with the training recipe's own data."""
    from training.canvas_render import canvas_variants
    from training.data import REPO_ROOT, load_mnist
    from training.non_digits import non_digits
    from training.train import NON_DIGITS, RENDERING_SEEDS

    model_path = REPO_ROOT / "model_store" / "mnist_resnet.pt"
    report_dir = REPO_ROOT / "docs" / "model"
    network, temperature, threshold = network_of(model_path)
    mnist = load_mnist()
    _, valid_index = mnist.train_valid_split()
    valid_digits = mnist.train_images[valid_index]
    summary = json.loads((report_dir / "metrics.json").read_text())
    summary.update(export_int8(
        network, temperature, threshold, model_path,
        valid_digits=valid_digits, valid_labels=mnist.train_labels[valid_index],
        valid_strokes=torch.from_numpy(canvas_variants(valid_digits.numpy(), RENDERING_SEEDS["valid"])[0]),
        valid_non_digits=torch.from_numpy(non_digits(*NON_DIGITS["valid"])),
        test_images=mnist.test_images, test_labels=mnist.test_labels,
        test_strokes=torch.from_numpy(canvas_variants(mnist.test_images.numpy(), RENDERING_SEEDS["test"])[0]),
        report_non_digits=torch.from_numpy(non_digits(*NON_DIGITS["report"]))))
    (report_dir / "metrics.json").write_text(json.dumps(summary, indent=2))
    write_model_card(summary, report_dir / "MODEL_CARD.md")
    print(json.dumps(summary["served"], indent=2))


if __name__ == "__main__":
    main()
