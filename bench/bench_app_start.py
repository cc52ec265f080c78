"""Cold start of the app to the first scored pair, and the server's peak memory.

Run: python bench/bench_app_start.py
Starts `streamlit run app.py` (offline, packaged model), opens the Compare page in headless Chromium and measures
  - server start: process launch -> the server prints its URL,
  - first scored pair: process launch -> the first score (a metric value) is visible in the browser,
  - a warm reload of the page in a new browser tab (models cached in the server),
  - peak resident memory of the server process (VmHWM).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as `python bench/bench_app_start.py`: make `tools` importable

from tools.appserver import CHROMIUM, CHROMIUM_ARGS, running_app  # noqa: E402


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def first_score_seconds(browser, url: str, started: float) -> float:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(url)
    expect(page.get_by_test_id("stMetricValue").first).to_be_visible()
    elapsed = time.perf_counter() - started
    page.close()
    return elapsed


def main() -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        expect.set_options(timeout=300_000)
        try:
            with running_app(start_timeout_s=300) as app:  # app.started: just before the process launch
                listening = app.listening - app.started
                cold = first_score_seconds(browser, app.url, app.started)
                warm_start = time.perf_counter()
                warm = first_score_seconds(browser, app.url, warm_start)
                peak = peak_rss_mb(app.pid)
        finally:
            browser.close()
    print("| figure | value |")
    print("|---|---|")
    print(f"| server listening after launch | {listening:.1f} s |")
    print(f"| cold start to first scored pair (browser) | {cold:.1f} s |")
    print(f"| new session, models cached | {warm:.1f} s |")
    print(f"| server peak memory (VmHWM) | {peak:.0f} MB |")


if __name__ == "__main__":
    main()
