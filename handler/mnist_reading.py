"""Which candidate symbols make the reading of a drawing: the partition of its parts, left to
right, that the model finds most probable. Pure torch.

Each candidate covers parts ``first`` to ``stop``; a reading covers every part once. A candidate
scores the log-probability that it is its likeliest digit, from the model's calibrated outputs;
"not a digit" counts too, but as weak evidence (NOT_A_DIGIT_WEIGHT): a window that holds two
touching digits is confidently no digit, and must not win over the two digits it holds, while a
drawing that is no digit at all still reads as one. A reading scores the sum over its symbols,
plus a log prior per symbol that makes every extra symbol cost evidence (a single digit is not cut
in two unless both halves read as digits better than the whole). Dynamic programming over the
parts finds the best reading. The model's unfamiliarity column is not read here: cut parts and
joined pieces are unlike any whole training digit, so it would refuse every cut (mnist_answer reads
it for whole groups of ink only).
"""

from __future__ import annotations

import math

import torch

from handler.mnist_contract import NOT_A_DIGIT, NUM_DIGITS

# The log prior of one more symbol: a cut must raise the reading's probability 1/0.5 times.
SYMBOL_PRIOR = math.log(0.5)
# "Not a digit" as an answer for a candidate is worth this share of its probability.
NOT_A_DIGIT_WEIGHT = 0.1
# A group of ink read whole as a digit with at least this probability is not cut or joined.
SURE = 0.9
# A candidate that is not a whole group of ink (a cut part, or groups joined) is only read as a
# digit it is at least this sure of: a check mark or a face cut in two must not become "11".
PART_SURE = 0.9
# A closer look (finer cuts, where the reading holds a symbol more likely no digit) is taken
# only if it reads every symbol as a digit with at least this probability: finer parts of a drawing
# that is no digit (a hatching, a spiral) read as 1s and 7s more often. Chosen on validation
# numbers and non-digits of another draw than the benchmark's (seeds 5 and 7): 0.999 kept a third
# of the gain, 0.99 bought 1 point more of overlapping numbers for 0.3 points of non-digits caught;
# on the benchmark's draw 0.9 cost 1.8 points of non-digits (docs/RECOGNITION.md).
CLOSER_SURE = 0.995
# Probabilities are floored here before their logarithm: a 0 must not outweigh everything else.
FLOOR = 1e-6


def digit_probability(outputs: torch.Tensor) -> torch.Tensor:
    """Per row of the served model's outputs, P it is a digit times P of its likeliest digit."""
    return outputs[:, :NUM_DIGITS].max(dim=1).values * (1 - outputs[:, NOT_A_DIGIT])


def candidate_scores(outputs: torch.Tensor) -> torch.Tensor:
    """Per candidate, log P of its likeliest answer: a digit (P it is a digit times P of that
    digit) or, weighted down, not a digit. ``outputs`` are the served model's rows."""
    not_a_digit = NOT_A_DIGIT_WEIGHT * outputs[:, NOT_A_DIGIT]
    return torch.maximum(digit_probability(outputs), not_a_digit).clamp_min(FLOOR).log()


def all_sure(outputs: torch.Tensor, sure: float) -> bool:
    """Whether every row of ``outputs`` is a digit with at least probability ``sure``."""
    return bool((digit_probability(outputs) >= sure).all())


def any_no_digit(outputs: torch.Tensor) -> bool:
    """Whether a row of ``outputs`` is more likely no digit than a digit."""
    return bool((outputs[:, NOT_A_DIGIT] >= 0.5).any())


def doubtful_groups(outputs: torch.Tensor) -> set[int]:
    """The groups (rows of ``outputs``, one per group read whole) not surely one digit."""
    return set(torch.nonzero(digit_probability(outputs) < SURE).flatten().tolist())


def best_reading(spans: list[tuple[int, int]], wholes: list[bool], outputs: torch.Tensor) -> list[int]:
    """The candidates (indices into ``spans``) of the most probable reading, left to right. A
    candidate that is not a whole group (``wholes``) counts only if it is surely a digit."""
    if spans == [(part, part + 1) for part in range(len(spans))]:
        return list(range(len(spans)))  # one candidate per part (a first reading): nothing to choose
    sure = digit_probability(outputs) >= PART_SURE
    scores = torch.where(sure | torch.tensor(wholes), candidate_scores(outputs) + SYMBOL_PRIOR, -math.inf).tolist()
    parts = max(stop for _, stop in spans)
    best = [0.0] + [-math.inf] * parts
    chosen: list[int | None] = [None] * (parts + 1)
    ending = sorted(range(len(spans)), key=lambda index: spans[index][1])
    for index in ending:
        first, stop = spans[index]
        if best[first] + scores[index] > best[stop]:
            best[stop], chosen[stop] = best[first] + scores[index], index
    reading, at = [], parts
    while at > 0:
        reading.append(chosen[at])
        at = spans[chosen[at]][0]
    return reading[::-1]
