"""Leave-kinds-out: how well "not a digit" catches kinds of drawing the model never saw.

    python -m training.leave_kinds_out              # make leave-kinds-out: 3 folds, 3 epochs, 12,000 digits
    python -m training.leave_kinds_out --folds 15   # each kind held out alone

The non-digit kinds of ``training/non_digits.py`` are dealt into folds. For each fold, a model is
trained (the recipe shortened: one-cycle epochs at the shipped recipe's peak rate, label smoothing,
augmentation) on MNIST training digits, their canvas redrawings, touching pairs, the random strokes
(a prior, never held out) and the drawings of the **other** kinds only; its "not a digit" threshold
is chosen on validation digits exactly as the shipped model's is (0.1% flagged); then it is asked
about new drawings of the kinds it never saw, and of those it did. Open-set scores are compared at
the same flagged share: the eleventh class's probability; the energy of the digit logits (a high
-logsumexp means no digit class claims the image); a distance in the network's feature space (the
Mahalanobis distance of the pooled features to the nearest digit class, the class means and one
shared covariance fitted on the fold's training digits, Lee et al. 2018); the distance to the K-th
nearest training digit's features (Sun et al. 2022), the pooled ones, and the per-channel mean and
spread of every layer's maps, of as many training digits as a served file could carry ("every
layer", training/familiarity.py); and flagging by either of two (EITHER). The
shipped threshold flags 0.1% of digits, the target allows 0.5%: both are reported (``--budgets``).

The shipped model trains on every kind; these short models say how far that training
generalises to a kind nobody wrote a generator for. Nothing here reads the test set.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import fastai.callback.progress  # noqa: F401 - adds Learner.no_bar
import fastai.callback.schedule  # noqa: F401 - adds Learner.fit_one_cycle
import numpy as np
import torch
from fastai.learner import Learner
from fastai.losses import LabelSmoothingCrossEntropyFlat
from fastai.torch_core import set_seed

from handler.mnist_contract import NOT_A_DIGIT, NUM_CLASSES, NUM_DIGITS
from training.calibration import FLAGGED_DIGIT_BUDGET, choose_threshold
from training.canvas_render import canvas_variants
from training.data import DEFAULT_SOURCE, SOURCES, load_mnist
from training.datasets import not_a_digit_labels
from training.digit_pairs import digit_pairs
from training.evaluate import predict
from training.familiarity import (
    BANK_NEIGHBOUR,
    LayerStatistics,
    NearestDigits,
    kept_for_bank,
    pooled_features,
    statistic_widths,
)
from training.loaders import make_dataloaders
from training.model import DigitResNet
from training.non_digits import FAMILIES, KINDS, non_digits

PEAK_RATE = 3.6e-3        # the shipped recipe's lr_find valley (docs/model/metrics.json)
DRAWINGS_PER_FAMILY = 300  # trained on, per family kept
REPORT_PER_FAMILY = 200    # asked about, per family (another seed)
RENDERING_WEIGHTS = (0.5, 0.5)
PAPER_NEIGHBOUR = 50  # Sun et al.'s K for CIFAR-10's 50,000 training images; not tuned here
TARGET_BUDGET = 0.005  # the most real digits flagged that issue 18's target for held-out kinds allows


def folds_of(count: int) -> list[tuple[str, ...]]:
    """The kinds dealt into ``count`` folds in turn, so each fold mixes kinds (the random strokes,
    a prior and not a kind, are in every fold's training)."""
    names = list(KINDS)
    return [tuple(names[start::count]) for start in range(count)]


def drawings(families: tuple[str, ...], per_family: int, seed: int) -> np.ndarray:
    return non_digits(per_family * len(families), seed, families)


def trained_without(held_out: tuple[str, ...], digits: np.ndarray, strokes: np.ndarray, labels: torch.Tensor,
                    valid: tuple[torch.Tensor, torch.Tensor], epochs: int) -> torch.nn.Module:
    kept = tuple(name for name in FAMILIES if name not in held_out)
    drawn = drawings(kept, DRAWINGS_PER_FAMILY, seed=21)
    pairs = digit_pairs(np.stack([digits, strokes]), len(digits) // 8, seed=22)
    renderings = np.concatenate([np.stack([digits, strokes]), np.broadcast_to(drawn, (2, *drawn.shape)), pairs], axis=1)
    extra = torch.from_numpy(renderings[0, len(digits):])
    train_labels = torch.cat([labels, not_a_digit_labels(extra)])
    dls = make_dataloaders(torch.from_numpy(np.ascontiguousarray(renderings)), train_labels, RENDERING_WEIGHTS,
                           valid[0], valid[1], batch_size=64)
    learn = Learner(dls, DigitResNet().to(memory_format=torch.channels_last),
                    loss_func=LabelSmoothingCrossEntropyFlat())
    with learn.no_bar(), learn.no_logging():
        learn.fit_one_cycle(epochs, PEAK_RATE)
    return learn.model.cpu().eval()


# Scores used together, by the name they are reported under: each with the share of the budget its
# threshold flags. The last is the rule a served module would use: the eleventh class's threshold as
# shipped, and the distance flagging half as many digits again (so 1.5 times the budget in all).
EITHER = {"either": {"eleventh class": 0.5, "energy": 0.5},
          "eleventh class or nearest digits": {"eleventh class": 0.5, "nearest digits": 0.5},
          "eleventh class, or every layer for half as many again": {"eleventh class": 1.0,
                                                                    "nearest digits, every layer": 0.5}}


class FeatureDistance:
    """The squared Mahalanobis distance of pooled features to the nearest digit class's mean, with one
    covariance shared by the classes (fitted on digits only: a drawing far from every digit is none)."""

    def __init__(self, features: torch.Tensor, labels: torch.Tensor):
        features = features.double()
        self.means = torch.stack([features[labels == digit].mean(dim=0) for digit in range(NUM_DIGITS)])
        centred = features - self.means[labels]
        covariance = centred.T @ centred / len(features)
        # A ridge a millionth of the mean variance keeps the inverse finite where ReLU features never vary.
        ridge = 1e-6 * covariance.diagonal().mean() * torch.eye(len(covariance), dtype=torch.float64)
        self.precision = torch.linalg.inv(covariance + ridge)

    def __call__(self, features: torch.Tensor) -> torch.Tensor:
        offsets = features.double()[:, None, :] - self.means[None]
        return torch.einsum("nkc,cd,nkd->nk", offsets, self.precision, offsets).min(dim=1).values


def in_chunks(nearest: NearestDigits, statistics: torch.Tensor) -> torch.Tensor:
    """``nearest``'s distances, a thousand rows at a time (a 24,000-digit bank would need gigabytes at once)."""
    return torch.cat([nearest(chunk) for chunk in statistics.split(1000)])


class Scores:
    """The open-set scores, fitted on a fold's training digits' LayerStatistics rows; higher means
    "not a digit"."""

    def __init__(self, network: DigitResNet, outputs: torch.Tensor, labels: torch.Tensor):
        self.widths = statistic_widths(network)
        pooled = self.pooled(outputs)
        self.distance = FeatureDistance(pooled, labels)
        self.nearest = NearestDigits(pooled, [pooled.shape[1]], PAPER_NEIGHBOUR)
        # As a served file could carry them: BANK_DIGITS of the training digits, the BANK_NEIGHBOUR-th nearest.
        kept = kept_for_bank(len(outputs))
        self.nearest_layers = NearestDigits(outputs[kept, NUM_CLASSES:], self.widths, BANK_NEIGHBOUR)

    def pooled(self, outputs: torch.Tensor) -> torch.Tensor:
        return pooled_features(outputs[:, NUM_CLASSES:], self.widths)

    def __call__(self, outputs: torch.Tensor) -> dict[str, torch.Tensor]:
        logits, pooled = outputs[:, :NUM_CLASSES], self.pooled(outputs)
        return {"eleventh class": torch.softmax(logits, dim=1)[:, NOT_A_DIGIT],
                "energy": -torch.logsumexp(logits[:, :NUM_DIGITS], dim=1),
                "feature distance": self.distance(pooled),
                "nearest digits": in_chunks(self.nearest, pooled),
                "nearest digits, every layer": in_chunks(self.nearest_layers, outputs[:, NUM_CLASSES:])}


def caught_shares(network: DigitResNet, train_digits: tuple[torch.Tensor, torch.Tensor], valid_digits: torch.Tensor,
                  asked: dict[str, torch.Tensor], budgets: list[float]) -> dict:
    """The share of each asked set flagged, per score and per budget (the share of validation digits
    each threshold flags); scores at budgets other than the shipped one are named with it."""
    statistics = LayerStatistics(network).eval()
    scores = Scores(network, predict(statistics, train_digits[0]), train_digits[1])
    digit_scores = scores(predict(statistics, valid_digits))
    asked_scores = {name: scores(predict(statistics, images)) for name, images in asked.items()}
    shares = {}
    for budget in budgets:
        suffix = "" if budget == FLAGGED_DIGIT_BUDGET else f" ({budget:.1%} of digits flagged)"
        for score in digit_scores:
            threshold = choose_threshold(digit_scores[score], budget)
            shares[score + suffix] = {name: float((values[score] > threshold).float().mean())
                                      for name, values in asked_scores.items()}
        # Two scores together: flagged when either is above its threshold, each chosen for its share.
        for combined, pair in EITHER.items():
            thresholds = {score: choose_threshold(digit_scores[score], budget * share) for score, share in pair.items()}
            shares[combined + suffix] = {}
            for name, values in asked_scores.items():
                flagged = torch.stack([values[score] > thresholds[score] for score in pair]).any(dim=0)
                shares[combined + suffix][name] = float(flagged.float().mean())
    return shares


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--digits", type=int, default=12000, help="MNIST training digits per model")
    parser.add_argument("--asked", type=int, default=REPORT_PER_FAMILY, help="new drawings asked about per family")
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--source", choices=SOURCES, default=DEFAULT_SOURCE)
    parser.add_argument("--budgets", type=float, nargs="+", default=[FLAGGED_DIGIT_BUDGET, TARGET_BUDGET],
                        help=f"shares of validation digits a threshold flags, each reported (default "
                             f"{FLAGGED_DIGIT_BUDGET:g}, the shipped model's, and {TARGET_BUDGET:g})")
    parser.add_argument("--seed", type=int, default=0, help="the models' (the drawings and digits stay the same)")
    parser.add_argument("--output", type=Path, default=None, help="write the figures as JSON here")
    args = parser.parse_args(argv)
    set_seed(args.seed, reproducible=True)
    torch.set_num_threads(2)
    mnist = load_mnist(args.data_dir, args.source)
    train_index, valid_index = mnist.train_valid_split()
    train_index, valid_index = train_index[:args.digits], valid_index[:2000]
    digits = mnist.train_images[train_index].numpy()
    strokes, _ = canvas_variants(digits, seed=23)
    valid_digits = mnist.train_images[valid_index]
    valid_strokes = torch.from_numpy(canvas_variants(valid_digits.numpy(), seed=24)[0])
    valid_images = torch.cat([valid_digits, valid_strokes])
    valid_labels = torch.cat([mnist.train_labels[valid_index]] * 2)
    asked_families = {name: torch.from_numpy(drawings((name,), args.asked, seed=25)) for name in FAMILIES}
    train_digits = (torch.from_numpy(np.concatenate([digits, strokes])), mnist.train_labels[train_index].repeat(2))
    results = {}
    for held_out in folds_of(args.folds):
        network = trained_without(held_out, digits, strokes, mnist.train_labels[train_index],
                                  (valid_images, valid_labels), args.epochs)
        shares = caught_shares(network, train_digits, valid_images, asked_families, args.budgets)
        for score, by_family in shares.items():
            for name, share in by_family.items():
                entry = results.setdefault(score, {}).setdefault(name, {"seen": []})
                if name in held_out:
                    entry["held out"] = share
                else:
                    entry["seen"].append(share)
        first = next(iter(shares))
        print(f"fold without {', '.join(held_out)}, {first}: " + ", ".join(
            f"{name} {100 * shares[first][name]:.1f}%" for name in held_out), flush=True)
    print("\n| family | " + " | ".join(f"{score}: held out | {score}: seen" for score in results) + " |")
    print("|---|" + "---|---|" * len(results))
    for name in KINDS:
        cells = []
        for score in results:
            seen = results[score][name]["seen"]
            cells += [f"{100 * results[score][name]['held out']:.1f}%", f"{100 * np.mean(seen):.1f}%" if seen else "-"]
        print(f"| {name} | " + " | ".join(cells) + " |")
    for score in results:
        held = [results[score][name]["held out"] for name in KINDS]
        print(f"{score}: held-out kinds caught {100 * np.mean(held):.1f}% on average, worst "
              f"{100 * min(held):.1f}%")
    if args.output:
        args.output.write_text(json.dumps(results, indent=1))
    return results


if __name__ == "__main__":
    main()
