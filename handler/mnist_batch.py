"""A TorchServe batch of requests: each good request's groups of ink become rows of one tensor, read
in one forward pass, and each bad request keeps its own error. Where the model is not sure a group
is one digit (two touching digits, a broken one), the request's cut and joined candidates are read
in a second pass over the batch, and its reading is the most probable choice among them
(``mnist_reading``); where that reading still holds a symbol that is more likely no digit, a third
pass reads finer cuts of the same groups."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from handler.mnist_answer import describe_symbol, request_answer
from handler.mnist_contract import MNIST_SIDE
from handler.mnist_cuts import COARSE, FINE, CutRules
from handler.mnist_errors import BadInput
from handler.mnist_explain import attributions_within_budget, explained_digits, explanation
from handler.mnist_payload import parse_request
from handler.mnist_preprocess import Drawing, FittedSymbol, preview_png, read_drawing
from handler.mnist_reading import CLOSER_SURE, all_sure, any_no_digit, best_reading, doubtful_groups

log = logging.getLogger(__name__)


@dataclass
class PreparedRequest:
    drawing: Drawing
    first_row: int                              # where its candidates start in the batch's pixels
    boxes: list[tuple[int, int, int, int]]      # one per candidate symbol
    spans: list[tuple[int, int]]                # the parts of the drawing each candidate covers
    wholes: list[bool]                          # whether each candidate is one whole group of ink
    marks: list[str | None]                     # each candidate's mark (a decimal point, a minus), if any
    want_preview: bool
    target: int | None                          # the digit to explain, if the client named one
    doubtful: set[int] = field(default_factory=set)  # the groups cut or joined to make the candidates

    @classmethod
    def of(cls, drawing: Drawing, first_row: int, symbols: list[FittedSymbol], want_preview: bool,
           target: int | None, doubtful: set[int] | None = None) -> PreparedRequest:
        return cls(drawing, first_row, [s.box for s in symbols], [s.span for s in symbols],
                   [s.whole for s in symbols], [s.mark for s in symbols], want_preview, target, doubtful or set())

    def rows(self) -> slice:
        return slice(self.first_row, self.first_row + len(self.boxes))

    def reading(self, outputs: torch.Tensor) -> list[int]:
        """The batch rows of the symbols read, left to right, from the outputs of all rows."""
        return [self.first_row + index for index in best_reading(self.spans, self.wholes, outputs[self.rows()])]

    def symbol_rows(self, outputs: torch.Tensor) -> list[int]:
        """The batch rows of the symbols read, left to right, but its marks (a decimal point, a minus)."""
        return [row for row in self.reading(outputs) if self.marks[row - self.first_row] is None]

    def holds_no_digit(self, outputs: torch.Tensor) -> bool:
        """Whether a symbol of the reading (not a mark) is more likely no digit than a digit."""
        return any_no_digit(outputs[self.symbol_rows(outputs)])

    def surely_digits(self, outputs: torch.Tensor, sure: float) -> bool:
        """Whether every symbol of the reading but its marks is a digit with at least probability ``sure``."""
        return all_sure(outputs[self.symbol_rows(outputs)], sure)


@dataclass
class PreparedBatch:
    size: int
    pixels: torch.Tensor = field(default_factory=lambda: torch.empty(0, 1, MNIST_SIDE, MNIST_SIDE))
    requests: dict[int, PreparedRequest] = field(default_factory=dict)   # position -> good request
    errors: dict[int, BadInput] = field(default_factory=dict)            # position -> what was wrong


def read_request(row: dict):
    """One request's options and symbols; any failure on its input is that request's own 400."""
    try:
        request = parse_request(row)
        return request, read_drawing(request.image)
    except BadInput:
        raise
    except Exception as error:  # noqa: BLE001 - hostile input must not fail the other requests of the batch
        log.warning("request refused: %s: %s", type(error).__name__, error)
        raise BadInput(f"the request could not be read ({type(error).__name__})") from None


def prepare_batch(rows: list[dict]) -> PreparedBatch:
    batch = PreparedBatch(size=len(rows))
    tensors: list[torch.Tensor] = []
    for position, row in enumerate(rows):
        try:
            request, drawing = read_request(row)
            symbols = drawing.wholes()
        except BadInput as error:
            batch.errors[position] = error
            continue
        batch.requests[position] = PreparedRequest.of(drawing, len(tensors), symbols, request.want_preview,
                                                      request.target)
        tensors.extend(symbol.pixels for symbol in symbols)
    if tensors:
        batch.pixels = torch.stack(tensors)
    return batch


def another_look(batch: PreparedBatch, rules: CutRules,
                 doubtful_of: Callable[[PreparedRequest], set[int]]) -> dict[int, PreparedRequest]:
    """Each request with doubtful groups (``doubtful_of`` names them; none: it needs no other look)
    read again from new candidates: those groups cut by ``rules`` and joined to close neighbours.
    Their pixels are appended to the batch's; the requests they would make are returned by position,
    for the caller to adopt. A request whose candidates would be those it has, or whose cutting
    fails, keeps its reading."""
    added: list[torch.Tensor] = []
    looked: dict[int, PreparedRequest] = {}
    for position, request in batch.requests.items():
        doubtful = doubtful_of(request) if request.drawing.reason is None else set()
        if not doubtful:
            continue
        try:
            candidates = request.drawing.segmentation.candidates(doubtful, rules)
            if len(candidates) == len(request.drawing.segmentation.groups):
                continue  # nothing to cut or join: the first reading stands
            symbols = request.drawing.fitted(candidates)
        except Exception as error:  # noqa: BLE001 - one drawing's odd cut must not fail the batch
            log.warning("another look skipped: %s: %s", type(error).__name__, error)
            continue  # the reading it has stands
        looked[position] = PreparedRequest.of(request.drawing, len(batch.pixels) + len(added), symbols,
                                              request.want_preview, request.target, doubtful)
        added.extend(symbol.pixels for symbol in symbols)
    if added:
        batch.pixels = torch.cat([batch.pixels, torch.stack(added)])
    return looked


def with_added_rows(outputs: torch.Tensor, batch: PreparedBatch,
                    forward: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """``outputs`` followed by the model's outputs for the batch's rows added since (none: as they are)."""
    if len(outputs) == len(batch.pixels):
        return outputs
    return torch.cat([outputs, forward(batch.pixels[len(outputs):])])


def read_batch(batch: PreparedBatch, forward: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor | None:
    """The model's outputs (``forward``) for every row of the batch, those of other looks included.

    First each group of ink is read whole. Requests with a group the model is not sure is one digit
    are read again from their coarse cuts and joins (``COARSE``), and that reading stands. Requests
    whose reading still holds a symbol that is more likely no digit get a closer look (``FINE`` cuts
    of the same groups), which they take only if it reads every symbol surely as a digit."""
    if not batch.requests:
        return None
    wholes = forward(batch.pixels)
    batch.requests.update(another_look(batch, COARSE, lambda request: doubtful_groups(wholes[request.rows()])))
    coarse = with_added_rows(wholes, batch, forward)
    closer = another_look(batch, FINE, lambda request: request.doubtful
                          if request.doubtful and request.holds_no_digit(coarse) else set())
    outputs = with_added_rows(coarse, batch, forward)
    batch.requests.update({position: request for position, request in closer.items()
                           if request.surely_digits(outputs, CLOSER_SURE)})
    return outputs


def batch_answers(batch: PreparedBatch, outputs: torch.Tensor | None, non_digit_threshold: float) -> list[dict]:
    """One JSON-ready answer per request, in request order, from the outputs of every batch row."""
    answers: list[dict] = [{} for _ in range(batch.size)]
    for position, error in batch.errors.items():
        answers[position] = {"error": str(error)}
    for position, request in batch.requests.items():
        symbols = []
        for row in request.reading(outputs):
            candidate = row - request.first_row
            symbol = describe_symbol(outputs[row], non_digit_threshold, request.boxes[candidate],
                                     request.wholes[candidate], request.marks[candidate])
            if request.want_preview:
                symbol["preview"] = preview_png(batch.pixels[row])
            symbols.append(symbol)
        answers[position] = request_answer(symbols, request.drawing.reason)
    return answers


def explanation_answers(batch: PreparedBatch, model: torch.nn.Module, network: torch.nn.Module,
                        non_digit_threshold: float) -> list[dict]:
    """The answers of ``batch_answers`` from the float ``model`` (a CalibratedDigitModel), each symbol
    with the explanation of its digit (or the client's target) by ``network``, which gives the
    model's logits (its ``network``, or a frozen copy of it, which computes the same faster)."""
    if not batch.requests:
        return batch_answers(batch, None, non_digit_threshold)
    device = next(model.parameters()).device
    with torch.inference_mode():
        outputs = read_batch(batch, lambda pixels: model(pixels.to(device)).cpu())
    pixels = batch.pixels.to(device)
    answers = batch_answers(batch, outputs, non_digit_threshold)
    for position, request in batch.requests.items():
        rows = request.reading(outputs)
        targets = explained_digits(outputs[rows], request.target)
        attributions = attributions_within_budget(network, pixels[rows], targets.to(pixels.device))
        for symbol, attribution, target, fitted in zip(answers[position]["digits"], attributions, targets.tolist(),
                                                        batch.pixels[rows]):
            symbol["explanation"] = explanation(attribution, target, fitted, tuple(symbol["box"]))
    return answers
