"""End to end in a real browser: Debian's headless Chromium, driven by Playwright, on the real app
served by waitress and backed by the real TorchServe."""

from __future__ import annotations

import math
import os
import threading
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright
from waitress import create_server

from bench.loadgen import web_app
from bench.mnist_samples import one_of_each_digit
from bench.pen_strokes import number_strokes
from serving.settings import CHROMIUM as DEBIAN_CHROMIUM
from serving.settings import CHROMIUM_ARGS, REPO_ROOT

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", str(DEBIAN_CHROMIUM)))
ARTIFACTS = REPO_ROOT / "test-artifacts"


@pytest.fixture(scope="module")
def app_url(torchserve):
    server = create_server(web_app(torchserve), host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.effective_port}/"
    server.close()


@pytest.fixture(scope="module")
def page(app_url):
    if not CHROMIUM.exists():
        # In CI a missing browser is a failure, not a skip: .ci/run installs it.
        pytest.fail(f"Chromium not found at {CHROMIUM}; install Debian's chromium package")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 900, "height": 640})
        page.goto(app_url)
        yield page
        browser.close()


def stroke(page, points: list[tuple[float, float]]) -> None:
    """Drag the mouse through ``points``, given in canvas pixels (560x280)."""
    box = page.locator("#canvas").bounding_box()
    scale = box["width"] / CANVAS_WIDTH

    def to_screen(x, y):
        return box["x"] + x * scale, box["y"] + y * scale

    page.mouse.move(*to_screen(*points[0]))
    page.mouse.down()
    for point in points[1:]:
        page.mouse.move(*to_screen(*point), steps=8)
    page.mouse.up()


CANVAS_WIDTH = 560
STROKES = {
    1: [[(150, 40), (140, 240)]],
    7: [[(70, 60), (210, 60), (130, 245)]],
    0: [[(140 + 60 * math.sin(t / 20 * 2 * math.pi), 140 - 95 * math.cos(t / 20 * 2 * math.pi))
         for t in range(21)]],
}


@pytest.mark.parametrize("digit", STROKES)
def test_drawn_digits_are_recognised_and_clear_resets(page, digit):
    expect(page.locator("#status")).to_have_text("Draw a digit")
    for points in STROKES[digit]:
        stroke(page, points)
    expect(page.locator("#digit")).to_have_text(str(digit), timeout=10_000)
    expect(page.locator("#status")).to_have_text(f"It looks like a {digit}")
    expect(page.locator("#preview")).to_be_visible()
    page.wait_for_timeout(300)  # let the bars' width transition finish
    # Rendered widths, as fractions of each bar's track: what a person sees, not the style asked for.
    widths = page.locator("#bars .fill").evaluate_all(
        "fills => fills.map(f => f.getBoundingClientRect().width / f.parentElement.getBoundingClientRect().width)")
    assert len(widths) == 10 and widths[digit] == max(widths) and widths[digit] > 0.5
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"page-digit-{digit}.png"))

    page.click("#clear")
    expect(page.locator("#status")).to_have_text("Draw a digit")
    expect(page.locator("#digit")).to_have_text("?")
    expect(page.locator("#preview")).to_be_hidden()


def test_predict_on_an_empty_canvas_asks_for_a_drawing(page):
    page.click("#predict")
    expect(page.locator("#status")).to_have_text("Draw a digit")


def test_keyboard_shortcuts(page):
    stroke(page, STROKES[1][0])
    expect(page.locator("#digit")).to_have_text("1", timeout=10_000)
    page.keyboard.press("Escape")
    expect(page.locator("#digit")).to_have_text("?")



def test_a_number_written_with_real_mnist_strokes_is_read_with_a_box_per_digit(page):
    digits = dict(one_of_each_digit())
    for points in number_strokes([digits[4], digits[2], digits[7]], height=220, gap=25, top=25):
        stroke(page, points)
    expect(page.locator("#digit")).to_have_text("427", timeout=10_000)
    expect(page.locator("#status")).to_have_text("It looks like 427")
    expect(page.locator("#boxes .box")).to_have_count(3)
    expect(page.locator("#symbols li")).to_have_count(3)
    expect(page.locator("#symbols img")).to_have_count(3)  # the previews of the final prediction
    lefts = page.locator("#boxes .box").evaluate_all("boxes => boxes.map(b => b.getBoundingClientRect().left)")
    assert lefts == sorted(lefts)
    page.locator("#symbols .symbol").nth(0).click()
    expect(page.locator("#bars-caption")).to_have_text("Probabilities of symbol 1 of 3")
    expect(page.locator("#bars li.top span").first).to_have_text("4")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "page-number-427.png"))
    page.click("#clear")
    expect(page.locator("#boxes .box")).to_have_count(0)
    expect(page.locator("#symbols")).to_be_hidden()


def test_a_scribble_is_said_not_to_be_a_digit_with_the_best_guess_small(page):
    zigzag = [(60 + 40 * k, 60 if k % 2 == 0 else 220) for k in range(11)]
    stroke(page, zigzag)
    expect(page.locator("#status")).to_have_text("That doesn't look like a digit", timeout=10_000)
    expect(page.locator("#confidence")).to_contain_text("best guess")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "page-not-a-digit.png"))
    page.click("#clear")
