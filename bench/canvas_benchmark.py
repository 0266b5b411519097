"""Canvas benchmark: MNIST digits as canvas images, read by the served path.

    python -m bench.canvas_benchmark [--split test|validation] [--model FILE]      (make bench-canvas)

Each digit (the 10,000 test digits, or the 6,000 validation digits that choices are made on) is
drawn on a 280x280 canvas at a random size (100-260 pixels) and place, with its strokes as scanned,
thickened or thinned (a max or min filter scaled to the digit's size), in one of four ink styles:
dark ink on a transparent canvas (the page), light ink on black, dark ink on white, coloured ink on
transparent. Each image goes through the handler's own modules in this process (decode,
segmentation, MNIST-style fitting) and the int8 file a CPU worker serves (or ``--model``); it is
right when exactly one symbol is found and read as the digit. The test set is the final report:
nothing is chosen by its figures.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from bench.canvas_png import CANVAS_SIDE, STYLES, WEIGHTS, styled_canvas
from bench.number_benchmark import validation_digits
from handler.mnist_errors import BadInput
from handler.mnist_preprocess import image_to_symbols
from serving.settings import INT8_MODEL
from training.data import load_mnist


def random_rendering(rng: np.random.Generator) -> dict:
    box = int(rng.integers(100, 261))
    top, left = (int(v) for v in rng.integers(0, CANVAS_SIDE - box + 1, size=2))
    return {"box": box, "top": top, "left": left, "weight": WEIGHTS[int(rng.integers(len(WEIGHTS)))],
            "style": STYLES[int(rng.integers(len(STYLES)))]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", choices=("test", "validation"), default="test")
    parser.add_argument("--model", default=str(INT8_MODEL), help="TorchScript file (default: the shipped int8 one)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    model = torch.jit.load(args.model).eval()
    if args.split == "test":
        mnist = load_mnist()
        images, labels = mnist.test_images.numpy(), mnist.test_labels.numpy()
    else:
        images, labels = validation_digits()
    rng = np.random.default_rng(0)
    right: dict[str, list[bool]] = {name: [] for name in (*STYLES, *WEIGHTS)}
    with torch.inference_mode():
        for digit, label in zip(images, labels.tolist()):
            rendering = random_rendering(rng)
            try:
                symbols = image_to_symbols(styled_canvas(digit, **rendering))
            except BadInput:
                symbols = []
            ok = len(symbols) == 1 and int(model(symbols[0].pixels.unsqueeze(0))[0, :10].argmax()) == label
            right[rendering["style"]].append(ok)
            right[rendering["weight"]].append(ok)
    total = sum(sum(right[style]) for style in STYLES)
    print(f"MNIST {args.split} digits as canvas images read right: {total}/{len(labels)} = "
          f"{100 * total / len(labels):.2f}%")
    for name, results in right.items():
        print(f"  {name}: {100 * np.mean(results):.2f}% of {len(results)}")


if __name__ == "__main__":
    main()
