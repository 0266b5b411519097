"""Where a request's time goes in process: each stage of preparing a canvas PNG, the forward pass
and the answer, for each ink style.

    python -m bench.prepare_profile [--repeats 5]      (make bench-prepare)

The handler's own path (``prepare_batch``, the int8 forward pass or two, ``batch_answers``, the JSON text)
runs on 64 canvas PNGs of real MNIST test digits in each of the four ink styles, one torch thread.
Each stage is timed where the handler calls it, by wrapping the function it calls, so the table
follows the code as it is; a stage's time excludes the stages it calls (decoding excludes the
container checks it starts with). Times are this thread's CPU time, mean milliseconds per request:
means add up to the total, and CPU time stays steady while other work shares the machine.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict
from collections.abc import Callable
from contextlib import contextmanager

import torch

import handler.mnist_batch
import handler.mnist_preprocess
from bench.canvas_png import STYLES
from bench.loadgen import sample_pngs
from handler.mnist_batch import batch_answers, prepare_batch, read_batch
from serving.settings import INT8_MODEL

# (module, function it calls, stage name), in the order a request meets them.
STAGES = ((handler.mnist_batch, "parse_request", "parse the body"),
          (handler.mnist_preprocess, "check_structure", "container checks"),
          (handler.mnist_preprocess, "decode_image", "decode"),
          (handler.mnist_preprocess, "gray_and_alpha", "grey and alpha"),
          (handler.mnist_preprocess, "ink_map", "ink map"),
          (handler.mnist_preprocess, "split_symbols", "segmentation"),
          (handler.mnist_preprocess, "mnist_style", "fit to 28x28"))
REST_OF_PREPARE = "the rest of prepare_batch"
FORWARD, ANSWER, ANSWER_JSON = "int8 forward passes", "answer", "answer JSON"


class StageClock:
    """CPU time per stage, each stage's own: time spent in a stage it calls is that stage's."""

    def __init__(self) -> None:
        self.spent: dict[str, float] = defaultdict(float)
        self.running: list[list] = []  # [stage, started, time in the stages it called]

    @contextmanager
    def stage(self, name: str):
        self.running.append([name, time.thread_time(), 0.0])
        try:
            yield
        finally:
            stage, started, inner = self.running.pop()
            total = time.thread_time() - started
            self.spent[stage] += total - inner
            if self.running:
                self.running[-1][2] += total

    def timed(self, name: str, function: Callable) -> Callable:
        def wrapper(*args, **kwargs):
            with self.stage(name):
                return function(*args, **kwargs)
        return wrapper


@contextmanager
def stages_timed(clock: StageClock):
    """The handler's stage functions wrapped with ``clock`` where the handler looks them up; restored on leaving."""
    originals = [(module, name, getattr(module, name)) for module, name, _ in STAGES]
    for (module, name, original), (_, _, stage) in zip(originals, STAGES):
        setattr(module, name, clock.timed(stage, original))
    try:
        yield
    finally:
        for module, name, original in originals:
            setattr(module, name, original)


def profile_style(model: torch.jit.ScriptModule, pngs: list[bytes], repeats: int) -> tuple[dict[str, float], float]:
    """Mean CPU ms per request by stage, and the mean number of candidate symbols per request."""
    threshold = float(model.non_digit_threshold)
    clock, rows = StageClock(), 0
    with stages_timed(clock), torch.inference_mode():
        for _ in range(repeats):
            for png in pngs:
                with clock.stage(REST_OF_PREPARE):
                    batch = prepare_batch([{"body": png}])
                with clock.stage(FORWARD):
                    outputs = read_batch(batch, model)
                with clock.stage(ANSWER):
                    answers = batch_answers(batch, outputs, threshold)
                with clock.stage(ANSWER_JSON):
                    json.dumps(answers[0])
                rows += len(batch.pixels)
    requests = repeats * len(pngs)
    return {stage: 1000 * seconds / requests for stage, seconds in clock.spent.items()}, rows / requests


def table(by_style: dict[str, tuple[dict[str, float], float]]) -> str:
    stages = [name for _, _, name in STAGES] + [REST_OF_PREPARE, FORWARD, ANSWER, ANSWER_JSON]
    lines = ["| stage | " + " | ".join(STYLES) + " |", "|---|" + "---|" * len(STYLES)]
    for stage in stages:
        cells = []
        for style in STYLES:
            spent = by_style[style][0]
            share = 100 * spent.get(stage, 0.0) / sum(spent.values())
            cells.append(f"{spent.get(stage, 0.0):.3f} ({share:.0f}%)")
        lines.append(f"| {stage} | " + " | ".join(cells) + " |")
    lines.append("| **total** | " + " | ".join(f"**{sum(by_style[s][0].values()):.3f}**" for s in STYLES) + " |")
    lines.append("| candidate symbols per request | " + " | ".join(f"{by_style[s][1]:.2f}" for s in STYLES) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5, help="passes over the 64 PNGs of each style")
    args = parser.parse_args()
    torch.set_num_threads(1)
    model = torch.jit.load(str(INT8_MODEL)).eval()
    by_style = {}
    for style in STYLES:
        pngs = sample_pngs(style=style)
        profile_style(model, pngs, 1)  # warm-up: first calls load code and fill caches
        by_style[style] = profile_style(model, pngs, args.repeats)
    print("CPU ms per request (share of the total), mean over "
          f"{args.repeats} x 64 canvas PNGs per ink style, one torch thread:\n")
    print(table(by_style))


if __name__ == "__main__":
    main()
