"""Numbers benchmark: how well the served path reads numbers, and what more symbols cost.

    python -m bench.number_benchmark [--numbers 300]      (make bench-numbers)

Accuracy: numbers of 1 to 6 MNIST **validation** digits (never the test set), written left to
right on a canvas with random size, gaps and vertical jitter (bench/canvas_png.number_canvas),
read through the handler's own modules in this process (payload → preprocessing and segmentation
→ one forward pass → answer), exactly as a TorchServe worker reads them. Exact-number accuracy
by length; 1-digit "numbers" are the single-digit figure, which segmentation must not lower.
Touching digits: how often a pair whose ink touches is read as one symbol (the documented limit).

Latency: canvases of 1, 4 and 8 symbols posted one at a time to a private TorchServe.
"""

from __future__ import annotations

import argparse
import http.client
import statistics
import time
from urllib.parse import urlparse

import numpy as np
import torch
from scipy import ndimage

from bench.canvas_png import ink_png, number_canvas
from bench.loadgen import post
from handler.mnist_batch import batch_answers, prepare_batch
from serving.settings import INT8_MODEL
from serving.torchserve import scratch_instance
from training.data import load_mnist

LENGTHS = (1, 2, 3, 4, 5, 6)
LATENCY_SYMBOLS = (1, 4, 8)
LATENCY_REQUESTS = 200
TOUCHING_PAIRS = 300


def validation_digits() -> tuple[np.ndarray, np.ndarray]:
    mnist = load_mnist()
    _, valid_index = mnist.train_valid_split()
    return mnist.train_images[valid_index].numpy(), mnist.train_labels[valid_index].numpy()


def read_numbers(model: torch.jit.ScriptModule, canvases: list[bytes]) -> list[str]:
    """The ``number`` of each canvas's answer, read by the handler's modules in this process."""
    threshold = float(model.non_digit_threshold)
    numbers = []
    with torch.inference_mode():
        for canvas in canvases:
            batch = prepare_batch([{"body": canvas}])
            outputs = model(batch.pixels) if batch.requests else None
            numbers.append(batch_answers(batch, outputs, threshold)[0].get("number", ""))
    return numbers


def accuracy_by_length(images: np.ndarray, labels: np.ndarray, per_length: int, seed: int) -> dict[int, float]:
    model = torch.jit.load(str(INT8_MODEL)).eval()
    rng = np.random.default_rng(seed)
    accuracy = {}
    for length in LENGTHS:
        canvases, expected = [], []
        for case in range(per_length):
            picked = rng.integers(0, len(labels), length)
            canvas = number_canvas([images[i] for i in picked], height=int(rng.integers(100, 200)),
                                   gap=int(rng.integers(10, 60)), jitter=int(rng.integers(0, 30)), seed=case)
            canvases.append(ink_png(canvas))
            expected.append("".join(str(label) for label in labels[picked]))
        read = read_numbers(model, canvases)
        accuracy[length] = sum(r == e for r, e in zip(read, expected)) / per_length
    return accuracy


def touching_pairs_read_as_one(images: np.ndarray, seed: int) -> tuple[int, float]:
    """Of random validation pairs written with overlapping columns, those whose ink touches: how
    many there were, and the share read as a single symbol."""
    rng = np.random.default_rng(seed)
    touching = []
    while len(touching) < TOUCHING_PAIRS:
        picked = rng.integers(0, len(images), 2)
        canvas = number_canvas([images[i] for i in picked], height=150, gap=int(rng.integers(-15, 0)))
        if ndimage.label(canvas > 25, structure=np.ones((3, 3)))[1] == 1:
            touching.append(ink_png(canvas))
    single = sum(len(prepare_batch([{"body": canvas}]).pixels) == 1 for canvas in touching)
    return len(touching), single / len(touching)


def latencies(url: str, images: np.ndarray) -> dict[int, float]:
    parsed = urlparse(url)
    connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30)
    medians = {}
    for count in LATENCY_SYMBOLS:
        canvases = [ink_png(number_canvas([images[(start + k) % len(images)] for k in range(count)], height=60,
                                          gap=25)) for start in range(20)]
        for canvas in canvases[:5]:
            post(connection, parsed.path, canvas)  # warm-up
        timings = []
        for i in range(LATENCY_REQUESTS):
            started = time.perf_counter()
            status, answer = post(connection, parsed.path, canvases[i % len(canvases)])
            timings.append((time.perf_counter() - started) * 1000)
            if status != 200 or len(answer.get("digits", [])) != count:
                raise RuntimeError(f"{count}-symbol canvas: HTTP {status}, {len(answer.get('digits', []))} symbols")
        medians[count] = statistics.median(timings)
    return medians


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--numbers", type=int, default=300, help="numbers per length (default 300)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    images, labels = validation_digits()
    accuracy = accuracy_by_length(images, labels, args.numbers, args.seed)
    pairs, read_as_one = touching_pairs_read_as_one(images, args.seed)
    with scratch_instance() as instance:
        medians = latencies(instance.predictions_url(), images)
    print(f"| digits in the number | {' | '.join(str(n) for n in LENGTHS)} |")
    print(f"|---|{'---|' * len(LENGTHS)}")
    print(f"| read exactly ({args.numbers} numbers each) | "
          + " | ".join(f"{100 * accuracy[n]:.1f}%" for n in LENGTHS) + " |")
    two_to_four = statistics.mean(accuracy[n] for n in (2, 3, 4))
    print(f"\n2-4 digits together: {100 * two_to_four:.1f}% read exactly")
    print(f"touching pairs read as one symbol: {100 * read_as_one:.1f}% of {pairs}")
    print("\n| symbols on the canvas | " + " | ".join(str(n) for n in LATENCY_SYMBOLS) + " |")
    print(f"|---|{'---|' * len(LATENCY_SYMBOLS)}")
    print("| TorchServe p50 (ms) | " + " | ".join(f"{medians[n]:.1f}" for n in LATENCY_SYMBOLS) + " |")
    print(f"\n8 symbols ÷ 1 symbol: {medians[8] / medians[1]:.2f}x")


if __name__ == "__main__":
    main()
