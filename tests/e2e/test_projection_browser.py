"""Open the Projection page in a real browser: both plotly plots render every bundled sentence, hover shows it."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from playwright.sync_api import expect

from embedlab.tasks.projection import bundled_sentences

pytestmark = pytest.mark.e2e
FIRST_LOAD_MS = 300_000  # model load, 400 sentences encoded, UMAP compiled once: minutes on a busy 2-core machine


def test_bundled_set_renders_two_plots(page, app_url):
    bundled = bundled_sentences()
    # Through the app's own navigation, as a user would go (deep links are covered in test_compare_browser.py).
    page.goto(app_url)
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Projection").click()
    expect(page.get_by_role("heading", name="Projection", exact=True)).to_be_visible()
    expect(page).to_have_url(app_url + "/projection")
    plots = page.locator(".js-plotly-plot")
    expect(plots).to_have_count(2, timeout=FIRST_LOAD_MS)
    for index, side in enumerate(("Raw", "Trained")):
        plot = plots.nth(index)
        expect(plot.locator(".main-svg").first).to_be_visible()
        expect(plot.locator(".gtitle")).to_contain_text(side)
        # Every sentence is a drawn point (plus the picked one and its ringed neighbours).
        expect(plot.locator(".scatterlayer .point")).to_have_count(len(bundled) + 1 + 5)
        for label in set(bundled.labels):
            expect(plot.locator(".legendtext", has_text=label)).to_have_count(1)
    expect(page.get_by_text("only approximate")).to_be_visible()

    # Hovering a point shows its full sentence and its label.
    plots.nth(1).locator(".scatterlayer .point").nth(10).hover(force=True)
    tooltip = plots.nth(1).locator(".hoverlayer .hovertext")
    expect(tooltip).to_be_visible()
    shown = "".join((tooltip.text_content() or "").split())  # SVG lines join without spaces: compare without any
    assert any(
        shown.startswith("".join(sentence.split())) and shown.endswith(label)
        for sentence, label in zip(bundled.sentences, bundled.labels, strict=True)
    ), shown

    # The Projector files: vectors.tsv has one row per sentence and no header, metadata.tsv a header and the labels.
    expect(page.get_by_test_id("stStatusWidget")).to_be_hidden()
    downloads = {}
    for name in ("vectors.tsv", "metadata.tsv"):
        with page.expect_download() as info:
            page.get_by_role("button", name=name).first.click()
        downloads[name] = Path(info.value.path()).read_text(encoding="utf-8").splitlines()
    vectors = downloads["vectors.tsv"]
    assert len(vectors) == len(bundled) and len({len(line.split("\t")) for line in vectors}) == 1
    assert all(math.isfinite(float(value)) for value in vectors[0].split("\t"))
    assert downloads["metadata.tsv"][0] == "sentence\tlabel"
    assert downloads["metadata.tsv"][1:] == [
        f"{s}\t{label}" for s, label in zip(bundled.sentences, bundled.labels, strict=True)
    ]
