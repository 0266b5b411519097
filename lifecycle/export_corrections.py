"""The accepted corrections as labelled 28x28 symbols, for fine-tuning (training/finetune.py) and the
gate (lifecycle/gate.py), which run in other environments and read only this file.

    python -m lifecycle.export_corrections [--out runs/lifecycle/corrections.npz]

Each drawing is cut into symbols by the handler's own code; a correction whose digits do not match
its symbols one for one is left out (and counted). About a quarter of the drawings, chosen by their
content's hash so that copies of one drawing fall together, are held out: the gate measures on
them, fine-tuning never sees them.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

import numpy as np

from corrections.store import Correction, open_store, with_status
from handler.mnist_contract import MNIST_SIDE
from lifecycle.symbols import fitted_symbols
from serving.settings import LIFECYCLE_DIR
from web.config import load_config

HOLDOUT_EVERY = 4
CORRECTIONS_FILE = LIFECYCLE_DIR / "corrections.npz"


def held_out(correction: Correction) -> bool:
    return int(hashlib.sha256(correction.image).hexdigest()[:8], 16) % HOLDOUT_EVERY == 0


def labelled_symbols(accepted: list[Correction]) -> tuple[dict[str, np.ndarray], int]:
    """The arrays written to the file, and how many corrections were left out."""
    pixels, labels, ids, holdout, left_out = [], [], [], [], 0
    for correction in accepted:
        symbols = fitted_symbols(correction.image)
        if len(symbols) != len(correction.correction):
            left_out += 1
            continue
        pixels.append(np.round(symbols * 255).astype(np.uint8))
        labels += [int(d) for d in correction.correction]
        ids += [correction.id] * len(symbols)
        holdout += [held_out(correction)] * len(symbols)
    arrays = {"pixels": np.concatenate(pixels) if pixels else np.zeros((0, MNIST_SIDE, MNIST_SIDE), np.uint8),
              "labels": np.array(labels, dtype=np.int64), "correction_ids": np.array(ids, dtype=np.int64),
              "holdout": np.array(holdout, dtype=bool)}
    return arrays, left_out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=load_config()["DATABASE_URL"],
                        help="the corrections store (default: the web front's DATABASE_URL)")
    parser.add_argument("--out", type=Path, default=CORRECTIONS_FILE)
    args = parser.parse_args(argv)
    store = open_store(args.database_url)
    try:
        accepted = with_status(store, "accepted")
    finally:
        store.dispose()
    arrays, left_out = labelled_symbols(accepted)
    if not len(arrays["labels"]):
        print(f"no accepted correction to learn from ({left_out} left out: symbols and digits differ)",
              file=sys.stderr)
        return 1
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **arrays)
    print(f"{args.out}: {len(arrays['labels'])} symbols from {len(accepted) - left_out} corrections "
          f"({int(arrays['holdout'].sum())} held out); {left_out} left out (symbols and digits differ)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
