"""TorchServe handler for the MNIST digit model: thin hooks around ``mnist_batch``.

A batch of N requests always gets N answers: a request whose input is bad gets its own 4xx status
and ``{"error": ...}`` while the others in the same batch are predicted as usual.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import torch
from ts.torch_handler.base_handler import BaseHandler

from handler.mnist_batch import batch_answers, prepare_batch
from handler.mnist_device import INT8_ENGINE, choose_device, model_file
from handler.mnist_payload import JSON

log = logging.getLogger(__name__)
EXPLANATIONS_REFUSED = ("this model gives predictions only: POST the image to /predictions/mnist "
                        "(/explanations is not available)")


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
        log.info("serving %s on %s", model_path.name, self.device)
        # Chosen on validation data at training time and saved inside the model file.
        self.non_digit_threshold = float(self.model.non_digit_threshold)
        self.initialized = True

    def handle(self, data, context):
        """Always a prediction, whatever headers the client sent.

        BaseHandler.handle switches modes on request headers: a client's ``describe: True`` made it
        answer 200 with the handler's description (null) instead of a prediction, and ``explain:
        True``, which TorchServe sets on /explanations calls, reached an unimplemented get_insights.
        """
        self.context = context
        started = time.time()
        explanations = [position for position in range(len(data))
                        if context.get_request_header(position, "explain") == "True"]
        rows = [{} if position in explanations else row for position, row in enumerate(data)]
        answers = self.postprocess(self.inference(self.preprocess(rows)))
        self.refuse_explanations(answers, explanations)
        context.metrics.add_time("HandlerTime", round((time.time() - started) * 1000, 2), None, "ms")
        return answers

    def refuse_explanations(self, answers: list, positions: list[int]) -> None:
        for position in positions:
            self.context.set_response_status(404, EXPLANATIONS_REFUSED, position)
            answers[position] = {"error": EXPLANATIONS_REFUSED}

    def preprocess(self, data):
        return prepare_batch(data)

    def inference(self, batch, *args, **kwargs):
        """One forward pass for every symbol of every request in the batch."""
        if not batch.requests:
            return batch, None
        with torch.inference_mode():
            outputs = self.model(batch.pixels.to(self.device))
        return batch, outputs.cpu()

    def postprocess(self, data):
        batch, outputs = data
        for position, error in batch.errors.items():
            self.context.set_response_status(error.status, str(error), position)
        for position in range(batch.size):
            self.context.set_response_content_type(position, JSON)
        return batch_answers(batch, outputs, self.non_digit_threshold)
