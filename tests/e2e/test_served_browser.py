"""Served mode in a real browser: the app started with EMBEDLAB_SERVED=1 refuses a link naming /etc/passwd and a
model folder typed into a model box, says why, and shows nothing of the file."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from embedlab.models.names import MODELS_DIR_ENV
from embedlab.served import SERVED_ENV
from tests.e2e.conftest import SERVER_START_S, WHOLE_PAGE, settled
from tools.appserver import running_app

pytestmark = pytest.mark.e2e
REFUSED = "This server is in served mode"


@pytest.fixture(scope="module")
def served_url(tmp_path_factory):
    """A second app server, in served mode, with an empty models directory of its own."""
    models = tmp_path_factory.mktemp("served-models")
    try:
        with running_app(
            {SERVED_ENV: "1", MODELS_DIR_ENV: str(models), **WHOLE_PAGE}, start_timeout_s=SERVER_START_S
        ) as app:
            yield app.url
    except RuntimeError as error:
        pytest.fail(str(error))


def test_an_sts_link_naming_etc_passwd_is_refused(new_tab, served_url):
    tab = new_tab()
    tab.goto(f"{served_url}/sts_eval?data=path&path=%2Fetc%2Fpasswd")
    expect(tab.get_by_role("heading", name="Best configurations")).to_be_visible()
    settled(tab)
    refusal = tab.get_by_test_id("stAlert").filter(has_text=REFUSED).filter(has_text="/etc/passwd")
    expect(refusal.first).to_be_visible()
    expect(refusal.first).to_contain_text("upload the file instead")
    expect(tab.get_by_role("button", name="Open this file")).to_have_count(0)
    expect(tab.get_by_test_id("stSidebar")).to_contain_text("Served mode:")
    assert "root:" not in tab.content()


def test_a_model_folder_typed_in_a_model_box_is_refused(new_tab, served_url):
    tab = new_tab()
    tab.goto(served_url)
    expect(tab.get_by_test_id("stMetric").filter(has_text="Trained ·").first).to_be_visible()
    settled(tab)
    panel = tab.get_by_test_id("stExpander").filter(has_text="Change the trained model")
    panel.get_by_text("Change the trained model").click()
    box = panel.get_by_role("combobox", name="Model")
    box.click()
    box.fill("/etc")
    box.press("Enter")
    settled(tab)
    refusal = tab.get_by_test_id("stAlert").filter(has_text=REFUSED).filter(has_text="'/etc'")
    expect(refusal.first).to_be_visible()
    expect(refusal.first).to_contain_text("pick a saved model")
    trained = tab.get_by_test_id("stMetric").filter(has_text="Trained ·").first
    expect(trained.get_by_test_id("stMetricValue")).to_have_text(re.compile(r"^-?\d\.\d+$"))  # the page carries on
