"""Calibration after training: temperature scaling, expected calibration error, and the "not a digit" threshold.

All of it is fitted on the validation split; the test set only reports.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from training.model import NOT_A_DIGIT, NUM_DIGITS  # noqa: E402

ECE_BINS = 15


def fit_temperature(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """The temperature that minimises the negative log-likelihood of the ten digit classes."""
    log_temperature = torch.zeros(1, requires_grad=True)
    optimiser = torch.optim.LBFGS([log_temperature], lr=0.1, max_iter=200)
    digit_logits = logits[:, :NUM_DIGITS].clone()  # out of inference mode, so autograd can use it

    def loss():
        optimiser.zero_grad()
        value = torch.nn.functional.cross_entropy(digit_logits / log_temperature.exp(), labels)
        value.backward()
        return value

    optimiser.step(loss)
    return float(log_temperature.exp())


def calibration_bins(probabilities: torch.Tensor, labels: torch.Tensor, bins: int = ECE_BINS):
    """Per confidence bin: its share of the images, mean confidence and accuracy."""
    confidence, predicted = probabilities.max(dim=1)
    correct = (predicted == labels).float()
    edges = torch.linspace(0, 1, bins + 1)
    rows = []
    for low, high in zip(edges[:-1], edges[1:]):
        inside = (confidence > low) & (confidence <= high)
        if inside.any():
            rows.append((float(inside.float().mean()), float(confidence[inside].mean()), float(correct[inside].mean())))
        else:
            rows.append((0.0, float((low + high) / 2), float("nan")))
    return rows


def expected_calibration_error(probabilities: torch.Tensor, labels: torch.Tensor, bins: int = ECE_BINS) -> float:
    """The share-weighted gap between confidence and accuracy over equal-width confidence bins."""
    return sum(share * abs(confidence - accuracy)
               for share, confidence, accuracy in calibration_bins(probabilities, labels, bins) if share > 0)


def digit_probabilities(logits: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    return torch.softmax(logits[:, :NUM_DIGITS] / temperature, dim=1)


def non_digit_probability(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    return torch.softmax(logits / temperature, dim=1)[:, NOT_A_DIGIT]


def choose_threshold(digit_scores: torch.Tensor, flagged_share: float) -> float:
    """The "not a digit" probability above which only ``flagged_share`` of real digits lie."""
    return float(torch.quantile(digit_scores.double(), 1.0 - flagged_share))


def plot_reliability(curves: dict[str, tuple[torch.Tensor, torch.Tensor]], path: Path) -> None:
    """One reliability diagram per named (probabilities, labels) pair, side by side."""
    fig, axes = plt.subplots(1, len(curves), figsize=(5 * len(curves), 4.5), squeeze=False)
    for ax, (name, (probabilities, labels)) in zip(axes.flat, curves.items()):
        rows = calibration_bins(probabilities, labels)
        width = 1 / ECE_BINS
        centres = [(i + 0.5) * width for i in range(ECE_BINS)]
        ax.bar(centres, [0 if share == 0 else accuracy for share, _, accuracy in rows], width=width * 0.95,
               color="C0", alpha=0.7, label="accuracy in bin")
        ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="perfect calibration")
        ece = expected_calibration_error(probabilities, labels)
        ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="confidence", ylabel="accuracy", title=f"{name}\nECE {ece:.2%}")
        ax.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_non_digit_tradeoff(digit_scores: torch.Tensor, non_digit_scores: torch.Tensor, threshold: float,
                            path: Path) -> None:
    """Real digits flagged against non-digits caught, as the threshold moves (validation data)."""
    thresholds = torch.cat([torch.logspace(-6, 0, 400), torch.tensor([threshold])]).sort().values
    flagged = [(digit_scores >= t).float().mean().item() * 100 for t in thresholds]
    caught = [(non_digit_scores >= t).float().mean().item() * 100 for t in thresholds]
    fig, ax = plt.subplots(figsize=(6, 4.5))
    ax.plot(flagged, caught, color="C0")
    chosen = ((digit_scores >= threshold).float().mean() * 100, (non_digit_scores >= threshold).float().mean() * 100)
    ax.scatter([chosen[0]], [chosen[1]], color="C3", zorder=3,
               label=f"chosen threshold {threshold:.3g}: {chosen[0]:.2f}% digits flagged, {chosen[1]:.1f}% caught")
    ax.set(xscale="symlog", xlabel="real digits flagged as not a digit (%)", ylabel="non-digits caught (%)",
           title="Not a digit: trade-off on validation data", ylim=(0, 101))
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
