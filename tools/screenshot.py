"""Take the README screenshots from the real app in headless Chromium.

Usage: python tools/screenshot.py [PAGE_PATH ...]   (default: the Compare page) -> assets/screenshot-<page>.png
Starts `streamlit run app.py` on a free loopback port, waits for the page to finish running, saves a full-page PNG.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import urllib.request
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


def main(paths: list[str]) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "HF_HUB_OFFLINE": os.environ.get("HF_HUB_OFFLINE", "1")}
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
        url = f"http://127.0.0.1:{port}"
        urllib.request.urlopen(f"{url}/_stcore/health", timeout=30).read()
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            page = browser.new_page(viewport={"width": 1440, "height": 2600})
            expect.set_options(timeout=300_000)
            for path in paths or [""]:
                page.goto(f"{url}/{path}")
                expect(page.get_by_test_id("stMain")).to_be_visible()
                page.wait_for_function(
                    "() => document.querySelectorAll('[data-testid=\"stMetricValue\"], .js-plotly-plot').length > 0"
                )
                expect(page.get_by_test_id("stStatusWidget")).to_be_hidden()
                page.wait_for_timeout(1500)  # let plotly finish its transitions before the picture
                target = ROOT / "assets" / f"screenshot-{path or 'compare'}.png"
                page.screenshot(path=str(target), full_page=True)
                print(target)
            browser.close()
    finally:
        server.terminate()


if __name__ == "__main__":
    main(sys.argv[1:])
