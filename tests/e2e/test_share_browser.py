"""Shareable links in the real app: a view set up on Compare opens the same in a fresh browser context."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import settled

pytestmark = pytest.mark.e2e
FIRST = "A violinist tunes her instrument."
SECOND = "Someone prepares to play music."


def shown(tab) -> dict:
    """What the Compare page shows for the selected pair: the pair, the raw summary line, both scores."""
    raw = tab.get_by_test_id("stMetric").filter(has_text="Raw ·")
    trained = tab.get_by_test_id("stMetric").filter(has_text="Trained ·")
    return {
        "pair": tab.get_by_role("combobox", name="Pair").input_value(),
        "summary": tab.get_by_test_id("stMarkdownContainer").filter(has_text=re.compile(r"^Raw:")).first.inner_text(),
        "raw_label": raw.get_by_test_id("stMetricLabel").inner_text(),
        "raw": raw.get_by_test_id("stMetricValue").inner_text(),
        "trained": trained.get_by_test_id("stMetricValue").inner_text(),
    }


def test_a_compare_view_opens_the_same_in_a_fresh_context(new_tab, app_url):
    tab = new_tab()
    tab.goto(app_url)
    expect(tab.get_by_test_id("stMetric").first).to_be_visible()
    settled(tab)

    tab.get_by_label("Sentence 1").fill(FIRST)
    tab.get_by_label("Sentence 2").fill(SECOND)
    tab.get_by_role("button", name="Add pair").click()
    expect(tab.get_by_role("combobox", name="Pair")).to_have_value(re.compile(re.escape(SECOND)))
    settled(tab)
    tab.get_by_text("Change the raw pooling").click()
    tab.get_by_test_id("stRadio").filter(has_text="Pooling").get_by_text("mean", exact=True).click()
    expect(tab.get_by_test_id("stMetric").filter(has_text="Raw ·")).to_contain_text("mean")
    settled(tab)
    expect(tab).to_have_url(re.compile("mean"))  # the URL follows the view
    expect(tab).to_have_url(re.compile("violinist"))
    before = shown(tab)
    assert "mean" in before["summary"] and SECOND in before["pair"]
    url = tab.url

    other = new_tab()  # a new browser context: a new session, no shared state
    other.goto(url)
    expect(other.get_by_test_id("stMetric").filter(has_text="Raw ·")).to_contain_text("mean")
    settled(other)
    assert shown(other) == before
    expect(other.get_by_test_id("stAlert").filter(has_text="Ignored")).to_have_count(0)


def test_garbage_parameters_show_a_note_and_a_working_page(new_tab, app_url):
    tab = new_tab()
    tab.goto(f"{app_url}/?raw=%7Bbroken&pairs=%5B%5B1%5D%5D&pair=x&colour=blue")
    expect(tab.get_by_test_id("stMetric").filter(has_text="Raw ·")).to_be_visible()
    settled(tab)
    alerts = tab.get_by_test_id("stAlert").filter(has_text="Ignored the link")
    for param in ("raw", "pairs", "pair", "colour"):
        expect(alerts.filter(has_text=re.compile(rf"parameter `{param}`"))).to_have_count(1)  # literal text
    expect(tab.get_by_test_id("stException")).to_have_count(0)
    float(tab.get_by_test_id("stMetric").filter(has_text="Raw ·").get_by_test_id("stMetricValue").inner_text())
    expect(tab).not_to_have_url(re.compile("colour"))  # the URL written back is the page's clean view
