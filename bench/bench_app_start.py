"""Cold start of the app to the first scored pair, and the server's peak memory.

Run: python bench/bench_app_start.py
Starts `streamlit run app.py` (offline, packaged model), opens the Compare page in headless Chromium and measures
  - server start: process launch -> the server prints its URL,
  - the score table: process launch -> the table of cosines is visible in the browser,
  - first scored pair: process launch -> the first score (a metric value) is visible in the browser,
  - a warm reload of the page in a new browser tab (models cached in the server),
  - peak resident memory of the server process (VmHWM).
"""

from __future__ import annotations

import os
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


def first_score_seconds(browser, url: str, started: float) -> tuple[float, float]:
    """(the score table, the first metric) visible, in seconds since ``started``. The table shows the cosines as
    soon as the pairs are scored; the metrics ("One pair, up close") wait for the random-pair baselines."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(url)
    expect(page.get_by_test_id("stDataFrame").first).to_be_visible()
    table = time.perf_counter() - started
    expect(page.get_by_test_id("stMetricValue").first).to_be_visible()
    elapsed = time.perf_counter() - started
    page.close()
    return table, elapsed


def main() -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        expect.set_options(timeout=300_000)
        try:
            with running_app(start_timeout_s=300) as app:  # app.started: just before the process launch
                listening = app.listening - app.started
                load = os.getloadavg()[0]
                cold_table, cold = first_score_seconds(browser, app.url, app.started)
                warm_start = time.perf_counter()
                warm_table, warm = first_score_seconds(browser, app.url, warm_start)
                peak = peak_rss_mb(app.pid)
        finally:
            browser.close()
    print("| figure | value |")
    print("|---|---|")
    print(f"| server listening after launch | {listening:.1f} s |")
    print(f"| cold start to the score table (browser) | {cold_table:.1f} s |")
    print(f"| cold start to first scored pair (browser) | {cold:.1f} s |")
    print(f"| new session, models cached: score table / first metric | {warm_table:.1f} / {warm:.1f} s |")
    print(f"| server peak memory (VmHWM) | {peak:.0f} MB |")
    print(f"load average at launch: {load:.1f}, at the end: {os.getloadavg()[0]:.1f} (2 cores)")


if __name__ == "__main__":
    main()
