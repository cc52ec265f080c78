"""An embeddings service that fails or hangs, in a real browser (issue 31 items 3 and 9): a failed call leaves its
error and no "Encoding …" bar; while a call hangs the page says how long it may take, and leaving the page works at
once instead of after the call's bound."""

from __future__ import annotations

import time

import numpy as np
import pytest
from playwright.sync_api import expect

from embedlab.models.names import MODELS_DIR_ENV
from tests.e2e.conftest import SERVER_START_S, WHOLE_PAGE, settled
from tests.embedstandin import EmbeddingStandIn
from tools.appserver import running_app

pytestmark = pytest.mark.e2e
KEY = "sk-browser-0123456789abcdef"
BOUND_S = 60  # the server's bound of one service call: far longer than leaving the page may take
LEAVE_WITHIN_S = 20  # a loaded machine's slack for a rerun of another page


@pytest.fixture(scope="module")
def service():
    """A stand-in service of constant vectors (what it answers does not matter here, only how it fails)."""
    with EmbeddingStandIn(key=KEY, encode=lambda texts: np.ones((len(texts), 8), np.float32)) as standin:
        yield standin


@pytest.fixture(scope="module")
def app(tmp_path_factory, service):
    env = {
        MODELS_DIR_ENV: str(tmp_path_factory.mktemp("service-models")),
        "EMBEDLAB_API_KEY": KEY,
        "EMBEDLAB_SERVICE_TIMEOUT_S": str(BOUND_S),
    }
    try:
        with running_app({**env, **WHOLE_PAGE}, start_timeout_s=SERVER_START_S) as server:
            yield server.url
    except RuntimeError as error:
        pytest.fail(str(error))


def type_trained_model(tab, ref: str) -> None:
    """Compare, its first scores shown, then ``ref`` typed into the trained model box."""
    expect(tab.get_by_test_id("stMetric").filter(has_text="Trained ·").first).to_be_visible()
    settled(tab)
    panel = tab.get_by_test_id("stExpander").filter(has_text="Change the trained model")
    panel.get_by_text("Change the trained model").click()
    box = panel.get_by_role("combobox", name="Model")
    box.click()
    box.fill(ref)
    box.press("Enter")


def test_a_failed_call_leaves_its_error_and_no_busy_bar(new_tab, app, service):
    service.fail, service.fail_times = "401", None
    tab = new_tab()
    tab.goto(app)
    type_trained_model(tab, service.ref("refused-model"))
    settled(tab)
    expect(tab.get_by_test_id("stAlert").filter(has_text="refused the key (401)").first).to_be_visible()
    assert service.requests, "the page never called the service"
    expect(tab.get_by_test_id("stProgress")).to_have_count(0)
    expect(tab.get_by_text("Encoding", exact=False)).to_have_count(0)


def test_a_hanging_call_shows_its_bound_and_the_page_can_be_left(new_tab, app, service):
    service.fail, service.fail_times = "hang", None
    service.release.clear()
    tab = new_tab()
    tab.goto(app)
    try:
        type_trained_model(tab, service.ref("hanging-model"))
        waiting = tab.get_by_test_id("stProgress").filter(has_text=f"of at most {BOUND_S} s")
        expect(waiting).to_be_visible()
        left = time.monotonic()
        tab.get_by_test_id("stSidebarNav").get_by_role("link", name="Tokens & layers").click()
        expect(tab.get_by_role("heading", name="Tokens & layers")).to_be_visible(timeout=LEAVE_WITHIN_S * 1000)
        settled(tab)
        assert time.monotonic() - left < LEAVE_WITHIN_S < BOUND_S
    finally:
        service.release.set()  # let the hanging handlers go
        service.fail = None
