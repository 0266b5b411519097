"""Real MNIST test digits for the tests, from the verified cache (filled by `make data`), and drawn non-digits."""

from __future__ import annotations

import functools
import io
import math

import numpy as np
from PIL import Image, ImageDraw

from training.data import load_mnist


@functools.lru_cache(maxsize=1)
def mnist_test_set() -> tuple[np.ndarray, np.ndarray]:
    """(10000, 28, 28) uint8 images and (10000,) labels of the MNIST test set."""
    mnist = load_mnist()
    return mnist.test_images.numpy(), mnist.test_labels.numpy()


def one_of_each_digit() -> list[tuple[int, np.ndarray]]:
    images, labels = mnist_test_set()
    return [(digit, images[int(np.flatnonzero(labels == digit)[0])]) for digit in range(10)]


def drawn_png(strokes: list[list[tuple[float, float]]], width: int = 18, side: int = 280) -> bytes:
    """Dark strokes on a white canvas, drawn with a round pen, as a PNG."""
    image = Image.new("L", (side, side), 255)
    pen = ImageDraw.Draw(image)
    for stroke in strokes:
        pen.line(stroke, fill=0, width=width, joint="curve")
        for x, y in (stroke[0], stroke[-1]):
            pen.ellipse((x - width / 2, y - width / 2, x + width / 2, y + width / 2), fill=0)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def non_digit_drawings() -> dict[str, bytes]:
    """Things people draw on a digit pad that are not digits, drawn here by hand-written coordinates
    (not by training/non_digits.py, so they are no sample of the training generator)."""
    spiral = [(140 + t * 3 * math.cos(t), 140 + t * 3 * math.sin(t)) for t in np.linspace(0, 13, 120)]
    wave = [(30 + x, 140 + 40 * math.sin(x / 18)) for x in range(0, 220, 4)]
    star = [(140 + (100 if k % 2 == 0 else 40) * math.cos(k * math.pi / 5 - math.pi / 2),
             140 + (100 if k % 2 == 0 else 40) * math.sin(k * math.pi / 5 - math.pi / 2)) for k in range(11)]
    return {
        "star": drawn_png([star]),
        "spiral": drawn_png([spiral]),
        "wave": drawn_png([wave]),
        "hash": drawn_png([[(110, 40), (90, 240)], [(190, 40), (170, 240)], [(40, 100), (240, 100)],
                           [(40, 180), (240, 180)]]),
        "letter A": drawn_png([[(50, 240), (140, 40), (230, 240)], [(90, 160), (190, 160)]]),
        "letter W": drawn_png([[(30, 50), (80, 230), (140, 90), (200, 230), (250, 50)]]),
        "triangle": drawn_png([[(140, 40), (240, 230), (40, 230), (140, 40)]]),
        "cross-hatching": drawn_png([[(40, y), (240, y + 10)] for y in range(40, 240, 30)]
                                    + [[(x, 40), (x + 10, 240)] for x in range(40, 240, 30)]),
        "question mark": drawn_png([[(90, 90), (110, 50), (150, 40), (185, 65), (180, 110), (140, 140), (140, 190)],
                                    [(140, 235), (140, 235)]]),
        "smiley": drawn_png([[(140 + 100 * math.cos(t), 140 + 100 * math.sin(t)) for t in np.linspace(0, 6.3, 60)],
                             [(105, 110), (105, 110)], [(175, 110), (175, 110)],
                             [(140 + 55 * math.cos(t), 140 + 55 * math.sin(t)) for t in np.linspace(0.5, 2.6, 20)]]),
        "heart": drawn_png([[(140 + 6 * 16 * math.sin(t) ** 3,
                              130 - 6 * (13 * math.cos(t) - 5 * math.cos(2 * t) - 2 * math.cos(3 * t) - math.cos(4 * t)))
                             for t in np.linspace(0, 6.3, 80)]]),
    }
