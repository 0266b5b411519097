"""Review the pending corrections: the rules accept what independent evidence supports
(lifecycle/review_rules.py), a person accepts or rejects the rest.

    python -m lifecycle.review                      # rules, then a table of what waits, and runs/lifecycle/review.html
    python -m lifecycle.review --accept 3 4 --reject 5
    python -m lifecycle.review --no-rules           # only list

The store is the web front's (DATABASE_URL, web/config.py). A review that names an unknown or
already-reviewed id changes nothing and exits 1.
"""

from __future__ import annotations

import argparse
import base64
import html
import json
import sys
from pathlib import Path

from corrections.store import Correction, StoreRefusal, open_store, review, with_status
from lifecycle.review_rules import accepted_by_rule
from lifecycle.symbols import fitted_symbols
from serving.settings import LIFECYCLE_DIR
from web.config import load_config

COLUMNS = ("id", "received (UTC)", "model", "answered", "correction", "client")


def row(correction: Correction) -> tuple[str, ...]:
    answered = json.loads(correction.served_answer).get("number") or "(no digit)"
    return (str(correction.id), correction.created_at.strftime("%Y-%m-%d %H:%M"), correction.model_version,
            answered, correction.correction, correction.client_hash[:8])


def table(corrections: list[Correction]) -> str:
    rows = [COLUMNS] + [row(c) for c in corrections]
    widths = [max(len(r[i]) for r in rows) for i in range(len(COLUMNS))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(r, widths)) for r in rows)


def review_page(corrections: list[Correction]) -> str:
    """A page with each pending drawing beside what was answered and what the person said."""
    cells = "".join(
        "<tr><td><img alt='drawing' src='data:image/png;base64,{}'></td>{}</tr>".format(
            base64.b64encode(c.image).decode(), "".join(f"<td>{html.escape(cell)}</td>" for cell in row(c)))
        for c in corrections)
    head = "".join(f"<th>{html.escape(name)}</th>" for name in ("drawing", *COLUMNS))
    return ("<!doctype html><meta charset='utf-8'><title>Pending corrections</title>"
            "<style>img{height:70px;background:#fff;border:1px solid #ccc}td,th{padding:4px 10px}</style>"
            f"<h1>{len(corrections)} pending corrections</h1>"
            "<p>Accept or reject with <code>make review ACCEPT='1 2' REJECT='3'</code>.</p>"
            f"<table><tr>{head}</tr>{cells}</table>")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=load_config()["DATABASE_URL"],
                        help="the corrections store (default: the web front's DATABASE_URL)")
    parser.add_argument("--accept", type=int, nargs="*", default=[], metavar="ID")
    parser.add_argument("--reject", type=int, nargs="*", default=[], metavar="ID")
    parser.add_argument("--no-rules", action="store_true", help="do not apply the automatic-accept rules")
    parser.add_argument("--page", type=Path, default=LIFECYCLE_DIR / "review.html",
                        help="where the page of pending drawings goes (default runs/lifecycle/review.html)")
    args = parser.parse_args(argv)
    if set(args.accept) & set(args.reject):
        parser.error(f"accepted and rejected at once: {sorted(set(args.accept) & set(args.reject))}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    store = open_store(args.database_url)
    try:
        by_person = {i: ("accepted", "person") for i in args.accept} | {i: ("rejected", "person") for i in args.reject}
        if by_person:
            review(store, by_person)
            print(f"accepted {sorted(args.accept)}, rejected {sorted(args.reject)}")
        if not args.no_rules:
            by_rule = accepted_by_rule(with_status(store, "pending"), fitted_symbols)
            if by_rule:
                review(store, {i: ("accepted", rule) for i, rule in by_rule.items()})
            for rule in sorted(set(by_rule.values())):
                print(f"accepted by {rule}: {', '.join(str(i) for i, r in by_rule.items() if r == rule)}")
        pending = with_status(store, "pending")
    except StoreRefusal as refusal:
        print(f"review refused: {refusal}", file=sys.stderr)
        return 1
    finally:
        store.dispose()
    print(table(pending) if pending else "no corrections wait for review")
    args.page.parent.mkdir(parents=True, exist_ok=True)
    args.page.write_text(review_page(pending))
    print(f"page with the drawings: {args.page}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
