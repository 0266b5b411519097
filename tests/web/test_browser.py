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


def test_a_number_written_with_its_digits_touching_is_read_digit_by_digit(page):
    digits = dict(one_of_each_digit())
    for points in number_strokes([digits[4], digits[8]], height=220, gap=-12, top=25):
        stroke(page, points)
    expect(page.locator("#digit")).to_have_text("48", timeout=10_000)
    expect(page.locator("#boxes .box")).to_have_count(2)


def test_a_decimal_point_drawn_between_digits_is_shown_as_a_point_that_is_no_digit(page):
    page.click("#clear")
    digits = dict(one_of_each_digit())
    three = number_strokes([digits[3]], height=200, gap=0, left=20, top=25)
    three_right = max(x for points in three for x, _ in points)
    five = number_strokes([digits[5]], height=200, gap=0, left=three_right + 80, top=25)
    bottom = max(y for points in three + five for _, y in points)
    for points in three + five + [[((three_right + min(x for points in five for x, _ in points)) / 2, bottom - 8)]]:
        stroke(page, points)
    expect(page.locator("#digit")).to_have_text("3.5", timeout=10_000)
    expect(page.locator("#status")).to_contain_text("decimal point")
    expect(page.locator("#boxes .box")).to_have_count(3)
    expect(page.locator("#boxes .box.not-digit")).to_have_count(1)
    page.click("#clear")


def test_a_scribble_is_said_not_to_be_a_digit_with_the_best_guess_small(page):
    zigzag = [(60 + 40 * k, 60 if k % 2 == 0 else 220) for k in range(11)]
    stroke(page, zigzag)
    expect(page.locator("#status")).to_have_text("That doesn't look like a digit", timeout=10_000)
    expect(page.locator("#confidence")).to_contain_text("best guess")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "page-not-a-digit.png"))
    page.click("#clear")


# Which rows and columns of a canvas (in its own pixels) hold anything not transparent.
PAINTED_ROWS_AND_COLUMNS = """(id) => {
  const canvas = document.getElementById(id);
  const { data, width, height } = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height);
  const rows = new Array(height).fill(false), columns = new Array(width).fill(false);
  for (let i = 3; i < data.length; i += 4) {
    if (data[i] > 0) { rows[Math.floor((i >> 2) / width)] = true; columns[(i >> 2) % width] = true; }
  }
  return { rows, columns };
}"""


def runs(flags: list[bool]) -> list[tuple[int, int]]:
    """The [start, end) spans where ``flags`` is true."""
    spans, start = [], None
    for index, flag in enumerate([*flags, False]):
        if flag and start is None:
            start = index
        elif not flag and start is not None:
            spans.append((start, index))
            start = None
    return spans


def painted_extent(page, canvas_id: str) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """The painted spans of ``canvas_id``'s columns and rows, in canvas pixels."""
    painted = page.evaluate(PAINTED_ROWS_AND_COLUMNS, canvas_id)
    return runs(painted["columns"]), runs(painted["rows"])


def assert_heat_maps_lie_on_the_ink(page) -> list[tuple[int, int]]:
    """The overlay covers the canvas's drawing area, and its heat maps sit on the ink, not beside it
    (1 px of tolerance for the rounding of boxes and the smoothing of stretched images). Returns the
    heat maps' spans of columns."""
    overlay, drawing = page.locator("#heatmap").bounding_box(), page.locator("#canvas").bounding_box()
    border = 2
    assert overlay["x"] == pytest.approx(drawing["x"] + border, abs=1)
    assert overlay["y"] == pytest.approx(drawing["y"] + border, abs=1)
    assert overlay["width"] == pytest.approx(drawing["width"] - 2 * border, abs=1)
    assert overlay["height"] == pytest.approx(drawing["height"] - 2 * border, abs=1)
    heat_columns, heat_rows = painted_extent(page, "heatmap")
    ink_columns, ink_rows = painted_extent(page, "canvas")
    assert heat_columns and heat_rows, "the overlay is blank"
    for heat_spans, ink_spans in ((heat_columns, ink_columns), (heat_rows, ink_rows)):
        for start, end in heat_spans:
            assert any(ink_start - 1 <= start and end <= ink_end + 1 for ink_start, ink_end in ink_spans)
    return heat_columns


def test_why_shows_which_ink_made_the_digit_over_the_drawing(page):
    why = page.locator("#why")
    expect(why).to_be_disabled()
    explain_requests = []

    def count_explain_requests(request):
        if request.url.endswith("/explain"):
            explain_requests.append(request)

    page.on("request", count_explain_requests)
    stroke(page, STROKES[7][0])
    expect(page.locator("#digit")).to_have_text("7", timeout=10_000)
    expect(why).to_be_enabled()
    expect(why).to_have_attribute("aria-pressed", "false")

    why.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#heatmap")).to_be_visible(timeout=10_000)
    expect(why).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#why-legend p")).to_have_text("orange: ink that made it a 7; blue: ink against it")
    expect(page.locator("#why-targets")).to_be_hidden()  # the legend already names the one digit
    assert_heat_maps_lie_on_the_ink(page)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "page-why-7.png"))

    page.keyboard.press("Enter")
    expect(why).to_have_attribute("aria-pressed", "false")
    expect(page.locator("#heatmap")).to_be_hidden()
    expect(page.locator("#why-legend")).to_be_hidden()
    page.keyboard.press("Space")
    expect(page.locator("#heatmap")).to_be_visible()
    page.remove_listener("request", count_explain_requests)
    assert len(explain_requests) == 1, "the explanation of an unchanged drawing is asked for once"

    stroke(page, [(300, 150), (320, 150)])  # any new ink makes the explanation stale
    expect(why).to_have_attribute("aria-pressed", "false")
    expect(page.locator("#heatmap")).to_be_hidden()
    page.click("#clear")
    expect(why).to_be_disabled()
    expect(why).to_have_attribute("aria-pressed", "false")
    expect(page.locator("#why-legend")).to_be_hidden()


def test_why_explains_each_digit_of_a_number_with_its_own_heat_map(page):
    digits = dict(one_of_each_digit())
    for points in number_strokes([digits[4], digits[2]], height=220, gap=100, top=25):
        stroke(page, points)
    expect(page.locator("#digit")).to_have_text("42", timeout=10_000)
    page.click("#why")
    expect(page.locator("#heatmap")).to_be_visible(timeout=10_000)
    expect(page.locator("#why-targets li")).to_have_text(["symbol 1: why a 4", "symbol 2: why a 2"])
    assert len(assert_heat_maps_lie_on_the_ink(page)) == 2
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "page-why-42.png"))
    page.click("#clear")
    expect(page.locator("#heatmap")).to_be_hidden()


def test_why_shows_the_explanation_error_and_stays_off(page):
    page.route("**/explain", lambda route: route.fulfill(
        status=503, content_type="application/json", body='{"error": "the model is not loaded"}'))
    try:
        stroke(page, STROKES[1][0])
        expect(page.locator("#digit")).to_have_text("1", timeout=10_000)
        page.click("#why")
        expect(page.locator("#status")).to_have_text("Could not explain the drawing: the model is not loaded")
        expect(page.locator("#why")).to_have_attribute("aria-pressed", "false")
        expect(page.locator("#heatmap")).to_be_hidden()
    finally:
        page.unroute("**/explain")
        page.click("#clear")
