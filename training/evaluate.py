"""Test-set evaluation of a trained model: accuracy, per-class accuracy and two PNG reports."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from handler.mnist_contract import NUM_DIGITS, flagged  # noqa: E402
from training.calibration import expected_calibration_error  # noqa: E402


@dataclass
class Evaluation:
    accuracy: float
    per_class_accuracy: list[float]
    confusion: torch.Tensor  # (10, 10): rows true digit, columns predicted digit
    predictions: torch.Tensor  # the most likely digit, whatever the "not a digit" column says


def predict(model: nn.Module, images: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """The model's outputs for (N, 28, 28) uint8 images, a thousand at a time."""
    model.eval()
    with torch.inference_mode():
        return torch.cat([model(images[i:i + batch_size].unsqueeze(1).float() / 255)
                          for i in range(0, len(images), batch_size)])


def evaluate(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> Evaluation:
    predictions = predict(model, images)[:, :NUM_DIGITS].argmax(dim=1)
    confusion = torch.zeros(NUM_DIGITS, NUM_DIGITS, dtype=torch.long)
    confusion.index_put_((labels, predictions), torch.ones_like(labels), accumulate=True)
    per_class = (confusion.diag().float() / confusion.sum(dim=1).clamp(min=1)).tolist()
    accuracy = (predictions == labels).float().mean().item()
    return Evaluation(accuracy, per_class, confusion, predictions)


def served_figures(served: nn.Module, digit_sets: dict[str, tuple[torch.Tensor, torch.Tensor]],
                   non_digit_sets: dict[str, torch.Tensor]) -> dict[str, dict[str, float]]:
    """What a served module (outputs as handler/mnist_contract.py says) does on each labelled digit
    set: accuracy, expected calibration error and the share it calls no digit (by its eleventh class
    or its unfamiliarity: each image is a whole drawing); and the share of each set of non-digits it
    catches. Sets are (N, 28, 28) uint8 images."""
    threshold = float(served.non_digit_threshold)
    figures: dict[str, dict[str, float]] = {"accuracy": {}, "ece": {}, "flagged": {}}
    for name, (images, labels) in digit_sets.items():
        outputs = predict(served, images)
        figures["accuracy"][name] = float((outputs[:, :NUM_DIGITS].argmax(dim=1) == labels).float().mean())
        figures["ece"][name] = expected_calibration_error(outputs[:, :NUM_DIGITS], labels)
        figures["flagged"][name] = float(flagged(outputs, threshold).float().mean())
    for name, images in non_digit_sets.items():
        figures["flagged"][name] = float(flagged(predict(served, images), threshold).float().mean())
    return figures


def plot_confusion(evaluation: Evaluation, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(7, 6))
    counts = evaluation.confusion.numpy()
    ax.imshow(counts, cmap="Blues", norm=matplotlib.colors.LogNorm(vmin=1, vmax=counts.max()))
    for (row, col), value in np.ndenumerate(counts):
        if value:
            ax.text(col, row, str(value), ha="center", va="center", fontsize=8,
                    color="white" if row == col else "black")
    ax.set(xticks=range(NUM_DIGITS), yticks=range(NUM_DIGITS), xlabel="predicted", ylabel="true",
           title=f"MNIST test confusion matrix (accuracy {evaluation.accuracy:.2%})")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_misclassified(evaluation: Evaluation, images: torch.Tensor, labels: torch.Tensor,
                       path: Path, limit: int = 60) -> None:
    wrong = (evaluation.predictions != labels).nonzero().flatten()[:limit]
    columns = 10
    rows = max(1, (len(wrong) + columns - 1) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(columns * 1.2, rows * 1.4), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, index in zip(axes.flat, wrong.tolist()):
        ax.imshow(images[index], cmap="gray")
        ax.set_title(f"{labels[index].item()}→{evaluation.predictions[index].item()}", fontsize=9)
    fig.suptitle(f"Misclassified test digits (true→predicted), {len(wrong)} shown")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
