"""Open Tokens & layers in a real browser: the token x layer heatmap and the word-in-context chart render, and
picking another word redraws the chart."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e
FIRST_LOAD_MS = 240_000


def test_tokens_page_shows_heatmap_and_word_in_context(page, app_url):
    page.goto(f"{app_url}/tokens")
    expect(page.get_by_role("heading", name="Tokens & layers", exact=True)).to_be_visible(timeout=FIRST_LOAD_MS)
    plots = page.locator(".js-plotly-plot")

    heatmap = plots.filter(has_text="CLS takes this column")
    expect(heatmap).to_have_count(1, timeout=FIRST_LOAD_MS)
    heatmap.scroll_into_view_if_needed()
    expect(heatmap.locator(".hm").first).to_be_attached()  # the heatmap trace itself
    expect(heatmap.locator(".xtick text").first).to_have_text("0 [CLS]")

    chart = plots.filter(has_text="in context")
    expect(chart).to_have_count(1, timeout=FIRST_LOAD_MS)
    chart.scroll_into_view_if_needed()
    expect(chart.locator(".gtitle")).to_contain_text("'stick' in context")
    for name in ("same sense", "different sense", "unrelated words"):
        expect(chart.locator(".legendtext", has_text=name)).to_have_count(1)
    expect(chart.locator(".scatterlayer .trace")).to_have_count(3)

    page.get_by_role("combobox", name="Word").click()
    page.get_by_role("option", name="bank", exact=True).click()
    # while the page reruns the old chart may still be shown next to the new one: wait until only 'bank' is left
    expect(plots.filter(has_text="'bank' in context")).to_have_count(1)
    expect(plots.filter(has_text="'stick' in context")).to_have_count(0)
