"""The image sets of one training run, built once from MNIST and the non-digit generator.

Training, calibration, evaluation and int8 quantization all read these, so each set is rendered
once and every stage measures the same images. The test set is rendered too, for reporting only:
nothing is chosen on it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from handler.mnist_contract import NOT_A_DIGIT
from training.canvas_render import canvas_variants
from training.cut_parts import cut_part_examples
from training.data import Mnist
from training.digit_pairs import digit_pairs
from training.familiarity import kept_for_bank
from training.non_digits import FAMILIES, non_digits

QUICK_TRAIN_IMAGES = 512
QUICK_TEST_IMAGES = 1000
# A smaller run draws one generated non-digit and one digit pair per this many training digits.
QUICK_DIGITS_PER_DRAWN = 8
# Each split's canvas renderings from its own seed.
RENDERING_SEEDS = {"train": 10, "valid": 11, "test": 12}
# Generated non-digits per split (count, seed), every family in turn; "report" is held out from
# everything and reported per family.
NON_DIGITS = {"train": (9000, 1), "valid": (1500, 2), "report": (3000, 3)}
# Touching and overlapping pairs of the split's own digits, labelled "not a digit" (count, seed).
PAIRS = {"train": (5000, 4), "valid": (1000, 5), "report": (1000, 6)}
# Touching and overlapping pairs of training digits cut by the handler's cutter; the parts that hold
# one digit are labelled that digit, those that hold much of both "not a digit" (pairs, seed).
CUT_PAIRS = (6000, 7)


@dataclass(frozen=True)
class RunSets:
    """Every image is (N, 28, 28) uint8, light on dark; labels are int64."""
    train_renderings: torch.Tensor  # (3, N, 28, 28): MNIST scans, pen strokes, reweighted; cut parts and
                                    # non-digits appended
    train_labels: torch.Tensor      # (N,) with NOT_A_DIGIT for the appended non-digits
    train_digits: int               # how many of the first renderings are MNIST training digits
    valid_digits: torch.Tensor
    valid_strokes: torch.Tensor     # the same digits redrawn as canvas pen strokes
    valid_labels: torch.Tensor
    test_images: torch.Tensor
    test_strokes: torch.Tensor
    test_labels: torch.Tensor
    non_digits: dict[str, torch.Tensor]  # "train", "valid", "report": generated drawings, then pairs
    report_families: dict[str, torch.Tensor]  # the "report" drawings by family, and the report pairs

    def digit_sets(self) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        """The labelled digit sets a served model is reported on."""
        return {"validation": (self.valid_digits, self.valid_labels),
                "canvas-style validation": (self.valid_strokes, self.valid_labels),
                "MNIST test": (self.test_images, self.test_labels),
                "canvas-style test": (self.test_strokes, self.test_labels)}

    def non_digit_sets(self) -> dict[str, torch.Tensor]:
        return {"validation non-digits": self.non_digits["valid"], "held-out non-digits": self.non_digits["report"],
                **{f"held-out {name}": images for name, images in self.report_families.items()}}

    def bank_digits(self) -> torch.Tensor:
        """The training digits a drawing's familiarity is measured against (training/familiarity.py):
        some of the MNIST training digits, scanned or redrawn as pen strokes."""
        scanned_and_drawn = self.train_renderings[:2, :self.train_digits].flatten(0, 1)
        return scanned_and_drawn[kept_for_bank(len(scanned_and_drawn))]

    def validation_set(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Scans, their canvas redrawing and non-digits: the checkpoint kept is the best at all three."""
        images = torch.cat([self.valid_digits, self.valid_strokes, self.non_digits["valid"]])
        return images, torch.cat([self.valid_labels, self.valid_labels, not_a_digit_labels(self.non_digits["valid"])])

    def calibration_set(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The validation digits, scanned and redrawn: what temperature and threshold are fitted on."""
        return torch.cat([self.valid_digits, self.valid_strokes]), torch.cat([self.valid_labels, self.valid_labels])


def not_a_digit_labels(images: torch.Tensor) -> torch.Tensor:
    return torch.full((len(images),), NOT_A_DIGIT, dtype=torch.long)


def in_every_view(images: np.ndarray) -> np.ndarray:
    """Images drawn once, as the same image in each of the three training renderings."""
    return np.broadcast_to(images, (3, *images.shape))


def smaller(counts: dict[str, tuple[int, int]], train_images: int) -> dict[str, tuple[int, int]]:
    """The (count, seed) of each split of a smaller run of ``train_images`` training digits."""
    return {split: (train_images // QUICK_DIGITS_PER_DRAWN, seed) for split, (_, seed) in counts.items()}


def build_sets(mnist: Mnist, train_images: int | None = None) -> RunSets:
    """Every set of a run: the whole training split, or (for quick runs) its first ``train_images``
    digits, half as many validation digits, QUICK_TEST_IMAGES test digits and fewer drawings."""
    train_index, valid_index = mnist.train_valid_split()
    test_images, test_labels = mnist.test_images, mnist.test_labels
    drawn_counts, pair_counts, cut_pairs = NON_DIGITS, PAIRS, CUT_PAIRS
    if train_images is not None:
        train_index, valid_index = train_index[:train_images], valid_index[:train_images // 2]
        test_images, test_labels = test_images[:QUICK_TEST_IMAGES], test_labels[:QUICK_TEST_IMAGES]
        drawn_counts, pair_counts = smaller(NON_DIGITS, train_images), smaller(PAIRS, train_images)
        cut_pairs = (train_images // QUICK_DIGITS_PER_DRAWN, CUT_PAIRS[1])
    train_digits, valid_digits = mnist.train_images[train_index].numpy(), mnist.train_images[valid_index].numpy()
    train_strokes, train_reweighted = canvas_variants(train_digits, RENDERING_SEEDS["train"])
    valid_strokes, _ = canvas_variants(valid_digits, RENDERING_SEEDS["valid"])
    test_strokes, _ = canvas_variants(test_images.numpy(), RENDERING_SEEDS["test"])
    drawn = {split: non_digits(count, seed) for split, (count, seed) in drawn_counts.items()}
    digits_of = {"train": np.stack([train_digits, train_strokes, train_reweighted]), "valid": valid_strokes[None],
                 "report": test_strokes[None]}
    pairs = {split: digit_pairs(digits_of[split], count, seed)
             for split, (count, seed) in pair_counts.items()}
    parts, part_labels = cut_part_examples(digits_of["train"], mnist.train_labels[train_index].numpy(), *cut_pairs)
    train_renderings = np.concatenate([digits_of["train"], in_every_view(parts),
                                       in_every_view(drawn["train"]), pairs["train"]], axis=1)
    every_family = len(FAMILIES)
    report_families = {name: torch.from_numpy(drawn["report"][index::every_family])
                       for index, name in enumerate(FAMILIES)}
    report_families["touching digit pairs"] = torch.from_numpy(pairs["report"][0])
    not_digits = {split: torch.from_numpy(np.concatenate([drawn[split], pairs[split][0]])) for split in drawn}
    return RunSets(
        train_renderings=torch.from_numpy(train_renderings),
        train_labels=torch.cat([mnist.train_labels[train_index], torch.from_numpy(part_labels),
                                not_a_digit_labels(torch.from_numpy(train_renderings[0, len(train_index) + len(parts):]))]),
        train_digits=len(train_index),
        valid_digits=torch.from_numpy(valid_digits), valid_strokes=torch.from_numpy(valid_strokes),
        valid_labels=mnist.train_labels[valid_index],
        test_images=test_images, test_strokes=torch.from_numpy(test_strokes), test_labels=test_labels,
        non_digits=not_digits, report_families=report_families,
    )
