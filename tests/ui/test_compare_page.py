"""AppTest of the Compare page: edit pairs, change pooling, read the numbers the page shows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from components import state
from components.pairs_table import PAIRS_TABLE
from embedlab.embedding.encoder import Encoder
from embedlab.embedding.scoring import pair_cosines
from embedlab.embedding.specs import EmbedSpec
from embedlab.tasks.compare import example_pairs

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "app_pages" / "compare.py")
MODEL = "all-MiniLM-L6-v2"


@pytest.fixture()
def app() -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=300)
    at.run()
    assert not at.exception, at.exception
    return at


def scores_table(at: AppTest):
    """The scored table (the editor above it is a dataframe too)."""
    return next(frame.value for frame in at.dataframe if "raw_cosine" in frame.value.columns)


def metric(at: AppTest, prefix: str):
    return next(m for m in at.metric if m.label.startswith(prefix))


def add_pair(at: AppTest, first: str, second: str) -> None:
    at.text_input(key=state.NEW_FIRST).input(first)
    at.text_input(key=state.NEW_SECOND).input(second)
    next(b for b in at.button if b.label == "Add pair").click()
    at.run()
    assert not at.exception, at.exception


def test_offline_default_is_packaged_backbone_with_a_note(app):
    raw_spec = app.session_state[state.RAW_SPEC]
    assert raw_spec == EmbedSpec(MODEL, "cls", "-1")  # bert-base-uncased cannot load offline
    assert any("bert-base-uncased is not available" in info.value for info in app.info)
    assert len(app.session_state[state.PAIRS]) == len(example_pairs())


def test_added_pair_scores_match_the_engine(app, packaged_model):
    add_pair(app, "A man is playing a guitar.", "Someone plays music.")
    assert len(app.session_state[state.PAIRS]) == len(example_pairs()) + 1
    encoder = Encoder(packaged_model)
    pair = [("A man is playing a guitar.", "Someone plays music.")]
    expected_raw = pair_cosines(encoder, pair, EmbedSpec(MODEL, "cls", "-1"))[0]
    expected_trained = pair_cosines(encoder, pair, EmbedSpec(MODEL, "model"))[0]
    assert float(metric(app, "Raw ·").value) == pytest.approx(expected_raw, abs=5e-4)
    assert float(metric(app, "Trained ·").value) == pytest.approx(expected_trained, abs=5e-4)
    assert "vs typical" in metric(app, "Trained ·").delta


def test_pooling_change_runs_no_forward_pass(app):
    from components.services import get_encoder

    encoder = get_encoder(MODEL)
    before = encoder.forward_passes
    cls_value = float(metric(app, "Raw ·").value)
    app.radio(key="compare.raw.pooling").set_value("mean").run()
    app.selectbox(key="compare.raw.layers").set_value("first-last").run()
    assert not app.exception
    assert encoder.forward_passes == before
    assert metric(app, "Raw ·").label.endswith("mean · layers first-last")
    assert float(metric(app, "Raw ·").value) != cls_value
    # mean of the last layer is what all-MiniLM-L6-v2's own pipeline normalises: same cosine
    app.selectbox(key="compare.raw.layers").set_value("-1").run()
    assert metric(app, "Raw ·").value == metric(app, "Trained ·").value


def test_empty_cell_marks_the_row_only(app):
    app.session_state[PAIRS_TABLE.editor_key(0)] = {
        "edited_rows": {1: {"sentence2": "   "}},
        "added_rows": [],
        "deleted_rows": [],
    }
    app.run()
    assert not app.exception
    assert any("Row 2: an empty sentence" in info.value for info in app.info)  # rows are labelled 1..n
    table = app.session_state[state.PAIRS]
    assert table.at[2, "sentence2"] == "   " and table.at[1, "sentence1"] == "What is your age?"
    scored = scores_table(app)
    assert np.isnan(scored.loc[2, "raw_cosine"]) and "empty sentence 2" in scored.loc[2, "note"]
    assert not np.isnan(scored.loc[1, "raw_cosine"])


def test_long_text_is_truncated_and_flagged(app):
    long_text = " ".join(["word"] * 400)
    add_pair(app, long_text, "A short sentence.")
    scored = scores_table(app)
    assert "truncated to 256 tokens" in scored.iloc[-1]["note"]
    assert "402 tokens" in scored.iloc[-1]["note"]  # 400 words + [CLS] + [SEP]


def test_more_than_500_rows_gives_a_clear_message(app):
    many = pd.DataFrame({"sentence1": ["A dog runs."] * 501, "sentence2": ["A cat sleeps."] * 501})
    app.session_state[state.PAIRS] = many
    app.session_state[PAIRS_TABLE.base_key] = many
    app.session_state[PAIRS_TABLE.version_key] = 7
    app.run()
    assert not app.exception
    assert any("first 500 complete pairs" in warning.value for warning in app.warning)
    assert "over the 500-pair limit" in scores_table(app).iloc[-1]["note"]


def test_failed_model_load_keeps_previous_model_and_pairs():
    at = AppTest.from_file(PAGE, default_timeout=300)
    typed = pd.DataFrame({"sentence1": ["Keep this sentence."], "sentence2": ["And this one."]})
    at.session_state[state.PAIRS] = typed
    at.session_state[PAIRS_TABLE.base_key] = typed
    at.session_state[PAIRS_TABLE.version_key] = 0
    at.session_state["compare.trained.model"] = "no-such-org/no-such-model"  # as if typed in the model box
    at.run()
    assert not at.exception, at.exception
    assert any(
        "no-such-org/no-such-model" in e.value and "Still using **all-MiniLM-L6-v2**" in e.value for e in at.error
    )
    assert at.session_state[state.TRAINED_SPEC].model == MODEL
    assert at.session_state[state.PAIRS].iloc[0]["sentence1"] == "Keep this sentence."
    assert metric(at, "Trained ·").value  # still scored, with the previous model


def test_bad_layer_spec_is_refused():
    at = AppTest.from_file(PAGE, default_timeout=300)
    at.session_state["compare.raw.layers"] = "9"  # as if typed in the layers box; the model has 0..6
    at.run()
    assert not at.exception, at.exception
    assert any("Layer 9 does not exist" in error.value for error in at.error)
    assert at.session_state[state.RAW_SPEC].layers == "-1"
    assert metric(at, "Raw ·").label.endswith("layers -1")


def test_upload_replaces_table_and_bad_upload_keeps_it(app):
    uploader = app.file_uploader(key=state.PAIRS_UPLOAD)
    uploader.upload("bad.csv", b"first,second\na,b\n", "text/csv")
    app.run()
    assert any("no sentence1, sentence2 column" in error.value for error in app.error)
    assert len(app.session_state[state.PAIRS]) == len(example_pairs())

    good = 'sentence1,sentence2,score\n"Hello, world.",Hi there.,3\nThe sky is blue.,Grass is green.,1\n'
    app.file_uploader(key=state.PAIRS_UPLOAD).upload("good.csv", good.encode(), "text/csv")
    app.run()
    assert not app.exception
    table = app.session_state[state.PAIRS]
    assert list(table["sentence1"]) == ["Hello, world.", "The sky is blue."]
    assert any("Loaded 2 pairs" in success.value for success in app.success)


def test_edits_survive_leaving_and_returning(app):
    app.session_state[PAIRS_TABLE.editor_key(0)] = {
        "edited_rows": {0: {"sentence1": "What is your name?"}},
        "added_rows": [],
        "deleted_rows": [],
    }
    app.run()
    assert app.session_state[state.PAIRS].at[1, "sentence1"] == "What is your name?"
    # Leaving the page drops every widget's state, the editor's included; the table must come back.
    del app.session_state[PAIRS_TABLE.editor_key(0)]
    app.run()
    assert not app.exception
    assert app.session_state[state.PAIRS].at[1, "sentence1"] == "What is your name?"
    assert app.data_editor[0].value.at[1, "sentence1"] == "What is your name?"


def test_table_and_choices_survive_a_real_page_switch():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.run()
    assert not at.exception, at.exception
    at.session_state[PAIRS_TABLE.editor_key(0)] = {
        "edited_rows": {0: {"sentence1": "What is your name?"}},
        "added_rows": [],
        "deleted_rows": [],
    }
    at.run()
    at.radio(key="compare.raw.pooling").set_value("mean").run()
    at.switch_page("app_pages/negative_tests.py").run()
    assert not at.exception, at.exception
    assert at.session_state[state.RAW_SPEC].pooling == "mean"  # the other page uses the same configuration
    at.switch_page("app_pages/compare.py").run()
    assert not at.exception, at.exception
    assert at.data_editor[0].value.at[1, "sentence1"] == "What is your name?"
    assert at.radio(key="compare.raw.pooling").value == "mean"
    assert metric(at, "Raw ·").label.endswith("mean · layers -1")


def test_rows_keep_the_labels_the_editor_shows_after_a_deletion(app):
    app.session_state[PAIRS_TABLE.editor_key(0)] = {
        "edited_rows": {4: {"sentence2": " "}},
        "added_rows": [],
        "deleted_rows": [2],
    }
    app.run()
    assert not app.exception, app.exception
    table = app.session_state[state.PAIRS]
    assert list(table.index) == [1, 2, 4, 5, 6]  # the labels the editor shows
    assert any("Row 5: an empty sentence" in info.value for info in app.info)
    scored = scores_table(app)
    assert list(scored.index) == [1, 2, 4, 5, 6]
    assert np.isnan(scored.loc[5, "raw_cosine"]) and not np.isnan(scored.loc[6, "raw_cosine"])
    assert scored.loc[4, "sentence1"] == "The museum is open on Sundays."


def test_a_model_saved_in_the_models_directory_is_offered(tmp_path, monkeypatch):
    saved = tmp_path / "models" / "my-trained-model"
    saved.mkdir(parents=True)
    (saved / "modules.json").write_text("[]", encoding="utf-8")
    monkeypatch.setenv("EMBEDLAB_MODELS_DIR", str(tmp_path / "models"))
    at = AppTest.from_file(PAGE, default_timeout=300).run()
    assert not at.exception, at.exception
    for side in ("raw", "trained"):
        options = at.selectbox(key=f"compare.{side}.model").options
        assert options[-1] == "my-trained-model (saved)"
        assert "all-MiniLM-L6-v2" in options and "untrained-bert" in options
