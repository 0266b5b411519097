"""Open-set benchmark: drawings that are not digits, as canvases through the served path, per family.

    python -m bench.open_set_benchmark [--per-family 200]      (make bench-open-set)

Each kind of ``training/non_digits.py`` (not its random strokes, a training prior) is drawn anew
(a seed no training set uses), scaled to a 280-pixel canvas and sent in one of five ink styles
through the handler's own modules in this process, with the int8 model: the share answered
``is_digit: false`` per family. The hand-drawn non-digits of ``bench/mnist_samples`` (no sample
of the generator) are reported the same way. Against them, the share of validation digits drawn
alone that are flagged as no digit. These are kinds the shipped model trained on (other drawings
of them); how far "not a digit" reaches kinds it never saw is measured by
``training/leave_kinds_out.py``.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from PIL import Image

from bench.canvas_png import CANVAS_SIDE, styled_ink
from bench.mnist_samples import non_digit_drawings
from bench.number_benchmark import read_answers, validation_digits
from bench.number_cases import INK_STYLES, single_digit_canvas
from serving.settings import INT8_MODEL
from training.non_digits import KINDS, drawn_ink

SEED = 31


def family_canvas(family: str, rng: np.random.Generator) -> bytes:
    ink = Image.fromarray(drawn_ink(family, rng), mode="F").resize((CANVAS_SIDE, CANVAS_SIDE),
                                                                     Image.Resampling.BILINEAR)
    pixels = np.clip(np.asarray(ink) * 255, 0, 255).astype(np.uint8)
    return styled_ink(pixels, INK_STYLES[int(rng.integers(len(INK_STYLES)))])


def caught(model, canvases: list[bytes]) -> float:
    return float(np.mean([answer.get("is_digit") is False for answer in read_answers(model, canvases)]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-family", type=int, default=200)
    parser.add_argument("--digits", type=int, default=2000, help="validation digits drawn alone")
    args = parser.parse_args()
    torch.set_num_threads(1)
    model = torch.jit.load(str(INT8_MODEL)).eval()
    rng = np.random.default_rng(SEED)
    print(f"| family ({args.per_family} canvases each) | answered not a digit |")
    print("|---|---|")
    shares = []
    for family in KINDS:
        shares.append(caught(model, [family_canvas(family, rng) for _ in range(args.per_family)]))
        print(f"| {family} | {100 * shares[-1]:.1f}% |", flush=True)
    hand_drawn = non_digit_drawings()
    print(f"| hand-drawn ({len(hand_drawn)}: {', '.join(hand_drawn)}) | "
          f"{100 * caught(model, list(hand_drawn.values())):.1f}% |")
    images, _ = validation_digits()
    flagged = caught(model, [single_digit_canvas(images[i], rng) for i in range(args.digits)])
    print(f"\nall families: {100 * np.mean(shares):.1f}% caught; validation digits drawn alone flagged: "
          f"{100 * flagged:.2f}% of {args.digits}")


if __name__ == "__main__":
    main()
