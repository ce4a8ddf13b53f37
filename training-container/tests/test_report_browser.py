"""The evaluation report in a real browser: headless Debian Chromium opens a generated report from a file.

Chromium comes from Debian (``apt-get install chromium``; ``.ci/run`` installs it). Without it this module is skipped
loudly, except under ``CI=true``, where a missing browser fails the run.
"""
import json
import os
import time
import warnings
from pathlib import Path

import pytest

from browser import CHROMIUM, Chromium, Page, pixel_variance
from logo_detector.report import write_report
from reportdata import make_split

ELEMENT_RECTS = """JSON.stringify({
  plots: [...document.querySelectorAll('.pr-plot svg')].map(e => e.getBoundingClientRect().toJSON()),
  gallery: document.querySelector('.gallery').getBoundingClientRect().toJSON(),
  images: [...document.querySelectorAll('.gallery img')].map(e => ({
    complete: e.complete, natural: e.naturalWidth, rect: e.getBoundingClientRect().toJSON()})),
  scrollY: window.scrollY,
})"""


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if not Path(CHROMIUM).is_file():
        message = (f"{CHROMIUM} is missing, so the report's browser test cannot run: install it with "
                   "`apt-get update && apt-get install -y chromium` (.ci/run does).")
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        warnings.warn(message, stacklevel=1)
        pytest.skip("SKIPPED LOUDLY: " + message)
    with Chromium(tmp_path_factory.mktemp("chromium")) as chromium:
        yield chromium


@pytest.fixture(scope="module")
def report_file(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("report")
    result, images = make_split(folder)
    write_report(folder / "model", result, images, "train-2026-11-30-1200", {})
    return folder / "model" / "report.html"


def rects(page: Page) -> dict:
    """Where the PR plots, the gallery and each gallery image are drawn (CSS pixels), and each image's state."""
    return json.loads(page.evaluate(ELEMENT_RECTS))


def test_the_report_renders_its_plots_and_gallery_without_console_errors(browser, report_file):
    page = Page(browser, report_file.as_uri())
    assert page.console_errors() == []
    found = rects(page)
    assert found["scrollY"] == 0, "clips below are page coordinates only at the top of the page"
    assert len(found["plots"]) == 2 and len(found["images"]) == 8
    for plot in found["plots"]:
        assert plot["width"] > 100 and plot["height"] > 100
    for image in found["images"]:
        assert image["complete"] and image["natural"] > 0
        assert image["rect"]["width"] > 50 and image["rect"]["height"] > 50
    screenshot = page.screenshot()
    for rect in [*found["plots"], found["gallery"], *(image["rect"] for image in found["images"])]:
        box = tuple(round(v) for v in (rect["x"], rect["y"], rect["x"] + rect["width"], rect["y"] + rect["height"]))
        assert pixel_variance(screenshot.crop(box)) > 0, f"the region {box} of the screenshot is blank"


def test_a_page_that_reaches_outside_is_caught(browser, report_file, tmp_path):
    # The check above could pass vacuously if errors were not collected; an external image must show up as one.
    leaky = tmp_path / "leaky.html"
    leaky.write_text(report_file.read_text().replace("<main>", '<main><img src="https://example.invalid/a.png">', 1))
    page = Page(browser, leaky.as_uri())
    deadline = time.monotonic() + 10  # the refusal trails the load event; on a busy machine by more than a moment
    while not (errors := page.console_errors(settle=0.2)) and time.monotonic() < deadline:
        pass
    assert any("Content Security Policy" in e and "example.invalid" in e for e in errors), errors
