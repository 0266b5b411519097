"""A TorchServe batch of requests: the good ones become one tensor, the bad ones keep their error."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from mnist_errors import BadInput
from mnist_payload import parse_request
from mnist_preprocess import MNIST_SIDE, image_to_tensor, preview_png

TOP_K = 3


@dataclass
class PreparedBatch:
    size: int
    pixels: torch.Tensor = field(default_factory=lambda: torch.empty(0, 1, MNIST_SIDE, MNIST_SIDE))
    good_rows: list[int] = field(default_factory=list)          # positions of the good requests
    want_preview: list[bool] = field(default_factory=list)      # one per good request
    errors: dict[int, BadInput] = field(default_factory=dict)   # position -> what was wrong


def prepare_batch(rows: list[dict]) -> PreparedBatch:
    batch = PreparedBatch(size=len(rows))
    tensors = []
    for position, row in enumerate(rows):
        try:
            request = parse_request(row)
            tensors.append(image_to_tensor(request.image))
        except BadInput as error:
            batch.errors[position] = error
            continue
        batch.good_rows.append(position)
        batch.want_preview.append(request.want_preview)
    if tensors:
        batch.pixels = torch.stack(tensors)
    return batch


def describe_prediction(probabilities: torch.Tensor) -> dict:
    top = torch.topk(probabilities, TOP_K)
    return {
        "digit": int(top.indices[0]),
        "confidence": round(float(top.values[0]), 6),
        "probabilities": [round(float(p), 6) for p in probabilities],
        "top3": [{"digit": int(d), "probability": round(float(p), 6)} for p, d in zip(top.values, top.indices)],
    }


def batch_answers(batch: PreparedBatch, probabilities: torch.Tensor | None) -> list[dict]:
    """One JSON-ready answer per request, in request order."""
    answers: list[dict] = [{} for _ in range(batch.size)]
    for position, error in batch.errors.items():
        answers[position] = {"error": str(error)}
    for index, position in enumerate(batch.good_rows):
        answers[position] = describe_prediction(probabilities[index])
        if batch.want_preview[index]:
            answers[position]["preview"] = preview_png(batch.pixels[index])
    return answers
