"""Type a new pair in the real app and check both scores against the command line's."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tools.offline import offline_environment

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
FIRST = "A chef is slicing onions in the kitchen."
SECOND = "Someone is cutting vegetables."


def cli_cosine(tmp_path: Path, model: str, pooling: str, layers: str) -> float:
    pairs = tmp_path / f"pair-{pooling}.csv"
    pairs.write_text(f"sentence1,sentence2\n{FIRST},{SECOND}\n", encoding="utf-8")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "embedlab",
            "score",
            str(pairs),
            "--model",
            model,
            "--pooling",
            pooling,
            "--layers",
            layers,
            "--json",
        ],
        cwd=ROOT,
        env=offline_environment(),
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return json.loads(done.stdout)["pairs"][0]["cosine"]


def test_deep_link_on_a_fresh_server_gets_the_whole_app(page, app_url):
    # First request of the session's server (this file runs first): a page URL must still go through app.py.
    page.goto(f"{app_url}/sts_eval")
    sidebar = page.get_by_test_id("stSidebar")
    expect(sidebar.get_by_role("heading", name="Embedding Lab")).to_be_visible()
    navigation = page.get_by_test_id("stSidebarNav")
    for title in ("Compare", "Projection", "Negative tests", "STS evaluation"):
        expect(navigation.get_by_role("link", name=title)).to_be_visible()


def test_typed_pair_scores_match_command_line(page, app_url, tmp_path):
    page.goto(app_url)
    expect(page.get_by_role("heading", name="Compare")).to_be_visible()
    expect(page.get_by_test_id("stMetricValue").first).to_be_visible()  # default examples scored

    page.get_by_label("Sentence 1").fill(FIRST)
    page.get_by_label("Sentence 2").fill(SECOND)
    page.get_by_role("button", name="Add pair").click()
    expect(page.get_by_role("combobox", name="Pair")).to_have_value(re.compile(re.escape(SECOND)))
    expect(page.get_by_test_id("stStatusWidget")).to_be_hidden()  # the run that added the pair has finished
    raw_metric = page.get_by_test_id("stMetric").filter(has_text="Raw ·")
    trained_metric = page.get_by_test_id("stMetric").filter(has_text="Trained ·")
    expect(raw_metric).to_be_visible()

    raw_label = raw_metric.get_by_test_id("stMetricLabel").inner_text()  # "Raw · MODEL · POOLING · layers SPEC"
    _, model, pooling, layers = [part.strip() for part in raw_label.split("·")]
    layers = layers.removeprefix("layers").strip()
    shown_raw = float(raw_metric.get_by_test_id("stMetricValue").inner_text())
    shown_trained = float(trained_metric.get_by_test_id("stMetricValue").inner_text())

    assert shown_raw == pytest.approx(cli_cosine(tmp_path, model, pooling, layers), abs=6e-4)
    assert shown_trained == pytest.approx(cli_cosine(tmp_path, "all-MiniLM-L6-v2", "model", "-1"), abs=6e-4)
    assert shown_trained > 0.3  # a paraphrase: the trained model must see it
