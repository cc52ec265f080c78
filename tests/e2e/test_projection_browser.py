"""Open the Projection page in a real browser: both plotly plots render every bundled sentence, hover shows it."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from components.shared.figures import _hover_text
from embedlab.embedding.encoder import Encoder
from embedlab.embedding.specs import EmbedSpec
from embedlab.models.loading import PACKAGED, load_model
from embedlab.tasks.projection import bundled_sentences, neighbours_of

pytestmark = pytest.mark.e2e
FIRST_LOAD_MS = 300_000  # model load, 400 sentences encoded, UMAP compiled once: minutes on a busy 2-core machine
PICKED_DEFAULT = 0  # the page starts with the first sentence picked


def test_bundled_set_renders_two_plots(page, app_url):
    bundled = bundled_sentences()
    encoder = Encoder(load_model(PACKAGED))
    # Through the app's own navigation, as a user would go (deep links are covered in test_compare_browser.py).
    page.goto(app_url)
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Projection").click()
    expect(page.get_by_role("heading", name="Projection", exact=True)).to_be_visible()
    expect(page).to_have_url(re.compile(re.escape(app_url + "/projection") + r"(\?|$)"))  # the query: the view
    plots = page.locator(".js-plotly-plot")
    expect(plots).to_have_count(2, timeout=FIRST_LOAD_MS)
    k_slider = page.get_by_test_id("stSlider").filter(has_text="Neighbours")  # the picker's, not UMAP's n_neighbors
    k = int(k_slider.get_by_test_id("stSliderThumbValue").inner_text())
    engine_neighbours = {}
    for index, (side, spec) in enumerate((("raw", EmbedSpec(PACKAGED, "cls", "-1")), ("trained", EmbedSpec(PACKAGED)))):
        # The app's default configurations offline (bert-base-uncased cannot be downloaded): the titles say so.
        expect(plots.nth(index).locator(".gtitle")).to_contain_text(spec.label)
        vectors = encoder.embed(bundled.sentences, spec)
        engine_neighbours[side] = [int(i) for i in neighbours_of(vectors, PICKED_DEFAULT, k)[0]]
    for index, side in enumerate(("Raw", "Trained")):
        plot = plots.nth(index)
        expect(plot.locator(".main-svg").first).to_be_visible()
        expect(plot.locator(".gtitle")).to_contain_text(side)
        # Every sentence is a drawn point, plus the picked one and its ringed neighbours: the engine's neighbours.
        neighbours = engine_neighbours[side.lower()]
        expect(plot.locator(".scatterlayer .point")).to_have_count(len(bundled) + 1 + len(neighbours))
        traces = plot.evaluate("gd => gd.data.map(t => [t.name, (t.customdata || []).map(c => c[0])])")
        (ringed,) = [hovers for name, hovers in traces if "nearest" in name]
        (picked,) = [hovers for name, hovers in traces if name == "picked sentence"]
        assert picked == [_hover_text(bundled.sentences[PICKED_DEFAULT])]
        assert ringed == [_hover_text(bundled.sentences[i]) for i in neighbours]
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
