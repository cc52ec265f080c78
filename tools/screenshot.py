"""Take the README screenshots from the real app in headless Chromium.

Usage: python tools/screenshot.py [PAGE_PATH ...]   (default: the Compare page) -> assets/screenshot-<page>.png
       python tools/screenshot.py lesson               -> assets/screenshot-lesson.png (all ten steps)
       python tools/screenshot.py projection           -> with a typed sentence placed on both maps
Starts `streamlit run app.py` on a free loopback port, waits for the page to finish running, saves a full-page PNG.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
# Pages that render in stages: the text that shows the page is complete (else: a metric or a chart is enough).
READY_TEXT = {"lesson": "10. What next?"}
# Pages whose picture shows something typed: (the text box, what is typed, the button, the text that shows it is done).
TYPED = {
    "projection": (
        "Place your own sentences on the maps",
        "How old are you?\nThe bank raised its interest rates.",
        "Place",
        "P1",
    )
}
sys.path.insert(0, str(ROOT))  # run as `python tools/screenshot.py`: make `tools` importable

from tools.appserver import CHROMIUM, CHROMIUM_ARGS, running_app  # noqa: E402


def main(paths: list[str]) -> None:
    offline = {name: os.environ.get(name, "1") for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    with running_app(env_overrides=offline) as app, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 2600})
        expect.set_options(timeout=300_000)
        for path in paths or [""]:
            page.goto(f"{app.url}/{path}")
            expect(page.get_by_test_id("stMain")).to_be_visible()
            page.wait_for_function(
                "() => document.querySelectorAll('[data-testid=\"stMetricValue\"], .js-plotly-plot').length > 0",
                timeout=300_000,  # the Lesson encodes a few hundred sentences per model on a fresh server
            )
            if path in READY_TEXT:
                expect(page.get_by_text(READY_TEXT[path], exact=True)).to_be_visible()
            expect(page.get_by_test_id("stStatusWidget")).to_be_hidden()
            if path in TYPED:
                box, text, button, done = TYPED[path]
                page.get_by_role("textbox", name=box).fill(text)
                page.get_by_role("button", name=button, exact=True).click()
                expect(page.get_by_text(done, exact=True).first).to_be_visible(timeout=300_000)
                expect(page.get_by_test_id("stStatusWidget")).to_be_hidden()
            page.wait_for_timeout(4000)  # let plotly finish its transitions before the picture
            target = ROOT / "assets" / f"screenshot-{path or 'compare'}.png"
            page.screenshot(path=str(target), full_page=True)
            print(target)
        browser.close()


if __name__ == "__main__":
    main(sys.argv[1:])
