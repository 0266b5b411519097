"""Numbers benchmark: how well the served path reads numbers written the ways people write them,
and what more symbols cost.

    python -m bench.number_benchmark [--numbers 200] [--singles 10000]      (make bench-numbers)

Accuracy: numbers of MNIST **validation** digits (never the test set) in each category of
``bench/number_cases`` (apart, tight, touching, overlapping, broken, slanted, mixed heights, 5-8
digits, a decimal point between two digits, a minus sign before them; five ink styles), read
through the handler's own modules in this process (payload → preprocessing and segmentation →
forward passes → reading → answer), exactly as a TorchServe worker reads them. Single digits: the
10,000 MNIST test digits each drawn alone on a canvas, and how many are answered as two or more
symbols (a digit cut in two); the test set chooses nothing, it only reports.

Latency: canvases of 1, 4 and 8 symbols posted one at a time to a private TorchServe.
"""

from __future__ import annotations

import argparse
import http.client
import statistics
import time
from collections import Counter
from urllib.parse import urlparse

import numpy as np
import torch

from bench.canvas_png import ink_png, number_canvas
from bench.loadgen import post
from bench.mnist_samples import mnist_test_set
from bench.number_cases import CATEGORIES, number_cases, single_digit_canvas, written
from handler.mnist_batch import batch_answers, prepare_batch, read_batch
from serving.settings import INT8_MODEL
from serving.torchserve import scratch_instance
from training.data import load_mnist

LATENCY_SYMBOLS = (1, 4, 8)
LATENCY_REQUESTS = 200


def validation_digits() -> tuple[np.ndarray, np.ndarray]:
    mnist = load_mnist()
    _, valid_index = mnist.train_valid_split()
    return mnist.train_images[valid_index].numpy(), mnist.train_labels[valid_index].numpy()


def read_answers(model: torch.jit.ScriptModule, canvases: list[bytes]) -> list[dict]:
    """The answer to each canvas, read by the handler's modules in this process."""
    threshold = float(model.non_digit_threshold)
    answers = []
    with torch.inference_mode():
        for canvas in canvases:
            batch = prepare_batch([{"body": canvas}])
            answers.append(batch_answers(batch, read_batch(batch, model), threshold)[0])
    return answers


def accuracy_by_category(model, images: np.ndarray, labels: np.ndarray, per_category: int,
                         seed: int) -> dict[str, float]:
    cases = number_cases(images, labels, per_category, seed)
    answers = read_answers(model, [case.png for case in cases])
    right, total = Counter(), Counter()
    for case, answer in zip(cases, answers):
        total[case.category] += 1
        right[case.category] += written(answer) == case.written
    return {category: right[category] / total[category] for category in CATEGORIES}


def single_digits_cut(model, count: int, seed: int) -> tuple[int, int]:
    """Of ``count`` MNIST test digits drawn alone, how many were answered as two or more symbols."""
    images, _ = mnist_test_set()
    rng = np.random.default_rng(seed)
    canvases = [single_digit_canvas(images[index], rng) for index in range(min(count, len(images)))]
    return sum(len(answer.get("digits", [])) >= 2 for answer in read_answers(model, canvases)), len(canvases)


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
    parser.add_argument("--numbers", type=int, default=200, help="numbers per category (default 200)")
    parser.add_argument("--singles", type=int, default=10000, help="test digits drawn alone (default 10000)")
    parser.add_argument("--no-latency", action="store_true", help="skip the TorchServe latency part")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    model = torch.jit.load(str(INT8_MODEL)).eval()
    images, labels = validation_digits()
    accuracy = accuracy_by_category(model, images, labels, args.numbers, args.seed)
    cut, singles = single_digits_cut(model, args.singles, args.seed)
    print(f"| category ({args.numbers} validation numbers each) | read exactly |")
    print("|---|---|")
    for category in CATEGORIES:
        print(f"| {category} | {100 * accuracy[category]:.1f}% |")
    print(f"\nsingle test digits drawn alone answered as 2+ symbols: {cut} of {singles} ({100 * cut / singles:.2f}%)")
    if args.no_latency:
        return
    with scratch_instance() as instance:
        medians = latencies(instance.predictions_url(), images)
    print("\n| symbols on the canvas | " + " | ".join(str(n) for n in LATENCY_SYMBOLS) + " |")
    print(f"|---|{'---|' * len(LATENCY_SYMBOLS)}")
    print("| TorchServe p50 (ms) | " + " | ".join(f"{medians[n]:.1f}" for n in LATENCY_SYMBOLS) + " |")
    print(f"\n8 symbols ÷ 1 symbol: {medians[8] / medians[1]:.2f}x")


if __name__ == "__main__":
    main()
