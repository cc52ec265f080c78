"""Real headless Chromium against `streamlit run app.py` on a free loopback port.

Without /usr/bin/chromium the tests skip, except when EMBEDLAB_REQUIRE_BROWSER=1 (set by .ci/run): then they fail.
"""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

import pytest

from embedlab.models.names import MODELS_DIR_ENV
from embedlab.settings import get_settings
from tests.servehelpers import stop_queue_workers
from tools.appserver import CHROMIUM, CHROMIUM_ARGS, running_app

SERVER_START_S = 180
# The browser tests' servers draw Compare in one run: a test that clicks right after the page loads would otherwise
# race the first screen's follow-up run (components/shared/first_screen.py), which test_first_screen_browser.py
# tests on a server of its own.
WHOLE_PAGE = {"EMBEDLAB_FIRST_SCREEN": "0"}


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        if get_settings().require_browser:
            pytest.fail(f"{CHROMIUM} is missing and EMBEDLAB_REQUIRE_BROWSER=1: install Debian's chromium.")
        pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium)")
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=120_000)  # first model load and baselines take seconds

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield instance
        instance.close()


@pytest.fixture(scope="session")
def app_models_dir(tmp_path_factory) -> Path:
    """The browser tests' models directory: empty at the start, so no model saved on this machine shows up in a
    model box, and a model trained by a test never lands in the user's cache."""
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def app_url(app_models_dir):
    """Start the app once per session; yields its base URL once /_stcore/health answers ok."""
    try:
        with ExitStack() as stack:
            try:
                server = running_app(
                    {MODELS_DIR_ENV: str(app_models_dir), **WHOLE_PAGE}, start_timeout_s=SERVER_START_S
                )
                app = stack.enter_context(server)
            except RuntimeError as error:
                pytest.fail(str(error))
            yield app.url
    finally:
        stop_queue_workers(app_models_dir)  # the training worker the app started (detached) for the Train tests


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


def settled(tab, quiet_checks: int = 3, every_ms: int = 250) -> None:
    """Wait until Streamlit's running indicator is gone and stays gone for ``quiet_checks`` looks ``every_ms``
    apart: a rerun triggered just before may not have shown the indicator yet, and until it ends the page can
    hold the old copy of an element next to the new one."""
    from playwright.sync_api import expect

    running = tab.get_by_test_id("stStatusWidget")
    quiet = 0
    while quiet < quiet_checks:
        expect(running).to_be_hidden()
        tab.wait_for_timeout(every_ms)
        quiet = quiet + 1 if running.is_hidden() else 0


def choose(tab, box: str, option, within=None, attempts: int = 5) -> None:
    """Pick ``option`` (text or pattern) in the selectbox named ``box`` (inside the locator ``within`` if given).

    A rerun that starts just after the click closes the open list; then the click is repeated, up to ``attempts``.
    """
    from playwright.sync_api import Error

    combobox = (within or tab).get_by_role("combobox", name=box)
    choice = tab.get_by_role("option").filter(has_text=option)
    for _ in range(attempts):
        settled(tab)
        combobox.click()
        try:
            choice.first.click(timeout=5_000)
            settled(tab)
            return
        except Error:
            tab.keyboard.press("Escape")
    raise AssertionError(f"{box!r} never offered {option!r}")
