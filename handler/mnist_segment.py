"""The symbols a drawing may hold, left to right, for the reader to choose from. Pure numpy and scipy.

1. connected pieces of ink (8-connected); specks (pieces with a tiny share of the ink) set apart;
2. group the pieces of one symbol: pieces whose horizontal extents overlap (a 4 or a 7 drawn in
   two strokes, the two bars of an "="), and pieces much shorter than the line that sit next to
   another (a 5 whose top bar was lifted and drawn beside its body); a speck close to a group
   joins it (the dot of a ? or an !), the others are dropped. A mark people write inside a number
   stays a symbol of its own, never joined to a digit: a dot low between two symbols (a decimal
   point) and a short dash at mid-height (a minus sign), ``marks``;
3. cut each group wide enough to hold touching digits where the cuts cross least ink
   (``mnist_cuts``), into parts;
4. the candidates: every part alone, every group whole, and runs of neighbouring parts that may be
   one digit (cut parts, or groups a short gap apart: a broken stroke).

Which candidates make the reading is decided by the model, in ``mnist_reading``: a single digit
stays whole because the model reads it whole better than in parts, and a touching pair is cut
because the model reads the pair as no digit (it was trained on such pairs) and each part as one.
Numbers are read on one line: symbols stacked one above the other are one symbol.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from handler.mnist_cuts import COARSE, CutRules, cut_parts
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
# Specks looked at (to join the symbol they are close to) at most; more are noise and dropped.
MAX_SPECKS = 64
# A speck this close to a symbol (share of the line's height, either way) belongs to it.
SPECK_ATTACH = 0.25
# A group of ink at least this share of the line's height wide may hold touching digits: cuts are tried.
CUT_WIDTH = 0.6
# Neighbouring groups this close (share of the line's height) may be one broken digit.
JOIN_GAP = 0.2
# A doubtful group is also read with the gaps in its strokes up to this share of the line's height
# filled: a digit broken where the pen lifted reads as its pieces do, not as the digit.
CLOSING = 1 / 12
# A candidate symbol is no wider than this times its height.
MAX_SYMBOL_WIDTH = 1.6
# A candidate that is not a whole group is at least this share of the line's height tall.
PART_HEIGHT = 0.6
# A mark of its own (a decimal point, a minus sign) is at most this share of the line's height tall,
# and at least DOT_MIN of it each way (smaller is noise).
MARK_HEIGHT = 0.25
DOT_MIN = 0.04
# A dot no wider than this many times its height, its centre below this share of the line's height
# from its top (a decimal point sits low; the dot of an i sits high and is a speck joined to its stem).
DOT_SHAPE = 1.6
DOT_LOW = 0.6
# A dash at least this many times as wide as tall, its centre within this band of the line's height
# (the lifted bar of a 5 sits at the top, and joins its body).
DASH_SHAPE = 2.0
DASH_BAND = (0.3, 0.75)
# A mark stands at least this share of the line's height clear of the symbols beside it: MNIST's
# digits come with fragments of their own strokes, which touch or nearly touch their digit's columns
# (on validation numbers 26 false marks in 2,000 numbers without this rule).
MARK_CLEARANCE = 0.08
# A mark is drawn with the pen: its inkiest pixel holds at least this share of the strongest
# stroke's ink. MNIST's digits come with faint stray pixels of their scans (a speck at a quarter of
# the ink read as a decimal point in a number of validation digits), which no pen draws.
MARK_INK = 0.5
DECIMAL_POINT, MINUS_SIGN = ".", "-"
EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)


@dataclass
class Symbol:
    ink: np.ndarray                  # the ink map around ``box``, other symbols' ink removed
    box: tuple[int, int, int, int]   # left, top, right, bottom (exclusive) in the ink map
    origin: tuple[int, int]          # left, top of ``ink`` in the ink map: a pixel of margin outside ``box``


@dataclass
class Candidate:
    """A symbol the drawing may hold: parts ``first`` to ``stop`` (exclusive) joined."""
    symbol: Symbol
    first: int
    stop: int
    whole: bool  # exactly one group of ink, uncut: what the drawing holds if no digits touch
    mark: str | None = None  # DECIMAL_POINT or MINUS_SIGN: a symbol of the number that is no digit


@dataclass(eq=False)  # pieces are told apart by identity, not by comparing their masks
class Piece:
    mask: np.ndarray  # which pixels of its box belong to this piece; the box is tight around them
    top: int
    left: int
    peak: float = 1.0  # the most ink any of its pixels holds, in [0, 1]

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
        return Piece(mask, top, left, max(self.peak, other.peak))


def inked_extent(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The indices of the rows and of the columns of ``mask`` that hold ink, in order."""
    return np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))


def connected_pieces(mask: np.ndarray, ink: np.ndarray) -> tuple[list[Piece], list[Piece]]:
    """The pieces of ink, and the specks among them apart (pieces with a tiny share of the ink)."""
    labels, count = ndimage.label(mask, structure=EIGHT_CONNECTED)
    if count == 0:
        raise BadInput("no digit found: the image has no ink")
    masses = np.bincount(labels.ravel(), weights=ink.ravel(), minlength=count + 1)[1:]
    big = masses >= SPECK_SHARE * masses.max()
    if big.sum() > MAX_PIECES:
        return [], []  # too many marks to be a number: not worth describing one by one
    boxes = ndimage.find_objects(labels)
    peaks = ndimage.maximum(ink, labels, np.arange(1, count + 1))
    pieces = [piece_of(labels, boxes, label, peaks) for label in np.flatnonzero(big) + 1]
    specks = [piece_of(labels, boxes, label, peaks) for label in np.flatnonzero(~big)[:MAX_SPECKS] + 1]
    return pieces, specks


def piece_of(labels: np.ndarray, boxes: list[tuple[slice, slice]], label: int, peaks: np.ndarray) -> Piece:
    box = boxes[label - 1]
    return Piece(labels[box] == label, box[0].start, box[1].start, float(peaks[label - 1]))


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


@dataclass(frozen=True)
class Line:
    """Where the line of writing runs: from the top of its tallest pieces to their bottom, and the
    columns each of them spans."""
    top: int
    bottom: int
    columns: tuple[tuple[int, int], ...]  # (left, right) of each tall piece

    @classmethod
    def of(cls, pieces: list[Piece]) -> Line:
        tallest = max(piece.height for piece in pieces)
        tall = [piece for piece in pieces if piece.height >= MINOR_HEIGHT * tallest]
        return cls(min(p.top for p in tall), max(p.bottom for p in tall), tuple((p.left, p.right) for p in tall))

    @property
    def height(self) -> int:
        return self.bottom - self.top

    def depth(self, piece: Piece) -> float:
        """How far down the line ``piece``'s centre lies: 0 at its top, 1 at its bottom."""
        return ((piece.top + piece.bottom) / 2 - self.top) / max(self.height, 1)

    def clear_of_all(self, piece: Piece) -> bool:
        """Whether ``piece`` stands MARK_CLEARANCE of the line's height clear of every tall piece,
        left and right (a fragment of a digit touches or nearly touches its digit's columns)."""
        clearance = MARK_CLEARANCE * self.height
        return all(piece.right + clearance <= left or right + clearance <= piece.left for left, right in self.columns)

    def between(self, piece: Piece) -> bool:
        """Whether a tall piece lies left of ``piece`` and another right of it."""
        return any(right <= piece.left for _, right in self.columns) and self.before(piece)

    def before(self, piece: Piece) -> bool:
        """Whether a tall piece lies right of ``piece``."""
        return any(left >= piece.right for left, _ in self.columns)


def mark_of(piece: Piece, line: Line) -> str | None:
    """DECIMAL_POINT for a dot low between two tall symbols, MINUS_SIGN for a short dash at mid-height
    before one, each clear of its neighbours; None for anything else (a piece of a digit, a speck,
    a symbol of its own height)."""
    if not DOT_MIN * line.height <= piece.height <= MARK_HEIGHT * line.height or not line.clear_of_all(piece) \
            or piece.peak < MARK_INK:
        return None
    if piece.width <= DOT_SHAPE * piece.height and line.depth(piece) >= DOT_LOW and line.between(piece):
        return DECIMAL_POINT
    if piece.width >= DASH_SHAPE * piece.height and DASH_BAND[0] <= line.depth(piece) <= DASH_BAND[1] \
            and line.before(piece):
        return MINUS_SIGN
    return None


def attached(pieces: list[Piece]) -> list[Piece]:
    """Each piece much shorter than the line joins the nearest other piece, if that one is close,
    unless it is a mark of its own (``mark_of``)."""
    line_height = max(piece.height for piece in pieces)
    line = Line.of(pieces)
    symbols = list(pieces)
    for minor in sorted(pieces, key=lambda piece: piece.height):
        if minor.height >= MINOR_HEIGHT * line_height or len(symbols) == 1:
            break
        if minor not in symbols or mark_of(minor, line):  # absorbed already, or a symbol of its own
            continue
        others = [piece for piece in symbols if piece is not minor]
        nearest = min(others, key=lambda piece: gap_between(minor, piece))
        if gap_between(minor, nearest) <= ATTACH_GAP * line_height:
            symbols.remove(minor)
            symbols[symbols.index(nearest)] = nearest.joined(minor)
    return symbols


def box_gap(a: Piece, b: Piece) -> int:
    """The larger of the horizontal and vertical gaps between two pieces' boxes (0 if they overlap)."""
    vertical = max(0, max(a.top, b.top) - min(a.bottom, b.bottom))
    return max(gap_between(a, b), vertical)


def with_specks(groups: list[Piece], specks: list[Piece]) -> list[Piece]:
    """Each speck that is a decimal point is a group of its own; each other speck close to a group
    joins it (the dot of a ?, a ! or an i); the others are dropped (a pen tap, JPEG noise)."""
    line_height = max(group.height for group in groups)
    line = Line.of(groups)
    groups = list(groups)
    points = [speck for speck in specks if mark_of(speck, line) == DECIMAL_POINT]
    for speck in specks:
        if speck in points:
            continue
        nearest = min(range(len(groups)), key=lambda index: box_gap(speck, groups[index]))
        if box_gap(speck, groups[nearest]) <= SPECK_ATTACH * line_height:
            groups[nearest] = groups[nearest].joined(speck)
    return groups + points


def parts_of(group: Piece, line_height: int, rules: CutRules) -> list[Piece]:
    """The group as it may be cut into touching digits (``mnist_cuts``), each part a tight piece;
    the group itself when it is too narrow to hold two digits."""
    if group.width < CUT_WIDTH * line_height:
        return [group]
    parts = []
    for mask in cut_parts(group.mask, line_height, rules):
        rows, cols = inked_extent(mask)
        parts.append(Piece(mask[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1], group.top + rows[0], group.left + cols[0],
                           group.peak))
    return parts


def grown_by_one(mask: np.ndarray) -> np.ndarray:
    """``mask`` and its 8 neighbours of each pixel: a 3x3 dilation, done as one step down the rows
    and one across the columns (a square is separable), a few times faster than scipy's for a box."""
    rows = mask.copy()
    rows[1:] |= mask[:-1]
    rows[:-1] |= mask[1:]
    grown = rows.copy()
    grown[:, 1:] |= rows[:, :-1]
    grown[:, :-1] |= rows[:, 1:]
    return grown


def symbol_of(piece: Piece, ink: np.ndarray) -> Symbol:
    # One pixel more each way keeps the anti-aliased edge of the strokes, which is below the threshold.
    top, left = max(piece.top - 1, 0), max(piece.left - 1, 0)
    window = (slice(top, piece.bottom + 1), slice(left, piece.right + 1))
    own = np.zeros(ink[window].shape, dtype=bool)
    own[piece.top - top:piece.bottom - top, piece.left - left:piece.right - left] = piece.mask
    own = grown_by_one(own)
    box = (piece.left, piece.top, piece.right, piece.bottom)
    return Symbol(np.where(own, ink[window], 0.0).astype(np.float32), box, (left, top))


def closed(symbol: Symbol, line_height: int) -> Symbol:
    """``symbol`` with the gaps in its strokes narrower than CLOSING of the line's height filled (a
    grey closing): a digit whose pen lifted mid-stroke, as it would read unbroken."""
    size = max(3, round(CLOSING * line_height)) | 1
    return Symbol(ndimage.grey_closing(symbol.ink, size=(size, size)), symbol.box, symbol.origin)


def whole_of(pieces: list[Piece]) -> Piece:
    """One piece of all ``pieces``."""
    whole = pieces[0]
    for piece in pieces[1:]:
        whole = whole.joined(piece)
    return whole


def runs(parts: list[Piece], groups_of: list[int], doubtful: set[int], marks: set[int],
         line_height: int, max_run: int) -> list[tuple[int, int]]:
    """The (first, stop) spans of consecutive parts that may form one symbol: every group whole; and
    every part alone and up to ``max_run`` parts, not wider than a digit and nearly as tall as the
    line (digits of one number are of a height; the short stroke of a tick is not a digit), within
    a doubtful group (cut parts) or across a doubtful group and its neighbour a short gap away (a
    broken digit), unless one of them is a mark (a decimal point is not the end of a broken 3)."""
    spans = set()
    for group in set(groups_of):
        members = [index for index, owner in enumerate(groups_of) if owner == group]
        spans.add((members[0], members[-1] + 1))
    for first in range(len(parts)):
        if parts[first].height >= PART_HEIGHT * line_height:
            spans.add((first, first + 1))
        joined = parts[first]
        for stop in range(first + 2, min(first + max_run, len(parts)) + 1):
            following, before = groups_of[stop - 1], groups_of[stop - 2]
            if following != before and (gap_between(joined, parts[stop - 1]) > JOIN_GAP * line_height
                                        or not {following, before} & doubtful or {following, before} & marks):
                break
            joined = joined.joined(parts[stop - 1])
            if joined.width > MAX_SYMBOL_WIDTH * line_height:
                break  # wider than a digit of the line can be: joining more only widens it
            if joined.height >= PART_HEIGHT * line_height and joined.width <= MAX_SYMBOL_WIDTH * joined.height:
                spans.add((first, stop))
    return sorted(spans)


@dataclass
class Segmentation:
    """A drawing's groups of ink, left to right, and the candidate symbols they may form."""
    ink: np.ndarray
    groups: list[Piece]
    reason: str | None = None       # why the drawing is no number whatever the model says, if it is not
    marks: dict[int, str] = field(default_factory=dict)  # group index -> DECIMAL_POINT or MINUS_SIGN

    @property
    def line_height(self) -> int:
        return max(group.height for group in self.groups)

    def wholes(self) -> list[Candidate]:
        """Each group as one symbol: the reading if no digits touch and none is broken."""
        return [Candidate(symbol_of(group, self.ink), index, index + 1, True, self.marks.get(index))
                for index, group in enumerate(self.groups)]

    def candidates(self, doubtful: set[int], rules: CutRules = COARSE) -> list[Candidate]:
        """Every candidate symbol once the ``doubtful`` groups (those the model did not read whole as
        a digit it is sure of) may be cut where wide (by ``rules``) and joined to a close neighbour;
        spans count parts. Marks are neither cut nor joined."""
        doubtful = doubtful - set(self.marks)
        parts, groups_of = [], []
        for index, group in enumerate(self.groups):
            cut = parts_of(group, self.line_height, rules) if index in doubtful else [group]
            parts.extend(cut)
            groups_of.extend([index] * len(cut))
        candidates = []
        for first, stop in runs(parts, groups_of, doubtful, set(self.marks), self.line_height, rules.max_run):
            whole = groups_of[first] == groups_of[stop - 1] and groups_of.count(groups_of[first]) == stop - first
            mark = self.marks.get(groups_of[first]) if whole else None
            candidates.append(Candidate(symbol_of(whole_of(parts[first:stop]), self.ink), first, stop, whole, mark))
            if whole and groups_of[first] in doubtful:
                candidates.append(Candidate(closed(candidates[-1].symbol, self.line_height), first, stop, False))
        return candidates


def split_symbols(ink: np.ndarray, threshold: float) -> Segmentation:
    """The groups of ink written in ``ink`` (a 2-D map in [0, 1]), left to right, for the reader."""
    pieces, specks = connected_pieces(ink > threshold, ink)
    if not pieces:
        rows, cols = inked_extent(ink > threshold)
        whole = Piece(ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1] > threshold, int(rows[0]), int(cols[0]))
        return Segmentation(ink, [whole], f"the drawing has more than {MAX_PIECES} separate marks: too many "
                                          f"for a number")
    groups = sorted(with_specks(merged(attached(merged(pieces))), specks), key=lambda piece: piece.left)
    if len(groups) > MAX_SYMBOLS:
        return Segmentation(ink, [whole_of(groups)], f"the drawing has {len(groups)} separate marks; a number of "
                                                     f"at most {MAX_SYMBOLS} digits is read at once")
    line = Line.of(groups)
    marks = {index: mark for index, group in enumerate(groups) if (mark := mark_of(group, line))}
    return Segmentation(ink, groups, marks=marks)
