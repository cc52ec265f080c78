"""Real headless Chromium against `streamlit run app.py` on a free loopback port.

Without /usr/bin/chromium the tests skip, except when EMBEDLAB_REQUIRE_BROWSER=1 (set by .ci/run): then they fail.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SERVER_START_S = 180


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("EMBEDLAB_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{CHROMIUM} is missing and EMBEDLAB_REQUIRE_BROWSER=1: install Debian's chromium.")
        pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium)")
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=120_000)  # first model load and baselines take seconds

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield instance
        instance.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def app_url(tmp_path_factory):
    """Start the app once per session; yields its base URL once /_stcore/health answers ok."""
    port = _free_port()
    log_lines: list[str] = []
    ready = threading.Event()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
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
            "--server.headless",
            "true",
            "--browser.gatherUsageStats",
            "false",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )

    def follow() -> None:  # the server prints its URL once it listens
        for line in server.stdout:
            log_lines.append(line)
            if f":{port}" in line:
                ready.set()
        ready.set()  # exited: let the waiter see it

    threading.Thread(target=follow, daemon=True).start()
    url = f"http://127.0.0.1:{port}"
    try:
        if not ready.wait(timeout=SERVER_START_S) or server.poll() is not None:
            pytest.fail("streamlit did not start:\n" + "".join(log_lines)[-3000:])
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=30) as answer:
            assert answer.read().decode().strip() == "ok"
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()


@pytest.fixture()
def page(browser, app_url):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    tab = context.new_page()
    tab.set_default_timeout(120_000)
    yield tab
    context.close()
