"""The calibration report's pictures: reliability diagrams and the "not a digit" trade-off."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from training.calibration import ECE_BINS, calibration_bins, expected_calibration_error  # noqa: E402


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
