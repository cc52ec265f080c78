"""A visitor who arrives while a fresh server starts sees that it is starting (not an empty page) and Compare's
scores computed without torch, then the page itself with the same scores."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from embedlab.models.names import MODELS_DIR_ENV
from tests.e2e.conftest import WHOLE_PAGE
from tools.appserver import running_app

pytestmark = pytest.mark.e2e


def test_the_first_visitor_of_a_fresh_server_sees_it_starting_then_the_scores(browser, tmp_path):
    with running_app({MODELS_DIR_ENV: str(tmp_path), **WHOLE_PAGE}) as app:  # its own server: the shared one is warm
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        try:
            tab = context.new_page()
            tab.set_default_timeout(120_000)
            tab.goto(app.url)
            starting = tab.get_by_text("Starting: loading the model and its baselines")
            expect(starting).to_be_visible()
            expect(tab.get_by_test_id("stProgress")).to_be_visible()
            scores = tab.get_by_test_id("stDataFrame").filter(has=tab.locator("th", has_text="Trained typical"))
            trained = tab.get_by_test_id("stMetric").filter(has_text="Trained ·").get_by_test_id("stMetricValue")
            raw = tab.get_by_test_id("stMetric").filter(has_text="Raw ·").get_by_test_id("stMetricValue")
            # the first look: the scores with their baselines while the libraries still load
            look = tab.get_by_text("While the libraries load, the packaged model runs without them")
            expect(look).to_be_visible()
            expect(scores).to_be_visible()
            expect(starting).to_be_visible()  # still starting: these scores came first
            first_look = (raw.inner_text(), trained.inner_text())
            expect(starting).to_be_hidden()  # the notice goes once the server is warm
            expect(look).to_be_hidden()
            expect(scores).to_be_visible()
            expect(trained).to_have_text(first_look[1])  # the page's own scores: the same to 3 decimals
            expect(raw).to_have_text(first_look[0])
        finally:
            context.close()
