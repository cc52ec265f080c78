"""Cold start of the app to the first scored pair, and the server's peak memory.

Run: python bench/bench_app_start.py
Starts `streamlit run app.py` (offline, packaged model), opens the Compare page in headless Chromium and measures
  - server start: process launch -> the server prints its URL,
  - first scored pair: process launch -> the first score (a metric value) is visible in the browser,
  - a warm reload of the page in a new browser tab (models cached in the server),
  - peak resident memory of the server process (VmHWM).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


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
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        expect.set_options(timeout=300_000)
        started = time.perf_counter()
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "streamlit",
                "run",
                "app.py",
                "--server.port",
                str(port),
                "--server.address",
                "127.0.0.1",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            for line in server.stdout:
                if f":{port}" in line:
                    break
            listening = time.perf_counter() - started
            url = f"http://127.0.0.1:{port}"
            cold = first_score_seconds(browser, url, started)
            warm_start = time.perf_counter()
            warm = first_score_seconds(browser, url, warm_start)
            peak = peak_rss_mb(server.pid)
        finally:
            server.terminate()
            browser.close()
    print("| figure | value |")
    print("|---|---|")
    print(f"| server listening after launch | {listening:.1f} s |")
    print(f"| cold start to first scored pair (browser) | {cold:.1f} s |")
    print(f"| new session, models cached | {warm:.1f} s |")
    print(f"| server peak memory (VmHWM) | {peak:.0f} MB |")


if __name__ == "__main__":
    main()
