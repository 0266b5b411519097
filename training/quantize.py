"""Int8 copy of the trained network for CPU serving: static post-training quantization (x86 backend).

    python -m training.quantize     # from the shipped float model: writes model_store/mnist_resnet_int8.pt

Weights per output channel and activations per tensor become int8; the observers see validation
images only (scans, their canvas redrawing and non-digits), so the test set still chooses nothing.
On this 2-core CPU the whole module's forward pass (whose comparison with the kept training digits
stays float) is 2.4-2.8x faster than the float one at batch 1 and 8 (docs/BENCHMARKS.md). The
float file stays for GPUs, which have no int8 kernels for these ops.
The temperature, "not a digit" threshold and the familiarity's bank and distance are the float
model's, wrapped around the int8 network's statistics; the figures written here show they still
hold for it.
"""

from __future__ import annotations

import copy
import json
import warnings
from pathlib import Path

import torch
from torch import nn

from handler.mnist_device import int8_file
from serving.settings import MODEL_METRICS, SERIALIZED_MODEL
from training.data import load_mnist
from training.datasets import RunSets, build_sets
from training.evaluate import served_figures
from training.export import export_torchscript, sha256_of
from training.familiarity import LayerStatistics, NearestDigits
from training.model import CalibratedDigitModel, DigitResNet
from training.model_card import write_model_card

BACKEND = "x86"
# Validation images the observers see: every OBSERVER_STRIDE-th of the calibration set.
OBSERVER_STRIDE = 5


def quantize_int8(statistics: nn.Module, observed_pixels: torch.Tensor) -> nn.Module:
    """``statistics`` (a LayerStatistics) with int8 weights and activations, its ranges observed on
    ``observed_pixels`` ((N, 1, 28, 28) in [0, 1]); an FX GraphModule, which TorchScript can trace
    but not script. Its rows come out float: an int8 ``torch.cat`` would put the logits and every
    layer's means and spreads on one scale (the means and spreads are float already:
    familiarity.mean_and_spread)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao.quantization's notice that it moves to torchao
        from torch.ao.quantization import get_default_qconfig_mapping
        from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx
        torch.backends.quantized.engine = BACKEND
        mapping = get_default_qconfig_mapping(BACKEND).set_object_type(torch.cat, None)
        prepared = prepare_fx(copy.deepcopy(statistics).cpu().eval(), mapping, (observed_pixels[:1],))
        with torch.inference_mode():
            for chunk in observed_pixels.split(500):
                prepared(chunk)
        return convert_fx(prepared)


def served_int8(served: CalibratedDigitModel, observed_images: torch.Tensor) -> nn.Module:
    """The served int8 module: ``served``'s statistics quantized on ``observed_images`` ((N, 28, 28)
    uint8), with its temperature, threshold and familiarity."""
    observed = observed_images[::OBSERVER_STRIDE].unsqueeze(1).float() / 255
    return CalibratedDigitModel(quantize_int8(served.statistics, observed), float(served.temperature),
                                float(served.non_digit_threshold), served.nearest,
                                float(served.unfamiliar_distance)).eval()


def export_int8(served: CalibratedDigitModel, float_path: Path, sets: RunSets) -> dict:
    """Quantize ``served`` on the validation images (scans, their canvas redrawing and non-digits),
    export it where a CPU worker looks for it, and measure it on the sets the float file was
    measured on."""
    observed = torch.cat([sets.valid_digits, sets.valid_strokes, sets.non_digits["valid"]])
    quantized = served_int8(served, observed)
    path = int8_file(float_path)
    export_torchscript(quantized, path, sets.test_images, traced=True)
    return {"figures": served_figures(quantized, sets.digit_sets(), sets.non_digit_sets()),
            "model_file": path.name, "model_sha256": sha256_of(path)}


def shipped_model(served_path: Path) -> CalibratedDigitModel:
    """An exported ``CalibratedDigitModel`` back as an eager module, whose network can be quantized."""
    loaded = torch.jit.load(str(served_path), map_location="cpu")
    state = loaded.state_dict()
    prefix = "statistics.network."
    network = DigitResNet().eval()
    network.load_state_dict({name.removeprefix(prefix): value for name, value in state.items()
                             if name.startswith(prefix)})
    nearest = NearestDigits(state["nearest.bank"], list(loaded.nearest.widths), loaded.nearest.neighbour)
    return CalibratedDigitModel(LayerStatistics(network).eval(), float(state["temperature"]),
                                float(state["non_digit_threshold"]), nearest,
                                float(state["unfamiliar_distance"])).eval()


def main() -> None:
    """Quantize the shipped float model without retraining, on the training recipe's own sets."""
    served = shipped_model(SERIALIZED_MODEL)
    sets = build_sets(load_mnist())
    int8 = export_int8(served, SERIALIZED_MODEL, sets)
    summary = json.loads(MODEL_METRICS.read_text())
    summary["served"] = {"float": served_figures(served, sets.digit_sets(), sets.non_digit_sets()),
                         "int8": int8["figures"]}
    summary.update(int8_model_file=int8["model_file"], int8_model_sha256=int8["model_sha256"])
    MODEL_METRICS.write_text(json.dumps(summary, indent=2))
    write_model_card(summary, MODEL_METRICS.parent / "MODEL_CARD.md")
    print(json.dumps(summary["served"], indent=2))


if __name__ == "__main__":
    main()
