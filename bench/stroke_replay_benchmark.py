"""Stroke-replay benchmark: headless Chromium draws MNIST validation digits on the real page.

    python -m bench.stroke_replay_benchmark [--digits 300]      (make bench-strokes)

Each digit's skeleton is traced into pen strokes (bench/pen_strokes.py) and replayed with the
mouse on the page's canvas, at a random height and place, so the page's own pen draws it; the
answer is read off the page once the prediction asked for when the pen lifts has come back. The
page, the web front (waitress, its own process) and a private TorchServe run here as they do for a
user. Validation digits only: the test set chooses nothing and is not drawn here either.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from playwright.sync_api import sync_playwright

from bench.loadgen import running_web_front
from bench.number_benchmark import validation_digits
from bench.pen_strokes import digit_strokes
from serving.settings import CHROMIUM, CHROMIUM_ARGS
from serving.torchserve import scratch_instance

CANVAS_WIDTH, CANVAS_HEIGHT = 560, 280
# Resolves after the page has painted twice: the answer that just arrived is then on screen.
RENDERED = "() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))"


def final_answer(page):
    """The response to the prediction the page sends, with previews, when the pen lifts."""
    return page.expect_response(lambda r: "predict?preview=1" in r.url and r.request.method == "POST")


def replay(page, digit: np.ndarray, rng: np.random.Generator) -> tuple[str, float]:
    """Draw one digit; the page's number once its final answer is on screen, and the ms from the
    pen lifting to then."""
    page.click("#clear")
    box = page.locator("#canvas").bounding_box()
    scale = box["width"] / CANVAS_WIDTH
    height = float(rng.uniform(140, 260))
    left = float(rng.uniform(0, CANVAS_WIDTH - height))
    top = float(rng.uniform(0, CANVAS_HEIGHT - height * 0.9))
    strokes = digit_strokes(digit, left, top - height * 0.05, height)
    for number, points in enumerate(strokes, start=1):
        screen = [(box["x"] + x * scale, box["y"] + y * scale) for x, y in points]
        page.mouse.move(*screen[0])
        page.mouse.down()
        for point in screen[1:]:
            page.mouse.move(*point, steps=2)
        # Each lift sends a final prediction; wait for it, so that only the last stroke's is read.
        with final_answer(page) as answer:
            started = time.perf_counter()
            page.mouse.up()
        answer.value.finished()
    page.evaluate(RENDERED)
    elapsed = (time.perf_counter() - started) * 1000
    return page.locator("#digit").inner_text(), elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--digits", type=int, default=300, help="validation digits to draw (default 300)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    images, labels = validation_digits()
    rng = np.random.default_rng(args.seed)
    picked = rng.choice(len(labels), args.digits, replace=False)
    results = []
    with scratch_instance() as instance, running_web_front(instance) as (_, predict_url), \
            sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 900, "height": 700})
        page.goto(predict_url.removesuffix("predict"))
        for index in picked:
            read, elapsed = replay(page, images[index], rng)
            results.append((read == str(labels[index]), read, int(labels[index]), elapsed))
        browser.close()
    right = sum(result[0] for result in results)
    wrong = [(expected, read) for ok, read, expected, _ in results if not ok]
    print(f"stroke-replayed validation digits read right: {right}/{len(results)} = {100 * right / len(results):.2f}%")
    print(f"answer after the pen lifts: p50 {statistics.median(r[3] for r in results):.0f} ms, "
          f"p90 {np.percentile([r[3] for r in results], 90):.0f} ms")
    print("wrong (true digit, page showed):", wrong)


if __name__ == "__main__":
    main()
