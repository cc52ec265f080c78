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


def offered_on_compare(tab, *names: str) -> None:
    """Open Compare in ``tab`` and choose each saved model ``names`` as the trained model: its metric names it."""
    tab.get_by_test_id("stSidebarNav").get_by_role("link", name="Compare").click()
    expect(tab.get_by_role("heading", name="Compare")).to_be_visible()
    settled(tab)
    trained_panel = tab.get_by_test_id("stExpander").filter(has_text="Change the trained model")
    trained_panel.get_by_text("Change the trained model").click()
    for name in names:
        choose(tab, "Model", f"{name} (saved)", within=trained_panel)
        expect(tab.get_by_test_id("stMetric").filter(has_text="Trained ·").first).to_contain_text(name)


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

    offered_on_compare(page, NAME)
    trained_metric = page.get_by_test_id("stMetric").filter(has_text="Trained ·").first
    expect(trained_metric.get_by_test_id("stMetricValue")).to_have_text(re.compile(r"^-?\d\.\d+$"))


def test_a_stopped_run_says_it_is_stopping_until_its_model_is_measured_and_saved(page, app_url, app_models_dir):
    """Stop in the middle of a long run: the bar stops counting down an ETA and says what the run now does (it ends
    its step, the stopped model is measured, then saved), and the run ends 'stopped early' with its model kept."""
    name = "browser-stopped"
    prepare_run(page, app_url, name, 5000)
    page.get_by_role("button", name="Start training").click()

    expect(page.get_by_text(re.compile(rf"^{name}: training: step \d+/5000"))).to_be_visible(timeout=RUN_MS)
    page.get_by_role("button", name=f"Stop {name}", exact=True).click()
    stopping = page.get_by_text(re.compile(rf"^{name}: stopping at step \d+/5000: it ends its step"))
    expect(stopping).to_be_visible()
    expect(page.get_by_text(re.compile(r"ETA \d+ s"))).to_have_count(0)
    done = page.get_by_test_id("stAlert").filter(has_text="stopped early")
    expect(done).to_be_visible(timeout=RUN_MS)
    assert (app_models_dir / name / "modules.json").is_file()


def prepare_run(tab, app_url: str, name: str, steps: int) -> None:
    """The Train page set for a SimCSE run on the bundled sentences, ``steps`` steps, saved as ``name``."""
    tab.goto(f"{app_url}/train")
    expect(tab.get_by_role("heading", name="3. Settings")).to_be_visible()
    settled(tab)
    choose(tab, "Method", re.compile(r"^simcse:"))
    tab.get_by_role("radiogroup", name="Data").get_by_text("Bundled (offline, small)", exact=True).first.click()
    settled(tab)
    commit(tab, tab.get_by_label("STS evaluation file (empty: the small bundled set)"), "")
    tab.get_by_role("radiogroup", name="Length").get_by_text("max steps", exact=True).first.click()
    settled(tab)
    commit(tab, tab.get_by_role("spinbutton", name="Max steps"), str(steps))
    commit(tab, tab.get_by_label("Save as (a folder under the models directory)"), name)


def test_two_sessions_queue_a_run_each_and_both_models_reach_compare(new_tab, app_url, app_models_dir):
    """Two browsers (two sessions): the second run waits behind the first with its position shown, both train
    (in the worker the app started), and both models are offered in Compare's model box."""
    first, second = new_tab(), new_tab()
    prepare_run(first, app_url, "queued-first", 30)
    prepare_run(second, app_url, "queued-second", 2)
    first.get_by_role("button", name="Start training").click()
    expect(first.get_by_text(re.compile(r"^queued-first: (measuring|training|loading)"))).to_be_visible(timeout=RUN_MS)
    second.get_by_role("button", name="Start training").click()
    expect(second.get_by_text(re.compile(r"^queued-second: queued, position 1"))).to_be_visible(timeout=RUN_MS)

    expect(first.get_by_test_id("stAlert").filter(has_text=re.compile(r"30 steps in \d+ s"))).to_be_visible(
        timeout=RUN_MS
    )
    expect(second.get_by_test_id("stAlert").filter(has_text=re.compile(r"2 steps in \d+ s"))).to_be_visible(
        timeout=RUN_MS
    )
    for name in ("queued-first", "queued-second"):
        assert (app_models_dir / name / "modules.json").is_file()

    offered_on_compare(second, "queued-first", "queued-second")
