"""A TorchServe batch of requests: every symbol of every good request becomes one row of one tensor,
and each bad request keeps its own error."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import torch

from handler.mnist_answer import describe_symbol, request_answer
from handler.mnist_contract import MNIST_SIDE
from handler.mnist_errors import BadInput
from handler.mnist_explain import attributions_within_budget, explained_digits, explanation
from handler.mnist_payload import parse_request
from handler.mnist_preprocess import image_to_symbols, preview_png

log = logging.getLogger(__name__)


@dataclass
class PreparedRequest:
    first_row: int                              # where its symbols start in the batch's pixels
    boxes: list[tuple[int, int, int, int]]      # one per symbol, left to right
    want_preview: bool
    target: int | None                          # the digit to explain, if the client named one

    def rows(self) -> slice:
        return slice(self.first_row, self.first_row + len(self.boxes))


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
        return request, image_to_symbols(request.image)
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
            request, symbols = read_request(row)
        except BadInput as error:
            batch.errors[position] = error
            continue
        batch.requests[position] = PreparedRequest(len(tensors), [s.box for s in symbols], request.want_preview,
                                                   request.target)
        tensors.extend(symbol.pixels for symbol in symbols)
    if tensors:
        batch.pixels = torch.stack(tensors)
    return batch


def batch_answers(batch: PreparedBatch, outputs: torch.Tensor | None, non_digit_threshold: float) -> list[dict]:
    """One JSON-ready answer per request, in request order."""
    answers: list[dict] = [{} for _ in range(batch.size)]
    for position, error in batch.errors.items():
        answers[position] = {"error": str(error)}
    for position, request in batch.requests.items():
        symbols = []
        for offset, box in enumerate(request.boxes):
            row = request.first_row + offset
            symbol = describe_symbol(outputs[row], non_digit_threshold, box)
            if request.want_preview:
                symbol["preview"] = preview_png(batch.pixels[row])
            symbols.append(symbol)
        answers[position] = request_answer(symbols)
    return answers


def explanation_answers(batch: PreparedBatch, model: torch.nn.Module, network: torch.nn.Module,
                        non_digit_threshold: float) -> list[dict]:
    """The answers of ``batch_answers`` from the float ``model`` (a CalibratedDigitModel), each symbol
    with the explanation of its digit (or the client's target) by ``network``, which gives the
    model's logits (its ``network``, or a frozen copy of it, which computes the same faster)."""
    if not batch.requests:
        return batch_answers(batch, None, non_digit_threshold)
    pixels = batch.pixels.to(next(model.parameters()).device)
    with torch.inference_mode():
        outputs = model(pixels).cpu()
    answers = batch_answers(batch, outputs, non_digit_threshold)
    for position, request in batch.requests.items():
        rows = request.rows()
        targets = explained_digits(outputs[rows], request.target)
        attributions = attributions_within_budget(network, pixels[rows], targets.to(pixels.device))
        for symbol, attribution, target, fitted in zip(answers[position]["digits"], attributions, targets.tolist(),
                                                        batch.pixels[rows]):
            symbol["explanation"] = explanation(attribution, target, fitted, tuple(symbol["box"]))
    return answers
