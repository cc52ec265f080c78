"""A corpus encoded and mapped through the Projection page in a real browser: the map is drawn by Plotly in its
frame, hover shows a text, and a box selection lists the selected texts below the map."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e
JOBS_MS = 300_000  # the app's worker loads the model, encodes, then fits the map: minutes on a busy 2-core machine
TEXTS = [f"Map note {i}: a sentence about {('rain', 'trains', 'cheese')[i % 3]} on day {i}." for i in range(24)]


def test_a_corpus_map_draws_in_its_frame_and_a_box_selection_lists_its_texts(page, app_url, tmp_path):
    corpus = tmp_path / "map-notes.txt"
    corpus.write_text("\n".join(TEXTS))
    page.goto(app_url + "/projection")
    expect(page.get_by_role("heading", name="Encode my corpus")).to_be_visible(timeout=JOBS_MS)
    page.get_by_test_id("stFileUploader").filter(has_text="Corpus file").locator("input[type=file]").set_input_files(
        str(corpus)
    )
    page.get_by_role("button", name="Encode with the workers").click()

    frame = page.frame_locator("iframe[title*='corpus_map']").first
    plot = frame.locator(".js-plotly-plot")
    expect(plot.locator(".gl-container canvas").first).to_be_attached(timeout=JOBS_MS)
    drawn = plot.evaluate("gd => gd._fullData.reduce((n, t) => n + (t.x ? t.x.length : 0), 0)")
    hovers = plot.evaluate("gd => gd.data.flatMap(t => Array.from(t.hovertext || []))")
    assert drawn == len(TEXTS) and sorted(hovers) == sorted(TEXTS)

    frame.locator(".modebar-btn[data-title='Box Select']").click()
    box = plot.locator(".nsewdrag").first.bounding_box()  # the plot area, in the page's coordinates
    assert box
    left, top = box["x"], box["y"]
    page.mouse.move(left + 2, top + 2)
    page.mouse.down()
    page.mouse.move(left + box["width"] - 2, top + box["height"] - 2, steps=8)
    page.mouse.up()
    expect(page.get_by_text(f"{len(TEXTS)} selected")).to_be_visible(timeout=60_000)
    listed = page.get_by_test_id("stDataFrame").filter(has=page.locator("th", has_text="text")).last
    expect(listed).to_be_visible()
