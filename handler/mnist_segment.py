"""Split the ink of one drawing into its written symbols, left to right. Pure numpy and scipy.

1. connected pieces of ink (8-connected);
2. drop specks: pieces with a tiny share of the ink;
3. merge the pieces of one symbol: pieces whose horizontal extents overlap (a 4 or a 7 drawn in
   two strokes, the two bars of an "="), and pieces much shorter than the line that sit next to
   another (a 5 whose top bar was lifted and drawn beside its body);
4. order left to right.

Numbers are read on one line: symbols stacked one above the other are one symbol. Digits whose
ink touches are one piece and are read as one symbol: no split rule tried here told a touching
pair from a single wide digit (MNIST's widest are twice as wide as tall, wider than most pairs),
so none is applied; docs/RECOGNITION.md measures how often that happens.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from handler.mnist_errors import BadInput

MAX_SYMBOLS = 12
# A piece with less ink than this share of the biggest piece's is a speck (a pen tap, JPEG noise).
SPECK_SHARE = 0.03
# Pieces merge when their horizontal extents overlap by this share of the narrower one's width.
MERGE_OVERLAP = 0.5
# A piece shorter than this share of the line's height is part of a symbol, not one of its own,
# when it lies within ATTACH_GAP of the line's height from another piece.
MINOR_HEIGHT = 0.5
ATTACH_GAP = 0.25
# Beyond this many separate marks (after specks are dropped) a drawing is noise, not a number.
MAX_PIECES = 4 * MAX_SYMBOLS
EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)


@dataclass
class Symbol:
    ink: np.ndarray                  # the ink map within ``box``, other symbols' ink removed
    box: tuple[int, int, int, int]   # left, top, right, bottom (exclusive) in the ink map


@dataclass(eq=False)  # pieces are told apart by identity, not by comparing their masks
class Piece:
    mask: np.ndarray  # which pixels of its box belong to this piece; the box is tight around them
    top: int
    left: int

    @property
    def bottom(self) -> int:
        return self.top + self.mask.shape[0]

    @property
    def right(self) -> int:
        return self.left + self.mask.shape[1]

    @property
    def width(self) -> int:
        return self.mask.shape[1]

    @property
    def height(self) -> int:
        return self.mask.shape[0]

    def joined(self, other: Piece) -> Piece:
        """One piece of both: their masks in the box around both."""
        top, left = min(self.top, other.top), min(self.left, other.left)
        mask = np.zeros((max(self.bottom, other.bottom) - top, max(self.right, other.right) - left), dtype=bool)
        for piece in (self, other):
            mask[piece.top - top:piece.bottom - top, piece.left - left:piece.right - left] |= piece.mask
        return Piece(mask, top, left)


def connected_pieces(mask: np.ndarray, ink: np.ndarray) -> list[Piece]:
    labels, count = ndimage.label(mask, structure=EIGHT_CONNECTED)
    if count == 0:
        raise BadInput("no digit found: the image has no ink")
    masses = np.bincount(labels.ravel(), weights=ink.ravel(), minlength=count + 1)[1:]
    kept = np.flatnonzero(masses >= SPECK_SHARE * masses.max()) + 1
    if len(kept) > MAX_PIECES:
        raise BadInput(f"the drawing has {len(kept)} separate marks; a number of at most {MAX_SYMBOLS} "
                       f"digits has far fewer")
    boxes = ndimage.find_objects(labels)
    return [Piece(labels[boxes[label - 1]] == label, boxes[label - 1][0].start, boxes[label - 1][1].start)
            for label in kept]


def overlaps(a: Piece, b: Piece) -> bool:
    shared = min(a.right, b.right) - max(a.left, b.left)
    return shared >= MERGE_OVERLAP * min(a.width, b.width)


def merged(pieces: list[Piece]) -> list[Piece]:
    """Pieces that overlap horizontally become one, until no two overlap."""
    symbols = sorted(pieces, key=lambda piece: piece.left)
    changed = True
    while changed:
        changed = False
        for i in range(len(symbols)):
            for j in range(i + 1, len(symbols)):
                if overlaps(symbols[i], symbols[j]):
                    symbols[i] = symbols[i].joined(symbols[j])
                    del symbols[j]
                    changed = True
                    break
            if changed:
                break
    return symbols


def gap_between(a: Piece, b: Piece) -> int:
    return max(0, max(a.left, b.left) - min(a.right, b.right))


def attached(pieces: list[Piece]) -> list[Piece]:
    """Each piece much shorter than the line joins the nearest other piece, if that one is close."""
    line_height = max(piece.height for piece in pieces)
    symbols = list(pieces)
    for minor in sorted(pieces, key=lambda piece: piece.height):
        if minor.height >= MINOR_HEIGHT * line_height or len(symbols) == 1:
            break
        if minor not in symbols:  # already absorbed by a piece it was the nearest to
            continue
        others = [piece for piece in symbols if piece is not minor]
        nearest = min(others, key=lambda piece: gap_between(minor, piece))
        if gap_between(minor, nearest) <= ATTACH_GAP * line_height:
            symbols.remove(minor)
            symbols[symbols.index(nearest)] = nearest.joined(minor)
    return symbols


def split_symbols(ink: np.ndarray, threshold: float) -> list[Symbol]:
    """The symbols written in ``ink`` (a 2-D map in [0, 1]), left to right."""
    pieces = merged(attached(merged(connected_pieces(ink > threshold, ink))))
    if len(pieces) > MAX_SYMBOLS:
        raise BadInput(f"the drawing has {len(pieces)} symbols; at most {MAX_SYMBOLS} are read at once",
                       status=422)
    symbols = []
    for piece in sorted(pieces, key=lambda p: p.left):
        # One pixel more each way keeps the anti-aliased edge of the strokes, which is below the threshold.
        top, left = max(piece.top - 1, 0), max(piece.left - 1, 0)
        window = (slice(top, piece.bottom + 1), slice(left, piece.right + 1))
        own = np.zeros(ink[window].shape, dtype=bool)
        own[piece.top - top:piece.bottom - top, piece.left - left:piece.right - left] = piece.mask
        own = ndimage.binary_dilation(own, structure=EIGHT_CONNECTED)
        symbols.append(Symbol(np.where(own, ink[window], 0.0).astype(np.float32),
                              (piece.left, piece.top, piece.right, piece.bottom)))
    return symbols
