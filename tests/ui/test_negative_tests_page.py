"""AppTest of the Negative tests page: bundled suite, upload, edits, thresholds, post-processing, extra configs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from components.negative_tests import negtest_view as view
from components.shared import state
from components.shared.services import get_encoder
from embedlab.embedding.encoder import Encoder
from embedlab.embedding.scoring import pair_cosines
from embedlab.embedding.specs import EmbedSpec
from embedlab.tasks.negtest import bundled_suite, check_labelled, renumbered, run_negtest
from tests.ui.apptest import ok, page_test

MODEL = "all-MiniLM-L6-v2"
UPLOAD = (
    "sentence1,sentence2,label\n"
    "What is your age?,How old are you?,1\n"
    "The cat chased the dog.,The dog chased the cat.,0\n"
    "How do I reset my password?,Volcanoes form where tectonic plates meet.,0\n"
)


@pytest.fixture()
def app() -> AppTest:
    return ok(page_test("negative_tests").run())


def metrics(at: AppTest, label: str) -> list[str]:
    return [m.value for m in at.metric if m.label == label]


def summary(at: AppTest) -> pd.DataFrame:
    return next(frame.value for frame in at.dataframe if "auc" in frame.value.columns)


def verdicts(at: AppTest) -> list[str]:
    return [md.value for md in at.markdown if md.value.startswith("**Verdict:**")]


def notes(at: AppTest) -> list[str]:
    return [info.value for info in at.info if "incomplete" in info.value]


def failure_tables(at: AppTest) -> list[pd.DataFrame]:
    return [frame.value for frame in at.dataframe if "margin" in frame.value.columns]


def edit(at: AppTest, edited=None, added=None, deleted=None, version: int = 0) -> None:
    """Seed the editor's state as the browser sends it (edited_rows keys: positions before deletions), run."""
    at.session_state[view.PAIRS_TABLE.editor_key(version)] = {
        "edited_rows": edited or {},
        "added_rows": added or [],
        "deleted_rows": deleted or [],
    }
    at.run()
    assert not at.exception, at.exception


def assert_failures_name_editor_rows(at: AppTest) -> None:
    """Every failure's Row is a row label of the table as edited, holding that very pair."""
    table = at.session_state[state.NEGTEST_PAIRS]
    for failures in failure_tables(at):
        assert len(failures)
        for row, first, second in zip(failures["row"], failures["sentence1"], failures["sentence2"], strict=True):
            assert (table.at[row, "sentence1"], table.at[row, "sentence2"]) == (first, second)


def test_bundled_suite_is_tested_with_raw_and_trained(app, packaged_model):
    assert len(app.session_state[state.NEGTEST_PAIRS]) == len(bundled_suite())
    table = summary(app)
    assert list(table["configuration"]) == [f"{MODEL} · cls · layers -1", f"{MODEL} · own pipeline"]
    expected = run_negtest(Encoder(packaged_model), EmbedSpec(MODEL), bundled_suite())
    row = table.iloc[1]
    assert row.auc == f"{expected.auc:.3f}"  # text: "undefined" where it is NaN
    assert row.threshold == pytest.approx(expected.threshold, abs=1e-9)
    assert row.failures == len(expected.failures)
    assert metrics(app, "ROC AUC")[1] == f"{expected.auc:.3f}"
    assert len(verdicts(app)) == 2 and "ROC AUC" in verdicts(app)[1]
    failures = failure_tables(app)[1]
    assert list(failures["row"]) == list(expected.failures["row"])  # worst first
    assert (np.diff(failures["margin"]) <= 0).all()
    # rows are numbered 1..n, as the editor's Row column shows them and as the file's data rows count
    assert list(app.session_state[state.NEGTEST_PAIRS].index) == list(range(1, len(bundled_suite()) + 1))
    assert list(app.data_editor[0].value.index) == list(app.session_state[state.NEGTEST_PAIRS].index)
    assert_failures_name_editor_rows(app)


def test_upload_replaces_table_and_bad_upload_keeps_it(app):
    app.file_uploader(key=state.NEGTEST_UPLOAD).upload("bad.csv", b"sentence1,sentence2,label\na,b,2\n", "text/csv")
    app.run()
    assert any("label '2' is not 0 or 1" in error.value for error in app.error)
    assert len(app.session_state[state.NEGTEST_PAIRS]) == len(bundled_suite())

    app.file_uploader(key=state.NEGTEST_UPLOAD).upload("mine.csv", UPLOAD.encode(), "text/csv")
    app.run()
    assert not app.exception
    assert any("Loaded 3 labelled pairs from mine.csv" in s.value for s in app.success)
    assert list(app.session_state[state.NEGTEST_PAIRS]["sentence1"])[1] == "The cat chased the dog."
    assert len(summary(app)) == 2
    failures = failure_tables(app)
    assert any("The dog chased the cat." in list(table["sentence2"]) for table in failures)
    assert_failures_name_editor_rows(app)


def test_user_threshold_counts_failures(app):
    app.number_input(key=state.negtest_threshold_widget(EmbedSpec(MODEL, "model").label)).set_value(0.5).run()
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


def test_a_missing_label_skips_that_row_with_a_note(app):
    edit(app, edited={0: {"label": None}})
    assert not app.error
    assert notes(app) == ["Row 1: incomplete (a sentence or the label is empty), not scored."]
    assert metrics(app, "Failures")[1].endswith(f"of {len(bundled_suite()) - 1}")
    assert len(summary(app)) == 2
    assert app.session_state[state.NEGTEST_PAIRS].iloc[0]["sentence1"] == bundled_suite().iloc[0]["sentence1"]
    assert all(1 not in set(failures["row"]) for failures in failure_tables(app))


def test_after_a_deletion_notes_and_failures_use_the_editors_row_numbers(app):
    # delete the row numbered 3, then blank sentence 2 of the row numbered 6 (now the 5th row on screen)
    edit(app, edited={5: {"sentence2": ""}}, deleted=[2])
    table = app.session_state[state.NEGTEST_PAIRS]
    assert 3 not in table.index and table.at[6, "sentence2"] == ""
    assert not app.error
    assert notes(app) == ["Row 6: incomplete (a sentence or the label is empty), not scored."]
    assert metrics(app, "Failures")[1].endswith(f"of {len(bundled_suite()) - 2}")
    assert_failures_name_editor_rows(app)
    assert all({3, 6}.isdisjoint(failures["row"]) for failures in failure_tables(app))
    # leaving and coming back remounts the editor on the edited table, renumbered 1..n: the note follows
    del app.session_state[view.PAIRS_TABLE.editor_key(0)]
    app.run()
    assert not app.exception, app.exception
    table = app.session_state[state.NEGTEST_PAIRS]
    assert list(table.index) == list(range(1, len(bundled_suite())))
    assert list(app.data_editor[0].value.index) == list(table.index) and table.at[5, "sentence2"] == ""
    assert notes(app) == ["Row 5: incomplete (a sentence or the label is empty), not scored."]
    assert_failures_name_editor_rows(app)


def test_a_half_typed_new_row_is_noted_and_the_rest_still_tested(app):
    n = len(bundled_suite())
    edit(app, added=[{"sentence1": "A sentence still waiting for its pair."}])
    assert not app.error
    assert notes(app) == [f"Row {n + 1} (new): incomplete (a sentence or the label is empty), not scored."]
    assert app.session_state[state.NEGTEST_PAIRS].at[n + 1, "sentence1"] == "A sentence still waiting for its pair."
    assert len(summary(app)) == 2 and len(verdicts(app)) == 2
    assert metrics(app, "Failures")[1].endswith(f"of {n}")
    assert_failures_name_editor_rows(app)


def test_a_label_other_than_0_or_1_is_an_error_and_no_results(app):
    edit(app, edited={1: {"label": 2}}, added=[{"sentence2": "half typed"}])
    assert any("The table row 2: label '2' is not 0 or 1" in error.value for error in app.error)
    assert not [frame for frame in app.dataframe if "auc" in frame.value.columns]
    assert not verdicts(app)


def test_deleting_every_row_says_so(app):
    edit(app, deleted=list(range(len(bundled_suite()))))
    assert any("The table has no pairs" in error.value for error in app.error)
    assert not verdicts(app)


def test_no_complete_pair_of_one_label_is_an_error_and_no_results():
    at = page_test("negative_tests")
    typed = pd.DataFrame(
        {
            "sentence1": ["What is your age?", "The cat chased the dog.", "A man plays guitar."],
            "sentence2": ["How old are you?", "The dog chased the cat.", ""],
            "label": [1, 0, 0],
            "category": ["", "", ""],
        }
    )
    at.session_state[state.NEGTEST_PAIRS] = renumbered(typed)
    at.session_state[view.PAIRS_TABLE.base_key] = at.session_state[state.NEGTEST_PAIRS]
    at.session_state[view.PAIRS_TABLE.version_key] = 0
    edit(at, edited={1: {"label": None}})
    assert notes(at) == ["Rows 2 and 3: incomplete (a sentence or the label is empty), not scored."]
    assert any(
        "The table has no complete pair that should not be similar (label 0)" in error.value for error in at.error
    )
    assert not [frame for frame in at.dataframe if "auc" in frame.value.columns]


def test_edits_survive_leaving_and_returning(app):
    edit(app, edited={0: {"sentence1": "What is your name?"}})
    assert app.session_state[state.NEGTEST_PAIRS].at[1, "sentence1"] == "What is your name?"
    del app.session_state[view.PAIRS_TABLE.editor_key(0)]  # leaving the page drops every widget's state
    app.run()
    assert not app.exception
    assert app.session_state[state.NEGTEST_PAIRS].at[1, "sentence1"] == "What is your name?"
    assert app.data_editor[0].value.at[1, "sentence1"] == "What is your name?"


def test_an_added_configuration_is_tested_too(app):
    app.selectbox(key="negtest.add.pooling").set_value("mean")
    app.text_input(key="negtest.add.layers").set_value("first-last")
    app.selectbox(key="negtest.add.post").set_value("center")
    next(button for button in app.button if button.label == "Add configuration").click()
    app.run()
    assert not app.exception, app.exception
    assert app.session_state[state.NEGTEST_EXTRA_SPECS] == [EmbedSpec(MODEL, "mean", "first-last", post="center")]
    assert list(summary(app)["configuration"])[-1] == f"{MODEL} · mean · layers first-last · centred"
    assert len(verdicts(app)) == 3


def test_a_threshold_survives_a_page_switch():
    at = page_test().run()
    at.switch_page("app_pages/negative_tests.py").run()
    assert not at.exception, at.exception
    box = state.negtest_threshold_widget(EmbedSpec(MODEL, "model").label)
    at.number_input(key=box).set_value(0.5).run()
    at.switch_page("app_pages/compare.py").run()
    assert box not in at.session_state  # Streamlit dropped the widget's own state
    at.switch_page("app_pages/negative_tests.py").run()
    assert not at.exception, at.exception
    assert at.number_input(key=box).value == 0.5
    assert summary(at).iloc[1].threshold == 0.5


# ---------------------------------------------------------------- noise and unreadable text: "undefined", no AUC


def test_a_noise_configuration_shows_an_undefined_auc_with_its_reason(app):
    app.selectbox(key="negtest.raw.layers").set_value("2").run()  # CLS at layer 2: every cosine 0.99999x
    assert not app.exception, app.exception
    assert app.session_state[state.RAW_SPEC] == EmbedSpec(MODEL, "cls", "2")
    auc = next(m for m in app.metric if m.label == "ROC AUC")
    assert auc.value == "undefined" and auc.delta == "noise"
    assert "float32 rounding noise" in auc.help
    assert any("float32 rounding noise" in warning.value for warning in app.warning)
    shown = summary(app)  # text cells: the browser's grid draws a NaN number as "None"
    assert shown.iloc[0]["auc"] == "undefined"
    assert "float32 rounding noise" in shown.iloc[0]["note"]
    trained = run_negtest(get_encoder(MODEL), EmbedSpec(MODEL, "model"), check_labelled(shown_pairs(app)).pairs)
    assert shown.iloc[1]["auc"] == f"{trained.auc:.3f}"
    assert "nan" not in shown.to_string().lower() and "None" not in shown.to_string()


def shown_pairs(at: AppTest) -> pd.DataFrame:
    return at.session_state[state.NEGTEST_PAIRS]


def test_pairs_the_model_cannot_read_are_counted_noted_and_can_be_left_out():
    at = page_test().run()
    at.switch_page("app_pages/negative_tests.py").run()
    assert not at.exception, at.exception
    suite = at.session_state[state.NEGTEST_PAIRS]
    pairs = check_labelled(suite).pairs
    encoder = get_encoder(MODEL)
    unreadable = run_negtest(encoder, EmbedSpec(MODEL, "model"), pairs).unreadable
    assert set(unreadable) <= {row for row in suite.index if suite.at[row, "category"] == "chinese"}
    assert len(unreadable) == 7  # 7 of the 8 Chinese pairs are mostly [UNK] for its English vocabulary
    warning = next(w.value for w in at.warning if "cannot read" in w.value)
    assert f"**{MODEL}**: 7 of {len(suite)}" in warning
    trained_failures = failure_tables(at)[-1]
    cat = trained_failures[trained_failures.sentence1 == "猫在追狗。"]  # cosine 1.000, a "role reversal failure"
    assert len(cat) == 1 and "this model does not read this script" in cat.iloc[0]["note"]
    assert summary(at)["left_out"].tolist() == [0, 0]

    at.checkbox(key=state.NEGTEST_SKIP_WIDGET).check().run()
    assert not at.exception, at.exception
    assert summary(at)["left_out"].tolist() == [7, 7]
    for failures in failure_tables(at):
        assert not set(failures["row"]) & set(unreadable)
    expected = run_negtest(encoder, EmbedSpec(MODEL, "model"), pairs, skip_unreadable=True)
    assert summary(at).iloc[1]["auc"] == f"{expected.auc:.3f}"

    at.switch_page("app_pages/compare.py").run()
    assert state.NEGTEST_SKIP_WIDGET not in at.session_state
    at.switch_page("app_pages/negative_tests.py").run()
    assert not at.exception, at.exception
    assert at.checkbox(key=state.NEGTEST_SKIP_WIDGET).value is True
    assert summary(at)["left_out"].tolist() == [7, 7]
