"""Real headless Chromium against `streamlit run app.py` on a free loopback port.

Without /usr/bin/chromium the tests skip, except when EMBEDLAB_REQUIRE_BROWSER=1 (set by .ci/run): then they fail.
"""

from __future__ import annotations

import os
from contextlib import ExitStack
from pathlib import Path

import pytest

from tools.appserver import CHROMIUM, CHROMIUM_ARGS, running_app

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


@pytest.fixture(scope="session")
def app_url():
    """Start the app once per session; yields its base URL once /_stcore/health answers ok."""
    with ExitStack() as stack:
        try:
            app = stack.enter_context(running_app(start_timeout_s=SERVER_START_S))
        except RuntimeError as error:
            pytest.fail(str(error))
        yield app.url


@pytest.fixture()
def page(browser, app_url):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    tab = context.new_page()
    tab.set_default_timeout(120_000)
    yield tab
    context.close()


@pytest.fixture()
def new_tab(browser):
    """Open tabs, each in a fresh browser context (a new session); ``new_tab(viewport)``. All closed after the test."""
    contexts = []

    def open_tab(viewport: dict | None = None):
        context = browser.new_context(viewport=viewport or {"width": 1400, "height": 1000})
        contexts.append(context)
        tab = context.new_page()
        tab.set_default_timeout(120_000)
        return tab

    yield open_tab
    for context in contexts:
        context.close()


def settled(tab) -> None:
    """Wait until Streamlit's running indicator is gone: the rerun has finished."""
    from playwright.sync_api import expect

    expect(tab.get_by_test_id("stStatusWidget")).to_be_hidden()
