"""AppTest of the Compare page: edit pairs, change pooling, read the numbers the page shows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from components.compare.pairs_table import PAIRS_TABLE
from components.shared import state
from embedlab.arrivals import Arrivals
from embedlab.embedding.encoder import Encoder
from embedlab.embedding.readability import multilingual_hint
from embedlab.embedding.scoring import pair_cosines
from embedlab.embedding.specs import EmbedSpec
from embedlab.tasks.compare import example_pairs
from tests.ui.apptest import ok, page_test, shown

MODEL = "all-MiniLM-L6-v2"


@pytest.fixture()
def app() -> AppTest:
    return ok(page_test("compare").run())


SCORE_COLUMNS = [
    f"{side}_{name}" for side in ("raw", "trained") for name in ("cosine", "percentile", "typical", "above_typical")
]


def numbers(shown: pd.DataFrame) -> pd.DataFrame:
    """The score table's text cells ("0.912", "–") read back as numbers (NaN where "–")."""
    frame = shown.copy()
    for column in SCORE_COLUMNS:
        if column in frame.columns:
            frame[column] = pd.to_numeric(frame[column].str.strip().replace("–", np.nan))
    return frame


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
    from components.shared.services import get_encoder

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
    scored = numbers(scores_table(app))
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
    at = page_test("compare")
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
    at = page_test("compare")
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


def test_table_and_choices_survive_a_real_page_switch():
    at = page_test()
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
    scored = numbers(scores_table(app))
    assert list(scored.index) == [1, 2, 4, 5, 6]
    assert np.isnan(scored.loc[5, "raw_cosine"]) and not np.isnan(scored.loc[6, "raw_cosine"])
    assert scored.loc[4, "sentence1"] == "The museum is open on Sundays."


def test_a_model_saved_in_the_models_directory_is_offered(tmp_path, monkeypatch):
    saved = tmp_path / "models" / "my-trained-model"
    saved.mkdir(parents=True)
    (saved / "modules.json").write_text("[]", encoding="utf-8")
    monkeypatch.setenv("EMBEDLAB_MODELS_DIR", str(tmp_path / "models"))
    at = page_test("compare").run()
    assert not at.exception, at.exception
    for side in ("raw", "trained"):
        options = at.selectbox(key=f"compare.{side}.model").options
        assert options[-1] == "my-trained-model (saved)"
        assert "all-MiniLM-L6-v2" in options and "untrained-bert" in options


# ---------------------------------------------------------------- noise, unreadable and truncated text are marked


def score_table(at: AppTest):
    return next(frame for frame in at.dataframe if "raw_cosine" in frame.value.columns)


def test_an_empty_sentence_shows_a_dash_not_none(app):
    app.session_state[PAIRS_TABLE.editor_key(0)] = {
        "edited_rows": {1: {"sentence2": ""}},
        "added_rows": [],
        "deleted_rows": [],
    }
    app.run()
    assert not app.exception
    # The browser's grid draws an empty number cell as "None" (seen in Chromium): the page shows text cells.
    cells = score_table(app).value
    assert all(cells[column].map(type).eq(str).all() for column in SCORE_COLUMNS)
    own = [column for column in SCORE_COLUMNS if not column.endswith("_typical")]  # typical: the configuration's
    assert cells.loc[2, own].eq("–").all()
    assert cells.loc[1, "raw_cosine"] == f"{numbers(cells).loc[1, 'raw_cosine']:.3f}"
    assert not cells.loc[1, SCORE_COLUMNS].eq("–").any()
    assert "None" not in cells.to_string() and "nan" not in cells.to_string()


def test_scores_come_with_their_baselines_and_match_the_engine(app, packaged_model):
    from embedlab.embedding.scoring import random_pair_baseline

    scored = numbers(score_table(app).value)
    encoder = Encoder(packaged_model)
    pairs = list(zip(scored.sentence1, scored.sentence2, strict=True))
    raw_spec, trained_spec = EmbedSpec(MODEL, "cls", "-1"), EmbedSpec(MODEL, "model")
    np.testing.assert_allclose(scored.raw_cosine, pair_cosines(encoder, pairs, raw_spec), atol=5e-4)  # 3 decimals
    np.testing.assert_allclose(scored.trained_cosine, pair_cosines(encoder, pairs, trained_spec), atol=5e-4)
    assert scored.raw_typical.iloc[0] == pytest.approx(random_pair_baseline(encoder, raw_spec).mean, abs=5e-4)
    assert scored.trained_typical.notna().all() and scored.trained_percentile.between(0, 100).all()


def test_scores_do_not_wait_for_the_baselines(monkeypatch):
    """The score table is drawn from the pairs alone: when the baselines fail, the cosines are still there."""
    import components.compare.scores_view
    from embedlab.errors import EmbedLabError

    def no_baseline(spec):
        raise EmbedLabError("baselines are not ready")

    monkeypatch.setattr(components.compare.scores_view, "baseline", no_baseline)
    at = page_test("compare")
    at.run()
    assert not at.exception, at.exception
    assert any("baselines are not ready" in error.value for error in at.error)
    shown = numbers(score_table(at).value)
    assert shown.raw_cosine.notna().all() and shown.trained_cosine.notna().all()
    assert "raw_typical" not in shown.columns  # filled in only once the baselines are ready


def test_a_pair_the_model_cannot_read_is_noted_and_warned_about(app):
    scored = score_table(app).value
    assert "this model does not read this script" in scored.loc[2, "note"]  # 你几岁了？ / 你多大了？
    assert "does not read" not in scored.loc[1, "note"]
    assert not any("does not read" in warning.value for warning in app.warning)  # row 1 is selected
    app.selectbox(key=state.PAIR_WIDGET).set_value(2).run()
    assert not app.exception
    warning = next(shown(w.value) for w in app.warning if "does not read this script" in w.value)
    assert "4 of 5 tokens are [UNK]" in warning and multilingual_hint() in warning


def test_layers_whose_random_pairs_are_noise_are_marked(app):
    import json

    layer_figure = next(
        json.loads(chart.proto.spec) for chart in app.get("plotly_chart") if "Which layer?" in chart.proto.spec
    )
    noise = next(trace for trace in layer_figure["data"] if trace["name"] == "cls: noise")
    assert noise["x"] == [0, 1, 2, 3]  # CLS at layers 0-3 of all-MiniLM-L6-v2: 0.99998+ for every pair
    assert "exactly the same" in noise["customdata"][0] and "float32 rounding noise" in noise["customdata"][1]
    assert noise["marker"]["symbol"] == "circle-open"
    assert not any(trace["name"] in ("mean: noise", "max: noise") for trace in layer_figure["data"])
    assert any("CLS at layers 0-3: every random-pair cosine is" in caption.value for caption in app.caption)


def test_the_page_says_what_survives_a_reload(app):
    note = next(caption.value for caption in app.caption if "browser tab's session" in caption.value)
    assert "not a reload" in note and "Download" in note


def code_blocks(at: AppTest) -> list[str]:
    """The code of every "Code for this configuration" expander, raw panel first."""
    return [
        block.value
        for expander in at.expander
        if expander.label == "Code for this configuration"
        for block in expander.code
    ]


def open_code_expanders(at: AppTest, namespace: str = "compare") -> None:
    """Open both "Code for this configuration" expanders as a click does: their state set, then a rerun."""
    for side in ("raw", "trained"):
        at.session_state[f"{namespace}.{side}.code"] = True
    at.run()


def test_code_is_sent_only_once_its_expander_is_opened(app):
    # a closed code block would still make a new browser load the syntax highlighter before it draws the scores
    labels = [expander.label for expander in app.expander]
    assert labels.count("Code for this configuration") == 2
    assert code_blocks(app) == []
    assert not [block for block in app.code if "def embed(" in block.value]
    open_code_expanders(app)
    assert not app.exception, app.exception
    assert len(code_blocks(app)) == 2


def test_code_for_this_configuration_in_both_panels(app, packaged_model):
    from embedlab.codegen import code_for

    open_code_expanders(app)
    raw_code, trained_code = code_blocks(app)
    assert "def embed(" in raw_code and "def embed(" in trained_code
    assert raw_code.strip() == code_for(EmbedSpec(MODEL, "cls", "-1"), packaged_model.facts).strip()
    app.radio(key="compare.raw.pooling").set_value("weightedmean").run()
    app.selectbox(key="compare.raw.layers").set_value("first-last").run()
    assert not app.exception, app.exception
    raw_code, _ = code_blocks(app)
    assert "def embed(" in raw_code and "weightedmean" in raw_code
    assert raw_code.strip() == code_for(EmbedSpec(MODEL, "weightedmean", "first-last"), packaged_model.facts).strip()


@pytest.mark.parametrize("pooling", ["mean_max", "mean_sqrt_len_tokens", "weightedmean", "lasttoken", "pooler"])
def test_every_pooling_is_offered_and_scores_as_the_engine(app, packaged_model, pooling):
    radio = app.radio(key="compare.raw.pooling")
    assert set(radio.options) >= {"CLS", "mean", "max", "model's own", "pooler", "mean + max", "last token"}
    radio.set_value(pooling).run()
    assert not app.exception, app.exception
    spec = app.session_state[state.RAW_SPEC]
    assert spec == EmbedSpec(MODEL, pooling, "-1")
    first, second = app.session_state[state.PAIRS].iloc[0][["sentence1", "sentence2"]]
    expected = pair_cosines(Encoder(packaged_model), [(first, second)], spec)[0]
    assert float(metric(app, "Raw ·").value) == pytest.approx(expected, abs=5e-4)
    layer_boxes = [box for box in app.selectbox if box.key == "compare.raw.layers"]
    assert bool(layer_boxes) == (pooling != "pooler")  # pooler: last layer only, no layer choice


def test_pooler_of_a_model_without_pooler_weights_is_refused(tmp_path, tiny_model_dir):
    from transformers import AutoTokenizer, BertConfig, BertModel

    BertModel(BertConfig.from_pretrained(tiny_model_dir), add_pooling_layer=False).save_pretrained(tmp_path)
    AutoTokenizer.from_pretrained(tiny_model_dir).save_pretrained(tmp_path)
    at = page_test("compare")
    at.session_state["compare.raw.model"] = str(tmp_path)  # as if typed in the model box
    at.run()
    assert not at.exception, at.exception
    at.radio(key="compare.raw.pooling").set_value("mean").run()
    at.radio(key="compare.raw.pooling").set_value("pooler").run()
    assert not at.exception, at.exception
    assert any("has no pooler weights" in error.value and "Still using **mean**" in error.value for error in at.error)
    assert at.session_state[state.RAW_SPEC].pooling == "mean"  # the previous pooling stays in force
    assert metric(at, "Raw ·").label.endswith("mean · layers -1")
    assert at.radio(key="compare.raw.pooling").value == "pooler"  # what the user picked stays shown


def test_layer_chart_draws_cls_mean_max_and_offers_the_other_poolings_in_the_legend(app, packaged_model):
    import base64
    import json

    from embedlab.embedding.scoring import PROFILE_POOLINGS, layer_profile

    (chart,) = [chart for chart in app.get("plotly_chart") if "Which layer?" in chart.proto.spec]
    traces = {trace["name"]: trace for trace in json.loads(chart.proto.spec)["data"]}
    first, second = app.session_state[state.PAIRS].iloc[0][["sentence1", "sentence2"]]
    profile = layer_profile(Encoder(packaged_model), first, second)
    for pooling in PROFILE_POOLINGS:
        for name in (pooling, f"{pooling}, typical"):
            hidden = traces[name].get("visible") == "legendonly"
            assert hidden == (pooling not in ("cls", "mean", "max")), name
        y = traces[pooling]["y"]  # plotly's typed array: {"dtype", "bdata" (base64)}
        shown = np.frombuffer(base64.b64decode(y["bdata"]), dtype=y["dtype"]) if isinstance(y, dict) else y
        np.testing.assert_allclose(shown, profile[pooling], atol=1e-6)


def test_a_new_session_sees_the_scores_first_and_the_whole_page_next(app, monkeypatch):
    """A browser's first run draws the answer only (no editor, no chart: the browser paints it sooner), then the
    run its timer asks for draws the whole page with the same numbers (components/shared/first_screen.py). A
    session without a browser (AppTest, serve's warming run) draws the whole page at once: ``app``."""
    from components.shared import first_screen

    assert app.session_state[state.FIRST_SCREEN] == first_screen.DONE and app.data_editor
    monkeypatch.setattr(first_screen, "browser_connected", lambda: True)  # AppTest sends no request headers
    monkeypatch.setattr(first_screen, "ARRIVALS", Arrivals())  # no other session arrived lately
    at = page_test("compare")
    ok(at.run())
    first_scores = numbers(score_table(at).value)
    assert {"raw_typical", "trained_typical"} <= set(first_scores.columns)  # with their baselines
    assert [m.value for m in at.metric] == [m.value for m in app.metric] and len(at.metric) == 2
    assert not at.data_editor and not at.get("plotly_chart")  # neither the editor nor a chart on the first screen
    assert any("table editor opens in a moment" in caption.value for caption in at.caption)
    assert at.session_state[state.FIRST_SCREEN] == first_screen.WAITING  # the nudge drew itself: its timer is set
    ok(at.run())  # the full run the nudge asks for (AppTest runs no timers: any later full run is the whole page)
    assert at.session_state[state.FIRST_SCREEN] == first_screen.DONE
    assert at.data_editor and len(at.get("plotly_chart")) == len(app.get("plotly_chart")) > 0
    pd.testing.assert_frame_equal(numbers(score_table(at).value), first_scores)
    assert [m.value for m in at.metric] == [m.value for m in app.metric]


def test_a_session_arriving_in_a_burst_gets_the_whole_page_at_once(monkeypatch):
    """A class opening the app together: one run each, not two (the server is the slow part then)."""
    from components.shared import first_screen

    burst = Arrivals(count=1, window_s=60)
    burst.burst()  # another session arrived just before
    monkeypatch.setattr(first_screen, "browser_connected", lambda: True)
    monkeypatch.setattr(first_screen, "ARRIVALS", burst)
    at = ok(page_test("compare").run())
    assert at.session_state[state.FIRST_SCREEN] == first_screen.DONE
    assert at.data_editor and at.get("plotly_chart")


def test_a_server_set_to_draw_the_whole_page_has_no_first_screen(monkeypatch):
    """EMBEDLAB_FIRST_SCREEN=0: a new browser session's first run is the whole page."""
    from components.shared import first_screen

    monkeypatch.setenv("EMBEDLAB_FIRST_SCREEN", "0")
    monkeypatch.setattr(first_screen, "browser_connected", lambda: True)
    monkeypatch.setattr(first_screen, "ARRIVALS", Arrivals())
    at = ok(page_test("compare").run())
    assert at.session_state[state.FIRST_SCREEN] == first_screen.DONE
    assert at.data_editor and at.get("plotly_chart")
