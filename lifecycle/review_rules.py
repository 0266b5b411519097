"""Which pending corrections may be accepted without a person: only where evidence independent of
the one client who sent it agrees. Everything else waits for review (docs/LIFECYCLE.md).

- "second choice": the model was unsure and its own second choice, with real probability, is the
  correction (every symbol the correction changes).
- "agreeing clients": two different addresses gave the same label to near-identical drawings (the
  same symbols, fitted by the handler's own preprocessing), and the model found the label plausible.

Both ask the model to agree a little, because an attacker controls the labels and, with many
addresses, the clients: a clear 3 labelled 8 has next to no probability of being an 8.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable

import numpy as np

from corrections.store import Correction

SECOND_CHOICE = "rule:second-choice"
AGREEING_CLIENTS = "rule:agreeing-clients"
# The corrected digit's probability in the served answer for "second choice" (an unsure model) ...
SECOND_CHOICE_FLOOR = 0.2
# ... and for "agreeing clients" (a label the model does not rule out).
PLAUSIBLE_FLOOR = 0.01
# Mean absolute difference of two fitted 28x28 symbols (pixels in 0-1) below which they are one drawing.
NEAR_IDENTICAL = 0.04


def changed_symbols(correction: Correction) -> list[tuple[list[float], int]] | None:
    """Each symbol the correction changes: its ten served probabilities and the corrected digit;
    None when the correction cannot be matched to the answer's symbols one for one."""
    answer = json.loads(correction.served_answer)
    symbols = answer.get("digits") or []
    if len(symbols) != len(correction.correction):
        return None
    return [(symbol["probabilities"], int(digit)) for symbol, digit in zip(symbols, correction.correction)
            if symbol["digit"] != int(digit) or not symbol["is_digit"]]


def second_choice_agrees(correction: Correction) -> bool:
    changed = changed_symbols(correction)
    if not changed:
        return False
    for probabilities, digit in changed:
        ranked = sorted(range(len(probabilities)), key=lambda d: -probabilities[d])
        if ranked[1] != digit or probabilities[digit] < SECOND_CHOICE_FLOOR:
            return False
    return True


def plausible(correction: Correction) -> bool:
    changed = changed_symbols(correction)
    return bool(changed) and all(probabilities[digit] >= PLAUSIBLE_FLOOR for probabilities, digit in changed)


def near_identical(first: np.ndarray, second: np.ndarray) -> bool:
    return first.shape == second.shape and float(np.abs(first - second).mean()) < NEAR_IDENTICAL


def agreeing_clients(pending: list[Correction], symbols_of: Callable[[bytes], np.ndarray]) -> set[int]:
    """Ids of plausible corrections that another address matched: same label, near-identical drawing.
    ``symbols_of(image)`` is the drawing's fitted symbols, (S, 28, 28) in 0-1."""
    by_label: dict[str, list[Correction]] = defaultdict(list)
    for correction in pending:
        if plausible(correction):
            by_label[correction.correction].append(correction)
    agreed: set[int] = set()
    for group in by_label.values():
        drawings = {c.id: symbols_of(c.image) for c in group}
        for index, first in enumerate(group):
            for second in group[index + 1:]:
                if first.client_hash != second.client_hash and near_identical(drawings[first.id], drawings[second.id]):
                    agreed.update((first.id, second.id))
    return agreed


def accepted_by_rule(pending: list[Correction], symbols_of: Callable[[bytes], np.ndarray]) -> dict[int, str]:
    """The pending corrections a rule accepts, each with the rule's name."""
    accepted = {c.id: SECOND_CHOICE for c in pending if second_choice_agrees(c)}
    for correction_id in sorted(agreeing_clients([c for c in pending if c.id not in accepted], symbols_of)):
        accepted[correction_id] = AGREEING_CLIENTS
    return accepted
