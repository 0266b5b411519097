"""The parts the handler's own cutter makes of touching and overlapping pairs, labelled by whose ink
they hold.

The reader (``handler.mnist_reading``) cuts a doubtful group of ink and keeps a cut only when the
model is sure of both parts. A part cut out of overlapping digits has a bite out of it, or a sliver
of its neighbour, and a model that never saw such parts reads them unsurely, so the right cut
loses. Here two training digits are written into each other, the handler's segmentation
(``mnist_segment.split_symbols`` and ``Segmentation.candidates``) proposes every candidate it would
read, by the coarse cuts of its second reading and by the fine cuts of its closer look
(``mnist_cuts.COARSE`` and ``FINE``), and each candidate is labelled by the ink it holds: nearly all
of one digit and little else is that digit; a good share of both is "not a digit" (a wrong cut must
lose). Candidates in between, a fragment of one digit, are left out: a 9's loop alone is fitted as
a 0, and calling it no digit would teach the model that some 0s are not digits.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from handler.mnist_contract import MNIST_SIDE, NOT_A_DIGIT
from handler.mnist_cuts import COARSE, FINE
from handler.mnist_preprocess import INK_THRESHOLD, mnist_style
from handler.mnist_segment import Candidate, split_symbols
from training.canvas_render import as_uint8
from training.digit_pairs import ink_width, layers, placement

# The 28-pixel renderings are enlarged this many times before cutting: the cutter's rules are in
# shares of the line's height, but a cut a pixel wide is coarse on a 20-pixel digit.
CUT_SCALE = 3
# A candidate is its digit when at least PURE of its ink is that digit's and it holds at least
# COVERED of that digit's ink; it is "not a digit" when the lesser digit holds at least MIXED of it.
PURE = 0.85
COVERED = 0.8
MIXED = 0.25
# At most this many mixtures are kept per pair, and one candidate of each of its digits, so that
# one pair does not dominate and both its digits are seen.
MIXTURES_PER_PAIR = 1


def enlarged(image: np.ndarray, ratio: float) -> np.ndarray:
    side = max(8, round(MNIST_SIDE * CUT_SCALE * ratio))
    return np.asarray(Image.fromarray(image).resize((side, side), Image.Resampling.BILINEAR))


def ink_shares(candidate: Candidate, owners: list[np.ndarray]) -> np.ndarray:
    """How many of the candidate's inked pixels belong to each digit (``owners``: one boolean map
    per digit, the shape of the ink map the candidate was cut from)."""
    left, top = candidate.symbol.origin
    inked = candidate.symbol.ink > INK_THRESHOLD
    window = (slice(top, top + inked.shape[0]), slice(left, left + inked.shape[1]))
    return np.array([np.count_nonzero(inked & owner[window]) for owner in owners])


def labelled(candidates: list[Candidate], owners: list[np.ndarray], labels: tuple[int, int],
             rng: np.random.Generator) -> list[tuple[Candidate, int]]:
    """The candidates worth training on, with their labels (at most one of each digit and
    MIXTURES_PER_PAIR mixtures, drawn at random)."""
    totals = np.array([np.count_nonzero(owner) for owner in owners])
    digits: list[list[tuple[Candidate, int]]] = [[] for _ in owners]
    mixtures = []
    for candidate in candidates:
        shares = ink_shares(candidate, owners)
        held = shares.sum()
        if held == 0:
            continue
        major = int(shares.argmax())
        if shares[major] >= PURE * held and shares[major] >= COVERED * totals[major]:
            digits[major].append((candidate, labels[major]))
        elif shares.min() >= MIXED * held:
            mixtures.append((candidate, NOT_A_DIGIT))
    kept = []
    for found, most in ((digits[0], 1), (digits[1], 1), (mixtures, MIXTURES_PER_PAIR)):
        for index in rng.permutation(len(found))[:most]:
            kept.append(found[index])
    return kept


def distinct(candidates: list[Candidate]) -> list[Candidate]:
    """``candidates`` without repeats (the coarse and the fine cuts share the whole groups, and may
    share a cut): a repeated candidate would be drawn more often than the others."""
    seen, kept = set(), []
    for candidate in candidates:
        key = (candidate.symbol.box, candidate.symbol.ink.tobytes())
        if key not in seen:
            seen.add(key)
            kept.append(candidate)
    return kept


def pair_parts(first: np.ndarray, second: np.ndarray, labels: tuple[int, int],
               rng: np.random.Generator) -> list[tuple[np.ndarray, int]]:
    """Two 28x28 uint8 digits written into each other at a random overlap, height and offset, cut as
    the handler cuts them: the fitted 28x28 uint8 candidates kept, with their labels."""
    ratio, share, offset_share = placement(rng)
    left, right = enlarged(first, 1.0), enlarged(second, ratio)
    narrower = min(ink_width(left), ink_width(right))
    inks = layers(left, right, round(share * narrower), round(offset_share * left.shape[0]))
    ink = np.maximum(*inks)
    owners = [(layer > INK_THRESHOLD) & (layer >= other) for layer, other in (inks, inks[::-1])]
    segmentation = split_symbols(ink, INK_THRESHOLD)
    every_group = set(range(len(segmentation.groups)))
    candidates = distinct([*segmentation.candidates(every_group, COARSE), *segmentation.candidates(every_group, FINE)])
    return [(as_uint8(mnist_style(candidate.symbol.ink)), label)
            for candidate, label in labelled(candidates, owners, labels, rng)]


def cut_part_examples(renderings: np.ndarray, labels: np.ndarray, pairs: int,
                      seed: int) -> tuple[np.ndarray, np.ndarray]:
    """From (V, N, 28, 28) uint8 renderings of N digits and their labels, ``pairs`` random pairs
    (each from one rendering) cut into parts: (M, 28, 28) uint8 images and (M,) int64 labels."""
    rng = np.random.default_rng(seed)
    views, digits = renderings.shape[:2]
    images, answers = [], []
    for _ in range(pairs):
        view = int(rng.integers(views))
        first, second = rng.integers(digits, size=2)
        for image, label in pair_parts(renderings[view, first], renderings[view, second],
                                       (int(labels[first]), int(labels[second])), rng):
            images.append(image)
            answers.append(label)
    if not images:
        return np.zeros((0, MNIST_SIDE, MNIST_SIDE), dtype=np.uint8), np.zeros(0, dtype=np.int64)
    return np.stack(images), np.array(answers, dtype=np.int64)
