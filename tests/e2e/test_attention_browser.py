"""Real browser: the Tokens & layers page draws what [CLS] looks at (heatmap, shares by layer) and switches to the
trained side in one click; the Projection page places a typed sentence on both maps with its neighbours."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e
FIRST_LOAD_MS = 240_000


def test_cls_attention_heatmap_shares_and_the_trained_side(page, app_url):
    page.goto(f"{app_url}/tokens")
    expect(page.get_by_role("heading", name="What [CLS] looks at")).to_be_visible(timeout=FIRST_LOAD_MS)
    plots = page.locator(".js-plotly-plot")
    shares = plots.filter(has_text="share of attention")
    expect(shares).to_have_count(1, timeout=FIRST_LOAD_MS)
    shares.scroll_into_view_if_needed()
    for name in ("[CLS] (the first token)", "[SEP]", "punctuation", "words"):
        expect(shares.locator(".legendtext", has_text=name)).to_have_count(1)
    heatmap = plots.filter(has_text="attention").filter(has_text="0 [CLS]").last
    expect(heatmap.locator(".hm").first).to_be_attached()
    caption = page.get_by_text("eager attention on a private copy", exact=False)
    expect(caption).to_be_visible()
    trained = page.get_by_role("radio", name="trained model")
    trained.click()
    expect(trained).to_have_attribute("aria-checked", "true")
    expect(page.get_by_text("token 0 [CLS] in each of the 6 layers", exact=False)).to_be_visible()
    expect(page.locator("[data-testid=stException]")).to_have_count(0)


def test_a_typed_sentence_lands_on_both_projection_maps(page, app_url):
    page.goto(f"{app_url}/projection")
    maps = page.locator(".js-plotly-plot")
    expect(maps).to_have_count(2, timeout=FIRST_LOAD_MS)
    box = page.get_by_role("textbox", name="Place your own sentences on the maps")
    box.fill("Knead the dough and let it rise.")
    page.get_by_role("button", name="Place", exact=True).click()
    expect(maps.filter(has_text="your sentences (placed)")).to_have_count(2, timeout=FIRST_LOAD_MS)
    expect(maps.first.locator("text", has_text="P1").first).to_be_attached()
    listed = page.get_by_text("is nearest to:", exact=False)
    expect(listed).to_have_count(2)
    expect(page.get_by_text("A placed sentence (✕) is approximate", exact=False)).to_be_visible()
