"""TorchServe handler for the MNIST digit model: thin hooks around ``mnist_batch``, for
``/predictions/mnist`` and ``/explanations/mnist``.

A batch of N requests always gets N answers: a request whose input is bad gets its own 4xx status
and ``{"error": ...}`` while the others in the same batch are predicted as usual.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import torch
from ts.torch_handler.base_handler import BaseHandler

from handler.mnist_batch import PreparedBatch, batch_answers, explanation_answers, prepare_batch, read_batch
from handler.mnist_contract import MODEL_VERSION_HEADER
from handler.mnist_device import INT8_ENGINE, choose_device, model_file
from handler.mnist_payload import JSON

log = logging.getLogger(__name__)


class MnistDigitHandler(BaseHandler):
    def initialize(self, context):
        properties = context.system_properties
        self.device = choose_device(properties.get("gpu_id"), torch.cuda.is_available())
        if self.device.type == "cpu":
            # One intra-op thread per worker: the network is small and thread hand-offs cost more
            # than they save (about 5x faster than the default on a 2-core machine).
            torch.set_num_threads(1)
        float_file = Path(properties["model_dir"]) / context.manifest["model"]["serializedFile"]
        model_path = model_file(float_file, self.device, torch.backends.quantized.supported_engines)
        if model_path != float_file:
            torch.backends.quantized.engine = INT8_ENGINE
        self.model = torch.jit.load(str(model_path), map_location=self.device).eval()
        # Explanations need gradients, which only the float file has; it is small enough to keep
        # loaded beside the int8 copy (docs/EXPLANATIONS.md measures the worker's memory).
        self.explainer = self.model if model_path == float_file else \
            torch.jit.load(str(float_file), map_location=self.device).eval()
        for parameter in self.explainer.parameters():
            parameter.requires_grad_(False)  # gradients with respect to the pixels only
        # Frozen (batch norm folded into the convolutions), the network's forward and backward passes
        # take about 17% less time for the same attributions (to 0.1% of the largest).
        self.explainer_network = torch.jit.freeze(self.explainer.statistics.network)
        log.info("serving %s on %s", model_path.name, self.device)
        # Chosen on validation data at training time and saved inside the model file.
        self.non_digit_threshold = float(self.model.non_digit_threshold)
        self.version = context.manifest["model"]["modelVersion"]
        self.initialized = True

    def handle(self, data, context):
        """Predictions, and explanations for the requests TorchServe marks as /explanations calls.

        Our own two modes, never BaseHandler's: its handle switches on request headers, and a
        client's ``describe: True`` made it answer 200 with the handler's description (null).
        Each request that cannot be read gets its own 4xx; the others are answered as usual.
        """
        self.context = context
        started = time.time()
        explaining = {position for position in range(len(data))
                      if context.get_request_header(position, "explain") == "True"}
        answers: list = [None] * len(data)
        for positions, answer in ((sorted(set(range(len(data))) - explaining), self.predictions),
                                  (sorted(explaining), self.explanations)):
            if not positions:
                continue
            batch = prepare_batch([data[position] for position in positions])
            for offset, error in batch.errors.items():
                context.set_response_status(error.status, str(error), positions[offset])
            for position, one in zip(positions, answer(batch)):
                answers[position] = one
        for position in range(len(data)):
            context.set_response_content_type(position, JSON)
            context.set_response_header(position, MODEL_VERSION_HEADER, self.version)
        context.metrics.add_time("HandlerTime", round((time.time() - started) * 1000, 2), None, "ms")
        return answers

    def predictions(self, batch: PreparedBatch) -> list[dict]:
        return batch_answers(batch, self.inference(batch), self.non_digit_threshold)

    def inference(self, batch: PreparedBatch, *args, **kwargs):
        """One forward pass for every group of ink of every request in the batch, and a second for
        the cut and joined candidates of those the model was not sure of."""
        with torch.inference_mode():
            return read_batch(batch, lambda pixels: self.model(pixels.to(self.device)).cpu())

    def explanations(self, batch: PreparedBatch) -> list[dict]:
        return explanation_answers(batch, self.explainer, self.explainer_network, self.non_digit_threshold)
