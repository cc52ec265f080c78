"""Train a small run in the real app, then find the trained model in the Compare page's model box and score with it.

The run: SimCSE on the bundled sentences, 2 steps, evaluated on the bundled STS pairs (no ../shared needed). The
server's models directory is the session's temporary one (``app_models_dir``), so nothing lands in the user's cache.
Every widget change is committed (Enter, or a click) and waited for (``settled``) before the next one: a click
that lands during a rerun can be lost.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import choose, settled

pytestmark = pytest.mark.e2e
NAME = "browser-simcse"
RUN_MS = 300_000  # before/after measurements, 2 steps, saving: about 30 s here; generous for a loaded CI machine


def commit(tab, field, value: str) -> None:
    field.fill(value)
    field.press("Enter")
    settled(tab)
    expect(field).to_have_value(value)


def test_a_small_run_trains_to_completion_and_its_model_is_offered_on_compare(page, app_url, app_models_dir):
    page.goto(f"{app_url}/train")
    expect(page.get_by_role("heading", name="Train", exact=True)).to_be_visible()
    expect(page.get_by_role("heading", name="3. Settings")).to_be_visible()  # the composer has loaded its model
    settled(page)

    choose(page, "Method", re.compile(r"^simcse:"))
    expect(page.get_by_role("combobox", name="Method")).to_have_value(re.compile(r"^simcse:"))
    page.get_by_role("radiogroup", name="Data").get_by_text("Bundled (offline, small)", exact=True).first.click()
    settled(page)
    expect(page.get_by_text(re.compile(r"bundled sentences .* distinct sentences"))).to_be_visible()
    commit(page, page.get_by_label("STS evaluation file (empty: the small bundled set)"), "")
    page.get_by_role("radiogroup", name="Length").get_by_text("max steps", exact=True).first.click()
    settled(page)
    commit(page, page.get_by_role("spinbutton", name="Max steps"), "2")
    commit(page, page.get_by_label("Save as (a folder under the models directory)"), NAME)

    start = page.get_by_role("button", name="Start training")
    expect(start).to_be_enabled()
    start.click()
    done = page.get_by_test_id("stAlert").filter(has_text=re.compile(r"2 steps in \d+ s"))
    expect(done).to_be_visible(timeout=RUN_MS)
    expect(done).to_contain_text(NAME)
    assert (app_models_dir / NAME / "modules.json").is_file()
    expect(page.get_by_text("Before / after", exact=True)).to_be_visible()

    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Compare").click()
    expect(page.get_by_role("heading", name="Compare")).to_be_visible()
    settled(page)
    trained_panel = page.get_by_test_id("stExpander").filter(has_text="Change the trained model")
    trained_panel.get_by_text("Change the trained model").click()
    choose(page, "Model", f"{NAME} (saved)", within=trained_panel)
    trained_metric = page.get_by_test_id("stMetric").filter(has_text="Trained ·").first
    expect(trained_metric).to_contain_text(NAME)
    expect(trained_metric.get_by_test_id("stMetricValue")).to_have_text(re.compile(r"^-?\d\.\d+$"))


def test_a_stopped_run_says_it_is_stopping_until_its_model_is_measured_and_saved(page, app_url, app_models_dir):
    """Stop in the middle of a long run: the bar stops counting down an ETA and says what the run now does (it ends
    its step, the stopped model is measured, then saved), and the run ends 'stopped early' with its model kept."""
    name = "browser-stopped"
    page.goto(f"{app_url}/train")
    expect(page.get_by_role("heading", name="3. Settings")).to_be_visible()
    settled(page)
    choose(page, "Method", re.compile(r"^simcse:"))
    page.get_by_role("radiogroup", name="Data").get_by_text("Bundled (offline, small)", exact=True).first.click()
    settled(page)
    commit(page, page.get_by_label("STS evaluation file (empty: the small bundled set)"), "")
    page.get_by_role("radiogroup", name="Length").get_by_text("max steps", exact=True).first.click()
    settled(page)
    commit(page, page.get_by_role("spinbutton", name="Max steps"), "5000")
    commit(page, page.get_by_label("Save as (a folder under the models directory)"), name)
    page.get_by_role("button", name="Start training").click()

    expect(page.get_by_text(re.compile(r"^training: step \d+/5000"))).to_be_visible(timeout=RUN_MS)
    page.get_by_role("button", name="Stop", exact=True).click()
    stopping = page.get_by_text(re.compile(r"^stopping at step \d+/5000: (measuring the stopped model|saving)"))
    expect(stopping).to_be_visible()
    expect(page.get_by_text(re.compile(r"ETA \d+ s"))).to_have_count(0)
    done = page.get_by_test_id("stAlert").filter(has_text="stopped early")
    expect(done).to_be_visible(timeout=RUN_MS)
    assert (app_models_dir / name / "modules.json").is_file()
