"""Upload a labelled CSV in the real app and see its failing pair in the failures table."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e
PAIRS = (
    "sentence1,sentence2,label,category\n"
    "What is your age?,How old are you?,1,paraphrase\n"
    "A man is playing a guitar.,A person plays the guitar.,1,paraphrase\n"
    "The referee cautioned the striker.,The striker cautioned the referee.,0,role_reversal\n"
    "How do I reset my password?,Volcanoes form where tectonic plates meet.,0,unrelated\n"
)


def test_uploaded_pairs_show_their_failure(page, app_url, tmp_path):
    upload = tmp_path / "my_pairs.csv"
    upload.write_text(PAIRS, encoding="utf-8")
    page.goto(app_url)
    expect(page.get_by_role("heading", name="Compare")).to_be_visible()
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Negative tests").click()
    expect(page.get_by_role("heading", name="Negative tests")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/negative_tests(\?|$)"))  # the query string holds the view
    expect(page.get_by_text("Verdict:").first).to_be_visible()  # the bundled suite has been tested

    # the labelled-pairs uploader: the sidebar has Upload view, and "Generate from my sentences" its own uploader
    uploader = page.get_by_test_id("stMain").get_by_test_id("stFileUploader").filter(has_text="Upload labelled pairs")
    uploader.locator("input[type=file]").set_input_files(str(upload))
    expect(page.get_by_text("Loaded 4 labelled pairs from my_pairs.csv.")).to_be_visible()
    expect(page.get_by_test_id("stStatusWidget")).to_be_hidden()  # the run after the upload has finished

    # The trained model's own threshold on these four pairs: the role reversal scores like a paraphrase.
    expect(page.get_by_role("tab", name=re.compile("own pipeline"))).to_be_visible()
    page.get_by_role("tab", name=re.compile("own pipeline")).click()
    panel = page.get_by_role("tabpanel").filter(has_text="own pipeline")
    failures = panel.get_by_test_id("stDataFrame").filter(has_text="The striker cautioned the referee.")
    expect(failures).to_be_visible()
    expect(failures).to_contain_text("should not match, scores high")
    expect(panel.get_by_test_id("stMetricValue").filter(has_text=re.compile(r"^1 of 4$"))).to_be_visible()
