"""AppTest of the Negative tests page: bundled suite, upload, edits, thresholds, post-processing, extra configs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from components import negtest_view as view
from components.services import get_encoder
from embedlab.encoder import Encoder
from embedlab.negtest import bundled_suite, run_negtest
from embedlab.scoring import pair_cosines
from embedlab.specs import EmbedSpec

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "app_pages" / "negative_tests.py")
MODEL = "all-MiniLM-L6-v2"
UPLOAD = (
    "sentence1,sentence2,label\n"
    "What is your age?,How old are you?,1\n"
    "The cat chased the dog.,The dog chased the cat.,0\n"
    "How do I reset my password?,Volcanoes form where tectonic plates meet.,0\n"
)


@pytest.fixture()
def app() -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=300)
    at.run()
    assert not at.exception, at.exception
    return at


def metrics(at: AppTest, label: str) -> list[str]:
    return [m.value for m in at.metric if m.label == label]


def summary(at: AppTest) -> pd.DataFrame:
    return next(frame.value for frame in at.dataframe if "auc" in frame.value.columns)


def verdicts(at: AppTest) -> list[str]:
    return [md.value for md in at.markdown if md.value.startswith("**Verdict:**")]


def test_bundled_suite_is_tested_with_raw_and_trained(app, packaged_model):
    assert len(app.session_state[view.PAIRS]) == len(bundled_suite())
    table = summary(app)
    assert list(table["configuration"]) == [f"{MODEL} · cls · layers -1", f"{MODEL} · own pipeline"]
    expected = run_negtest(Encoder(packaged_model), EmbedSpec(MODEL), bundled_suite())
    row = table.iloc[1]
    assert row.auc == pytest.approx(expected.auc, abs=1e-9)
    assert row.threshold == pytest.approx(expected.threshold, abs=1e-9)
    assert row.failures == len(expected.failures)
    assert metrics(app, "ROC AUC")[1] == f"{expected.auc:.3f}"
    assert len(verdicts(app)) == 2 and "ROC AUC" in verdicts(app)[1]
    failures = [frame.value for frame in app.dataframe if "margin" in frame.value.columns][1]
    assert list(failures["row"]) == list(expected.failures["row"])  # worst first
    assert (np.diff(failures["margin"]) <= 0).all()


def test_upload_replaces_table_and_bad_upload_keeps_it(app):
    app.file_uploader(key=view.UPLOAD).upload("bad.csv", b"sentence1,sentence2,label\na,b,2\n", "text/csv")
    app.run()
    assert any("label '2' is not 0 or 1" in error.value for error in app.error)
    assert len(app.session_state[view.PAIRS]) == len(bundled_suite())

    app.file_uploader(key=view.UPLOAD).upload("mine.csv", UPLOAD.encode(), "text/csv")
    app.run()
    assert not app.exception
    assert any("Loaded 3 labelled pairs from mine.csv" in s.value for s in app.success)
    assert list(app.session_state[view.PAIRS]["sentence1"])[1] == "The cat chased the dog."
    assert len(summary(app)) == 2
    failures = [frame.value for frame in app.dataframe if "margin" in frame.value.columns]
    assert any("The dog chased the cat." in list(table["sentence2"]) for table in failures)


def test_user_threshold_counts_failures(app):
    app.number_input(key=view.threshold_key(1)).set_value(0.5).run()
    assert not app.exception
    row = summary(app).iloc[1]
    assert row.threshold == 0.5 and row.threshold_how == "set by you"
    suite = bundled_suite()
    pairs = list(zip(suite.sentence1, suite.sentence2, strict=True))
    scores = pair_cosines(get_encoder(MODEL), pairs, EmbedSpec(MODEL))
    wrong = ((suite.label == 0) & (scores >= 0.5)) | ((suite.label == 1) & (scores < 0.5))
    assert row.failures == int(wrong.sum())
    assert "your threshold, 0.50" in verdicts(app)[1]
    # the raw configuration keeps choosing its own best threshold
    assert summary(app).iloc[0].threshold_how.startswith("best separation")


def test_whitening_the_raw_side_runs_no_forward_pass_and_lowers_its_baseline(app):
    before = get_encoder(MODEL).forward_passes
    raw_baseline = summary(app).iloc[0].baseline_mean
    app.selectbox(key="negtest.raw.post").set_value("whiten").run()
    assert not app.exception
    row = summary(app).iloc[0]
    assert row.configuration == f"{MODEL} · cls · layers -1 · whitened"
    assert abs(row.baseline_mean) < 0.1 < raw_baseline
    app.number_input(key="negtest.raw.post_dims.whiten").set_value(64).run()
    assert summary(app).iloc[0].configuration.endswith("· whitened to 64")
    assert get_encoder(MODEL).forward_passes == before


def test_invalid_table_shows_why_and_keeps_it(app):
    app.session_state[view.pairs_editor_key(0)] = {
        "edited_rows": {0: {"label": None}},
        "added_rows": [],
        "deleted_rows": [],
    }
    app.run()
    assert not app.exception
    assert any("row 1: the label is missing" in error.value for error in app.error)
    assert not [frame for frame in app.dataframe if "auc" in frame.value.columns]
    assert app.session_state[view.PAIRS].iloc[0]["sentence1"] == bundled_suite().iloc[0]["sentence1"]


def test_edits_survive_leaving_and_returning(app):
    app.session_state[view.pairs_editor_key(0)] = {
        "edited_rows": {0: {"sentence1": "What is your name?"}},
        "added_rows": [],
        "deleted_rows": [],
    }
    app.run()
    assert app.session_state[view.PAIRS].at[0, "sentence1"] == "What is your name?"
    del app.session_state[view.pairs_editor_key(0)]  # leaving the page drops every widget's state
    app.run()
    assert not app.exception
    assert app.session_state[view.PAIRS].at[0, "sentence1"] == "What is your name?"
    assert app.data_editor[0].value.at[0, "sentence1"] == "What is your name?"


def test_an_added_configuration_is_tested_too(app):
    app.selectbox(key="negtest.add.pooling").set_value("mean")
    app.text_input(key="negtest.add.layers").set_value("first-last")
    app.selectbox(key="negtest.add.post").set_value("center")
    next(button for button in app.button if button.label == "Add configuration").click()
    app.run()
    assert not app.exception, app.exception
    assert app.session_state[view.EXTRA_SPECS] == [EmbedSpec(MODEL, "mean", "first-last", post="center")]
    assert list(summary(app)["configuration"])[-1] == f"{MODEL} · mean · layers first-last · centred"
    assert len(verdicts(app)) == 3
