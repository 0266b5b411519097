"""Procedurally drawn non-digits: what people draw on a digit pad that is not a digit.

Every drawing is a stroke program of one family (scribbles, shapes, hatching, letters in several
hands, punctuation, signs, arrows, faces, signatures, dot clouds...) drawn with a round pen on a
112-pixel canvas and fitted by the handler's own ``mnist_style``, exactly as a canvas digit is. No
data set and no font: only code and a seed. Plain circles and single straight lines are left out
on purpose: they are how people write 0 and 1.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw

from handler.mnist_contract import MNIST_SIDE
from training.canvas_render import PEN_RATIO_RANGE, as_uint8, mnist_style

CANVAS = 112
MARGIN = 12

# Letters that no digit resembles, as strokes on a unit square (x right, y down). Letters a digit
# resembles (O, I, l, Z, S, B, G, b, q, g) are left out: people write digits that way.
LETTERS = {
    "A": [[(0.0, 1.0), (0.5, 0.0), (1.0, 1.0)], [(0.25, 0.55), (0.75, 0.55)]],
    "C": [[(1.0, 0.15), (0.7, 0.0), (0.3, 0.0), (0.0, 0.35), (0.0, 0.65), (0.3, 1.0), (0.7, 1.0), (1.0, 0.85)]],
    "E": [[(1.0, 0.0), (0.0, 0.0), (0.0, 1.0), (1.0, 1.0)], [(0.0, 0.5), (0.7, 0.5)]],
    "F": [[(1.0, 0.0), (0.0, 0.0), (0.0, 1.0)], [(0.0, 0.5), (0.7, 0.5)]],
    "H": [[(0.0, 0.0), (0.0, 1.0)], [(1.0, 0.0), (1.0, 1.0)], [(0.0, 0.5), (1.0, 0.5)]],
    "K": [[(0.0, 0.0), (0.0, 1.0)], [(1.0, 0.0), (0.0, 0.55), (1.0, 1.0)]],
    "M": [[(0.0, 1.0), (0.0, 0.0), (0.5, 0.6), (1.0, 0.0), (1.0, 1.0)]],
    "N": [[(0.0, 1.0), (0.0, 0.0), (1.0, 1.0), (1.0, 0.0)]],
    "P": [[(0.0, 1.0), (0.0, 0.0), (0.7, 0.0), (1.0, 0.2), (0.7, 0.45), (0.0, 0.45)]],
    "R": [[(0.0, 1.0), (0.0, 0.0), (0.7, 0.0), (1.0, 0.2), (0.7, 0.45), (0.0, 0.45), (1.0, 1.0)]],
    "T": [[(0.0, 0.0), (1.0, 0.0)], [(0.5, 0.0), (0.5, 1.0)]],
    "U": [[(0.0, 0.0), (0.0, 0.75), (0.3, 1.0), (0.7, 1.0), (1.0, 0.75), (1.0, 0.0)]],
    "V": [[(0.0, 0.0), (0.5, 1.0), (1.0, 0.0)]],
    "W": [[(0.0, 0.0), (0.25, 1.0), (0.5, 0.35), (0.75, 1.0), (1.0, 0.0)]],
    "X": [[(0.0, 0.0), (1.0, 1.0)], [(1.0, 0.0), (0.0, 1.0)]],
    "Y": [[(0.0, 0.0), (0.5, 0.5), (1.0, 0.0)], [(0.5, 0.5), (0.5, 1.0)]],
    "h": [[(0.0, 0.0), (0.0, 1.0)], [(0.0, 0.6), (0.4, 0.4), (0.8, 0.5), (0.9, 1.0)]],
    "k": [[(0.0, 0.0), (0.0, 1.0)], [(0.8, 0.4), (0.0, 0.75), (0.9, 1.0)]],
    "m": [[(0.0, 1.0), (0.0, 0.3)], [(0.0, 0.5), (0.25, 0.3), (0.45, 0.5), (0.5, 1.0)],
          [(0.5, 0.5), (0.75, 0.3), (0.95, 0.5), (1.0, 1.0)]],
    "n": [[(0.0, 1.0), (0.0, 0.2)], [(0.0, 0.45), (0.4, 0.2), (0.9, 0.4), (1.0, 1.0)]],
    "r": [[(0.0, 1.0), (0.0, 0.2)], [(0.0, 0.55), (0.4, 0.25), (1.0, 0.25)]],
    "v": [[(0.0, 0.2), (0.5, 1.0), (1.0, 0.2)]],
    "w": [[(0.0, 0.2), (0.2, 1.0), (0.5, 0.5), (0.8, 1.0), (1.0, 0.2)]],
    "x": [[(0.0, 0.2), (1.0, 1.0)], [(1.0, 0.2), (0.0, 1.0)]],
    "y": [[(0.0, 0.0), (0.5, 0.55)], [(1.0, 0.0), (0.2, 1.0)]],
}
# Mathematical and currency signs, built from strokes and arcs in ``signs``.
ARROW_HEAD = 0.3


def jitter(points: np.ndarray, rng: np.random.Generator, amount: float) -> np.ndarray:
    return points + rng.normal(0.0, amount, points.shape)


def arc(cx: float, cy: float, radius: float, start: float, stop: float, points: int = 24) -> np.ndarray:
    """An arc of a circle, angles in turns (0 is right, 0.25 is down)."""
    angles = np.linspace(start, stop, points) * 2 * math.pi
    return np.stack([cx + radius * np.cos(angles), cy + radius * np.sin(angles)], axis=1)


def dot(x: float, y: float) -> np.ndarray:
    """A dot: a stroke of no length, drawn as the pen's round cap."""
    return np.array([[x, y], [x, y]])


def line(*points: tuple[float, float]) -> np.ndarray:
    return np.array(points, dtype=float)


def in_a_hand(strokes: list[np.ndarray], rng: np.random.Generator) -> list[np.ndarray]:
    """Strokes as one person's hand draws them: slanted, jittered, and for some hands with the
    corners rounded off (resampled and smoothed)."""
    slant = rng.uniform(-0.35, 0.35)
    shear = np.array([[1.0, 0.0], [slant, 1.0]])
    rounded = rng.random() < 0.5
    drawn = []
    for stroke in strokes:
        stroke = jitter(stroke @ shear, rng, 0.025)
        if rounded and len(stroke) > 2:
            stroke = smoothed(stroke)
        drawn.append(stroke)
    return drawn


def smoothed(stroke: np.ndarray, passes: int = 3) -> np.ndarray:
    """Corners cut by Chaikin's algorithm: each pass replaces each corner by two points near it."""
    for _ in range(passes):
        inner = np.repeat(stroke, 2, axis=0)[1:-1].reshape(-1, 2, 2)
        cut = np.concatenate([0.75 * inner[:, 0] + 0.25 * inner[:, 1], 0.25 * inner[:, 0] + 0.75 * inner[:, 1]],
                             axis=1).reshape(-1, 2)
        stroke = np.vstack([stroke[:1], cut, stroke[-1:]])
    return stroke


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
    return in_a_hand([np.array(stroke, dtype=float) for stroke in LETTERS[name]], rng)


def blob(rng: np.random.Generator) -> list[np.ndarray]:
    """A filled-in shape: dense back-and-forth strokes, as when someone colours an area in."""
    rows = int(rng.integers(8, 16))
    y = np.repeat(np.linspace(0.0, 1.0, rows), 2)
    x = np.tile([0.0, 1.0, 1.0, 0.0], rows // 2 + 1)[:len(y)]
    return [jitter(np.stack([x, y * rng.uniform(0.5, 1.0)], axis=1), rng, 0.03)]


def punctuation(rng: np.random.Generator) -> list[np.ndarray]:
    """? ! ; : with their dots, which belong to the sign."""
    kind = rng.integers(4)
    if kind == 0:
        hook = np.vstack([arc(0.5, 0.25, 0.25, 0.5, 1.2), line((0.6, 0.5), (0.5, 0.62), (0.5, 0.75))])
        return in_a_hand([hook, dot(0.5, 0.97)], rng)
    if kind == 1:
        return in_a_hand([line((0.5, 0.0), (0.5, 0.72)), dot(0.5, 0.97)], rng)
    if kind == 2:
        return in_a_hand([dot(0.5, 0.3), line((0.52, 0.75), (0.5, 0.85), (0.4, 1.0))], rng)
    return in_a_hand([dot(0.5, 0.2), dot(0.5, 0.8)], rng)


def signs(rng: np.random.Generator) -> list[np.ndarray]:
    """+ − × ÷ = % $ € # *"""
    kind = rng.integers(10)
    shapes = [
        [line((0.5, 0.0), (0.5, 1.0)), line((0.0, 0.5), (1.0, 0.5))],
        [line((0.0, 0.5), (1.0, 0.5))],
        [line((0.0, 0.0), (1.0, 1.0)), line((1.0, 0.0), (0.0, 1.0))],
        [line((0.0, 0.5), (1.0, 0.5)), dot(0.5, 0.15), dot(0.5, 0.85)],
        [line((0.0, 0.3), (1.0, 0.3)), line((0.0, 0.7), (1.0, 0.7))],
        [line((0.9, 0.0), (0.1, 1.0)), arc(0.2, 0.2, 0.15, 0, 1), arc(0.8, 0.8, 0.15, 0, 1)],
        [np.vstack([arc(0.5, 0.3, 0.25, -0.05, -0.75), arc(0.5, 0.7, 0.25, -0.25, 0.45)]),
         line((0.5, -0.1), (0.5, 1.1))],
        [arc(0.6, 0.5, 0.45, 0.12, 0.88), line((0.0, 0.4), (0.7, 0.4)), line((0.0, 0.6), (0.7, 0.6))],
        LETTERS_OF_SIGNS["#"],
        LETTERS_OF_SIGNS["*"],
    ]
    return in_a_hand([np.array(stroke, dtype=float) for stroke in shapes[kind]], rng)


LETTERS_OF_SIGNS = {
    "#": [line((0.3, 0.0), (0.2, 1.0)), line((0.8, 0.0), (0.7, 1.0)), line((0.0, 0.33), (1.0, 0.33)),
          line((0.0, 0.7), (1.0, 0.7))],
    "*": [line((0.5, 0.0), (0.5, 1.0)), line((0.05, 0.25), (0.95, 0.75)), line((0.95, 0.25), (0.05, 0.75))],
}


def arrow(rng: np.random.Generator) -> list[np.ndarray]:
    """A straight or bent shaft with a head at its end, pointing any way."""
    shaft = line((0.0, 0.5), (1.0, 0.5)) if rng.random() < 0.6 else line((0.0, 0.9), (0.3, 0.2), (1.0, 0.5))
    tip, before = shaft[-1], shaft[-2]
    direction = (tip - before) / np.linalg.norm(tip - before)
    normal = np.array([-direction[1], direction[0]])
    head = np.vstack([tip - ARROW_HEAD * (direction - normal), tip, tip - ARROW_HEAD * (direction + normal)])
    turn = rng.integers(4) * math.pi / 2
    rotation = np.array([[math.cos(turn), -math.sin(turn)], [math.sin(turn), math.cos(turn)]])
    return in_a_hand([(s - 0.5) @ rotation.T + 0.5 for s in (shaft, head)], rng)


def check_mark(rng: np.random.Generator) -> list[np.ndarray]:
    """A tick: a short stroke down, a long one up."""
    return in_a_hand([line((0.0, 0.55), (0.3, 1.0), (1.0, rng.uniform(-0.1, 0.2)))], rng)


def face(rng: np.random.Generator) -> list[np.ndarray]:
    """A smiley (ring, eyes, mouth) or a heart."""
    if rng.random() < 0.5:
        mouth = arc(0.5, 0.5, 0.28, 0.1, 0.4) if rng.random() < 0.7 else arc(0.5, 0.95, 0.28, 0.6, 0.9)
        return in_a_hand([arc(0.5, 0.5, 0.5, 0, 1, 40), dot(0.33, 0.35), dot(0.67, 0.35), mouth], rng)
    t = np.linspace(0.0, 2 * math.pi, 80)  # the classic heart curve, y pointing down
    heart = np.stack([16 * np.sin(t) ** 3, -(13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t))],
                     axis=1)
    return in_a_hand([heart / 32 + 0.5], rng)


def signature(rng: np.random.Generator) -> list[np.ndarray]:
    """A cursive line of loops, as a signature or joined-up writing."""
    t = np.linspace(0.0, 1.0, 240)
    loops = rng.uniform(3, 7)
    size = rng.uniform(0.15, 0.35)
    x = t + size * 0.5 * np.sin(2 * math.pi * loops * t)
    y = 0.5 - size * np.cos(2 * math.pi * loops * t) + 0.1 * np.sin(2 * math.pi * rng.uniform(0.5, 1.5) * t)
    return [np.stack([x, y], axis=1)]


def rule_line(rng: np.random.Generator) -> list[np.ndarray]:
    """An underline or strike-through, alone or across a written word."""
    word = signature(rng)[0] * np.array([1.0, 0.6]) + np.array([0.0, 0.1])
    y = rng.choice([0.5, 0.85])
    strokes = [line((-0.05, y), (1.05, y + rng.uniform(-0.05, 0.05)))]
    if rng.random() < 0.3:
        strokes.append(line((-0.05, y + 0.08), (1.05, y + 0.08)))
    if rng.random() < 0.7:
        strokes.append(word)
    return [jitter(stroke, rng, 0.01) for stroke in strokes]


def dot_cloud(rng: np.random.Generator) -> list[np.ndarray]:
    """Dots scattered over an area: from a handful to dozens."""
    count = int(rng.integers(1, 60))
    return [dot(x, y) for x, y in rng.random((count, 2))]


def random_strokes(rng: np.random.Generator) -> list[np.ndarray]:
    """Two to five strokes of any kind at random places: segments, bent lines, arcs, small loops and
    dots. Not a kind people draw but a prior over what a pen can draw, so that "not a digit" is
    learnt from more than the kinds someone wrote a generator for (docs/RECOGNITION.md)."""
    strokes = []
    for _ in range(int(rng.integers(2, 6))):
        kind = rng.integers(5)
        if kind == 0:
            strokes.append(rng.random((2, 2)))
        elif kind == 1:
            strokes.append(rng.random((int(rng.integers(3, 5)), 2)))
        elif kind == 2:
            start = rng.random()
            centre, radius = rng.uniform(0.2, 0.8, 2), rng.uniform(0.15, 0.5)
            strokes.append(arc(*centre, radius, start, start + rng.uniform(0.25, 0.75)))
        elif kind == 3:
            strokes.append(arc(*rng.uniform(0.1, 0.9, 2), rng.uniform(0.05, 0.2), 0, 1))
        else:
            strokes.append(dot(*rng.random(2)))
    return in_a_hand(strokes, rng)


# Each family of drawings, by name; its kinds (below) are the unit of leave-kinds-out (docs/RECOGNITION.md).
FAMILIES = {
    "scribbles": scribble, "polygons": polygon, "hatching": hatching, "zigzags": zigzag, "spirals": spiral,
    "letters": letter, "blobs": blob, "punctuation": punctuation, "signs": signs, "arrows": arrow,
    "check marks": check_mark, "faces": face, "signatures": signature, "rule lines": rule_line,
    "dot clouds": dot_cloud, "random strokes": random_strokes,
}
# Drawn for every model, never held out by leave-kinds-out: the prior, not a kind.
ALWAYS_TRAINED = ("random strokes",)
# The kinds of drawing a person makes, each measured on its own (leave-kinds-out, bench-open-set).
KINDS = tuple(name for name in FAMILIES if name not in ALWAYS_TRAINED)


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


def drawn_ink(family: str, rng: np.random.Generator) -> np.ndarray:
    """One drawing of ``family`` as canvas ink, (112, 112) float32 in [0, 1], before any fitting."""
    strokes = placed(FAMILIES[family](rng), rng)
    pen_width = rng.uniform(*PEN_RATIO_RANGE) * (CANVAS - 2 * MARGIN)
    return draw(strokes, pen_width)


def non_digits(count: int, seed: int, families: tuple[str, ...] = tuple(FAMILIES)) -> np.ndarray:
    """``count`` non-digit drawings of ``families`` in turn, (count, 28, 28) uint8, MNIST-fitted like
    a canvas digit."""
    rng = np.random.default_rng(seed)
    drawings = np.empty((count, MNIST_SIDE, MNIST_SIDE), dtype=np.uint8)
    for index in range(count):
        drawings[index] = as_uint8(mnist_style(drawn_ink(families[index % len(families)], rng)))
    return drawings
