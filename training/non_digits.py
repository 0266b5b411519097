"""Procedurally drawn non-digits: what people draw on a digit pad that is not a digit.

Every drawing is a stroke program (scribbles, shapes, hatching, letters, symbols) drawn with a
round pen on a 112-pixel canvas and fitted by the handler's own ``mnist_style``, exactly as a
canvas digit is. No data set and no font: only code and a seed. Plain circles and single
straight lines are left out on purpose: they are how people write 0 and 1.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw

from handler.mnist_contract import MNIST_SIDE
from training.canvas_render import PEN_RATIO_RANGE, as_uint8, mnist_style

CANVAS = 112
MARGIN = 12

# Letters that no digit resembles, as strokes on a unit square (x right, y down).
LETTERS = {
    "A": [[(0.0, 1.0), (0.5, 0.0), (1.0, 1.0)], [(0.25, 0.55), (0.75, 0.55)]],
    "E": [[(1.0, 0.0), (0.0, 0.0), (0.0, 1.0), (1.0, 1.0)], [(0.0, 0.5), (0.7, 0.5)]],
    "F": [[(1.0, 0.0), (0.0, 0.0), (0.0, 1.0)], [(0.0, 0.5), (0.7, 0.5)]],
    "H": [[(0.0, 0.0), (0.0, 1.0)], [(1.0, 0.0), (1.0, 1.0)], [(0.0, 0.5), (1.0, 0.5)]],
    "K": [[(0.0, 0.0), (0.0, 1.0)], [(1.0, 0.0), (0.0, 0.55), (1.0, 1.0)]],
    "M": [[(0.0, 1.0), (0.0, 0.0), (0.5, 0.6), (1.0, 0.0), (1.0, 1.0)]],
    "N": [[(0.0, 1.0), (0.0, 0.0), (1.0, 1.0), (1.0, 0.0)]],
    "T": [[(0.0, 0.0), (1.0, 0.0)], [(0.5, 0.0), (0.5, 1.0)]],
    "V": [[(0.0, 0.0), (0.5, 1.0), (1.0, 0.0)]],
    "W": [[(0.0, 0.0), (0.25, 1.0), (0.5, 0.35), (0.75, 1.0), (1.0, 0.0)]],
    "X": [[(0.0, 0.0), (1.0, 1.0)], [(1.0, 0.0), (0.0, 1.0)]],
    "Y": [[(0.0, 0.0), (0.5, 0.5), (1.0, 0.0)], [(0.5, 0.5), (0.5, 1.0)]],
    "#": [[(0.3, 0.0), (0.2, 1.0)], [(0.8, 0.0), (0.7, 1.0)], [(0.0, 0.33), (1.0, 0.33)], [(0.0, 0.7), (1.0, 0.7)]],
    "+": [[(0.5, 0.0), (0.5, 1.0)], [(0.0, 0.5), (1.0, 0.5)]],
    "=": [[(0.0, 0.3), (1.0, 0.3)], [(0.0, 0.7), (1.0, 0.7)]],
    "*": [[(0.5, 0.0), (0.5, 1.0)], [(0.05, 0.25), (0.95, 0.75)], [(0.95, 0.25), (0.05, 0.75)]],
}


def jitter(points: np.ndarray, rng: np.random.Generator, amount: float) -> np.ndarray:
    return points + rng.normal(0.0, amount, points.shape)


def placed(strokes: list[np.ndarray], rng: np.random.Generator) -> list[np.ndarray]:
    """Strokes on a unit square, rotated a little, stretched, and fitted inside the canvas."""
    angle = rng.uniform(-0.4, 0.4)
    rotation = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    stretch = np.array([rng.uniform(0.6, 1.4), rng.uniform(0.6, 1.4)])
    moved = [((s - 0.5) * stretch) @ rotation.T for s in strokes]
    every = np.concatenate(moved)
    low, high = every.min(axis=0), every.max(axis=0)
    scale = (CANVAS - 2 * MARGIN) / max(float((high - low).max()), 1e-6)
    return [(s - low) * scale + MARGIN for s in moved]


def scribble(rng: np.random.Generator) -> list[np.ndarray]:
    """A long wandering line with many turns, smoothed."""
    count = rng.integers(10, 25)
    steps = rng.normal(0.0, 1.0, (count, 2)).cumsum(axis=0)
    fine = np.linspace(0, count - 1, count * 6)
    smooth = np.stack([np.interp(fine, np.arange(count), steps[:, axis]) for axis in (0, 1)], axis=1)
    return [smooth]


def polygon(rng: np.random.Generator) -> list[np.ndarray]:
    """A triangle, a square or a star outline, closed (five or more plain sides look like a 0)."""
    star = rng.random() < 0.4
    sides = int(rng.choice([5, 6])) if star else int(rng.choice([3, 4]))
    angles = np.linspace(0, 2 * math.pi, sides * (2 if star else 1), endpoint=False) + rng.uniform(0, math.pi)
    radii = np.where(np.arange(len(angles)) % 2 == 1, 0.45, 1.0) if star else np.ones(len(angles))
    points = np.stack([np.cos(angles) * radii, np.sin(angles) * radii], axis=1)
    return [jitter(np.vstack([points, points[:1]]), rng, 0.03)]


def hatching(rng: np.random.Generator) -> list[np.ndarray]:
    """Parallel lines, sometimes crossed by a second set."""
    count = int(rng.integers(3, 8))
    offsets = np.linspace(0.0, 1.0, count)
    lines = [np.array([[0.0, o], [1.0, o + rng.uniform(-0.1, 0.1)]]) for o in offsets]
    if rng.random() < 0.5:
        lines += [np.array([[o, 0.0], [o + rng.uniform(-0.1, 0.1), 1.0]]) for o in offsets]
    return [jitter(line, rng, 0.02) for line in lines]


def zigzag(rng: np.random.Generator) -> list[np.ndarray]:
    """A zigzag or a wave of several periods: more turns than any digit."""
    teeth = int(rng.integers(4, 9))
    x = np.linspace(0.0, 1.0, teeth * (8 if rng.random() < 0.5 else 1) + 1)
    y = 0.5 + 0.5 * (np.sin(x * teeth * math.pi) if len(x) > teeth + 1 else (np.arange(len(x)) % 2 - 0.5))
    return [np.stack([x, y * rng.uniform(0.2, 0.6)], axis=1)]


def spiral(rng: np.random.Generator) -> list[np.ndarray]:
    turns = rng.uniform(2.0, 4.0)
    t = np.linspace(0.0, turns * 2 * math.pi, 200)
    radius = t / t[-1]
    return [np.stack([radius * np.cos(t), radius * np.sin(t)], axis=1)]


def letter(rng: np.random.Generator) -> list[np.ndarray]:
    name = list(LETTERS)[rng.integers(len(LETTERS))]
    return [jitter(np.array(stroke, dtype=float), rng, 0.04) for stroke in LETTERS[name]]


def blob(rng: np.random.Generator) -> list[np.ndarray]:
    """A filled-in shape: dense back-and-forth strokes, as when someone colours an area in."""
    rows = int(rng.integers(8, 16))
    y = np.repeat(np.linspace(0.0, 1.0, rows), 2)
    x = np.tile([0.0, 1.0, 1.0, 0.0], rows // 2 + 1)[:len(y)]
    return [jitter(np.stack([x, y * rng.uniform(0.5, 1.0)], axis=1), rng, 0.03)]


GENERATORS = (scribble, polygon, hatching, zigzag, spiral, letter, blob)


def draw(strokes: list[np.ndarray], pen_width: float) -> np.ndarray:
    image = Image.new("F", (CANVAS, CANVAS), 0.0)
    pen = ImageDraw.Draw(image)
    radius = pen_width / 2
    for stroke in strokes:
        points = [tuple(p) for p in stroke]
        pen.line(points, fill=1.0, width=max(1, round(pen_width)), joint="curve")
        for x, y in (points[0], points[-1]):  # round caps, as a canvas pen with lineCap "round"
            pen.ellipse((x - radius, y - radius, x + radius, y + radius), fill=1.0)
    return np.asarray(image, dtype=np.float32)


def non_digits(count: int, seed: int) -> np.ndarray:
    """``count`` non-digit drawings, (count, 28, 28) uint8, MNIST-fitted like a canvas digit."""
    rng = np.random.default_rng(seed)
    drawings = np.empty((count, MNIST_SIDE, MNIST_SIDE), dtype=np.uint8)
    for index in range(count):
        generator = GENERATORS[index % len(GENERATORS)]
        strokes = placed(generator(rng), rng)
        pen_width = rng.uniform(*PEN_RATIO_RANGE) * (CANVAS - 2 * MARGIN)
        drawings[index] = as_uint8(mnist_style(draw(strokes, pen_width)))
    return drawings
