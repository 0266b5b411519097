"""The correction form in a real browser (Debian's Chromium, Playwright) on the real app, backed by
the real TorchServe and a store of its own: a 1 read right is corrected, the one-digit rule is
enforced on the page, and the correction arrives in the store as the page sent it."""

from __future__ import annotations

import threading

import pytest
from playwright.sync_api import expect, sync_playwright
from waitress import create_server

from bench.loadgen import web_app
from corrections.store import open_store, with_status
from serving.settings import CHROMIUM, CHROMIUM_ARGS


@pytest.fixture(scope="module")
def store_url(tmp_path_factory):
    return f"sqlite:///{tmp_path_factory.mktemp('store') / 'corrections.sqlite'}"


@pytest.fixture(scope="module")
def page(torchserve, store_url):
    server = create_server(web_app(torchserve, DATABASE_URL=store_url), host="127.0.0.1", port=0, threads=4)
    threading.Thread(target=server.run, daemon=True).start()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 900, "height": 640})
        page.goto(f"http://127.0.0.1:{server.effective_port}/")
        yield page
        browser.close()
    server.close()


def draw_a_one(page) -> None:
    box = page.locator("#canvas").bounding_box()
    scale = box["width"] / 560
    page.mouse.move(box["x"] + 150 * scale, box["y"] + 40 * scale)
    page.mouse.down()
    page.mouse.move(box["x"] + 140 * scale, box["y"] + 240 * scale, steps=8)
    page.mouse.up()


def test_a_correction_typed_on_the_page_is_kept(page, store_url):
    expect(page.locator("#correct")).to_be_hidden()
    draw_a_one(page)
    page.click("#predict")
    expect(page.locator("#digit")).to_have_text("1")
    expect(page.locator("#correct")).to_be_visible()
    expect(page.locator(".kept")).to_contain_text("salted hash of your address")
    page.fill("#correction", "77")  # one symbol was drawn: two digits are refused by the page itself
    page.click("#correct button")
    expect(page.locator("#correct-status")).to_have_text("")
    page.fill("#correction", "7")
    page.click("#correct button")
    expect(page.locator("#correct-status")).to_have_text("Thank you: kept for review.")
    engine = open_store(store_url)
    (kept,) = with_status(engine, "pending")
    engine.dispose()
    assert kept.correction == "7" and kept.model_version == "1.0" and kept.image.startswith(b"\x89PNG")
    page.click("#clear")
    expect(page.locator("#correct")).to_be_hidden()
