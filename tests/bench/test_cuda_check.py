"""bench/cuda_check's worker, on the CPU: the archive built from the sources, loaded by TorchServe's own
model loader and called with its own request context (no Java), as the GPU check calls it."""

from __future__ import annotations

import numpy as np
import torch

from bench.canvas_png import ink_png
from bench.cuda_check import handle, handler_of, load_worker, unpacked_archive
from bench.mnist_samples import one_of_each_digit
from bench.number_cases import single_digit_canvas


def test_a_worker_loaded_by_torchserve_answers_each_request_of_a_batch_by_itself(tmp_path):
    worker = load_worker(unpacked_archive(tmp_path), gpu_id=None)
    assert handler_of(worker).device == torch.device("cpu")

    digit, image = one_of_each_digit()[7]
    canvas = single_digit_canvas(image, np.random.default_rng(0))
    empty = ink_png(np.zeros((120, 120), dtype=np.uint8))
    (read, answer), (empty_status, empty_answer), (text_status, _) = handle(worker, [canvas, empty, b"plain text"])
    assert (read, answer["digit"], answer["is_digit"]) == (200, digit, True)
    assert (empty_status, text_status) == (400, 400) and "error" in empty_answer

    explained_status, explained = handle(worker, [canvas], explain=True)[0]
    assert explained_status == 200 and explained["digits"][0]["explanation"]["target"] == digit
