"""AppTest of Compare's "What a score means for this model": fit on request, the report, the "same meaning" column
beside each calibrated score, and bad labelled pairs getting a note while the page carries on."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from components.compare.calibration_view import BUNDLED, UPLOADED
from components.shared import state
from embedlab.embedding.encoder import Encoder
from embedlab.scorers.registry import open_scorer
from embedlab.tasks.calibration import bundled_labelled, calibrate, held_out
from tests.ui.apptest import ok, page_test

MODEL = "all-MiniLM-L6-v2"


@pytest.fixture(scope="module")
def app() -> AppTest:
    at = ok(page_test("compare").run())
    at.radio(key=state.CALIBRATION_SOURCE_WIDGET).set_value(BUNDLED).run()
    return ok(at)


def scores_table(at: AppTest) -> pd.DataFrame:
    return next(frame.value for frame in at.dataframe if "raw_cosine" in frame.value.columns)


def fit_button(at: AppTest):
    return at.button(key=state.CALIBRATION_FIT_BUTTON)


def test_a_fit_on_request_reports_and_adds_the_same_meaning_column(app, packaged_model):
    assert "trained_same_meaning" not in scores_table(app)  # nothing is fitted until asked
    assert any("distinct sentences" in caption.value for caption in app.caption)  # the cost, said before
    fit_button(app).click().run()
    ok(app)
    metrics = next(frame.value for frame in app.dataframe if "Brier score" in frame.value.columns)
    fit, held = held_out(bundled_labelled())
    expected = calibrate(open_scorer(MODEL, engine=lambda kind, model_id: Encoder(packaged_model)), fit, held)
    assert list(metrics["Brier score"]) == pytest.approx([expected.before.brier, expected.after.brier], abs=1e-6)
    assert any("Threshold:" in block.value for block in app.markdown)
    assert len(app.get("plotly_chart")) >= 2  # the bars, and the reliability diagram
    table = scores_table(app)
    cosines = pd.to_numeric(table["trained_cosine"])
    shown = table["trained_same_meaning"]
    assert shown.str.endswith("%").all()
    probabilities = pd.to_numeric(shown.str.rstrip("%")) / 100
    assert list(probabilities) == pytest.approx(list(np.round(expected.probability(cosines), 2)), abs=0.011)
    order = np.argsort(cosines.to_numpy())
    assert (np.diff(probabilities.to_numpy()[order]) >= 0).all()  # a higher cosine never means less
    assert "raw_same_meaning" not in table  # only the configuration fitted


def test_bad_labelled_pairs_get_a_note_and_the_page_carries_on(app):
    app.radio(key=state.CALIBRATION_SOURCE_WIDGET).set_value(UPLOADED).run()
    one_label = b"sentence1,sentence2,label\n" + b"".join(b"A%d.,B%d.,1\n" % (i, i) for i in range(12))
    app.file_uploader(key=state.CALIBRATION_UPLOAD_WIDGET).upload("ones.csv", one_label, "text/csv")
    app.run()
    assert not app.exception
    assert any("ones.csv has 0 pairs of not the same meaning" in error.value for error in app.error)
    assert "trained_cosine" in scores_table(app)  # the scores are still there
    app.file_uploader(key=state.CALIBRATION_UPLOAD_WIDGET).upload(
        "plain.csv", b"sentence1,sentence2\na,b\n", "text/csv"
    )
    app.run()
    assert any("plain.csv has no label column" in error.value for error in app.error)
    assert "trained_cosine" in scores_table(app)
