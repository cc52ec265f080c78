"""AppTest of the STS evaluation page: sources, the grid's numbers against the engine, state across page switches."""

from __future__ import annotations

import json
import math
import socket

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from components.shared import state
from components.shared.figures import undefined_kind
from components.sts import sts_view
from embedlab.embedding.encoder import Encoder
from embedlab.models.loading import PACKAGED, UNTRAINED
from embedlab.tasks import sts
from tests.ui.apptest import ok, page_test


@pytest.fixture()
def app() -> AppTest:
    return ok(page_test("sts_eval").run())


def chart_titles(at: AppTest) -> list[str]:
    return [json.loads(chart.proto.spec)["layout"]["title"]["text"] for chart in at.get("plotly_chart")]


def summary(at: AppTest):
    return at.dataframe[0].value.set_index("model")


def frame_with(at: AppTest, column: str):
    """The one dataframe shown with this column."""
    (frame,) = [element.value for element in at.dataframe if column in element.value.columns]
    return frame


def bundled_encoder_forward_passes() -> int:
    from components.shared.services import get_encoder

    return get_encoder(PACKAGED).forward_passes


def test_bundled_set_is_evaluated_and_matches_the_engine(app, packaged_model):
    pairs = app.session_state[state.STS_DATASET]
    assert pairs.name == sts.BUNDLED_LABEL
    assert app.session_state[state.STS_MODELS] == [PACKAGED, UNTRAINED]  # bert-base-uncased cannot load offline
    assert {(pairs.fingerprint, PACKAGED), (pairs.fingerprint, UNTRAINED)} <= set(app.session_state[state.STS_RESULTS])

    expected = sts.evaluate_grid(Encoder(packaged_model), sts.bundled_pairs())
    shown = summary(app)
    own = expected.table.spearman[expected.row_of("model", "-1")]
    assert shown.loc[PACKAGED, "own pipeline"] == pytest.approx(own, abs=1e-6)
    assert shown.loc[PACKAGED, "best Spearman"] == pytest.approx(expected.table.spearman.max(), abs=1e-6)
    assert shown.loc[PACKAGED, "best configuration"] == sts.describe_row(expected, int(expected.best().name))

    titles = chart_titles(app)
    assert len(titles) == 3  # one heatmap per model, then the scatter
    pooler = expected.table.spearman[expected.row_of("pooler", "-1")]  # last layer only: in the title
    assert titles[0] == f"{PACKAGED} · own pipeline {own:.1f} · pooler {pooler:.1f}"
    assert titles[1].startswith(UNTRAINED)
    heatmap = json.loads(app.get("plotly_chart")[0].proto.spec)
    assert heatmap["data"][0]["x"] == list(sts.GRID_POOLINGS)  # cls, mean, max, mean_max, weightedmean, lasttoken
    assert heatmap["data"][0]["text"][0][0] == "constant"  # CLS at layer 0: one vector for every sentence
    for column, pooling in enumerate(sts.GRID_POOLINGS):  # every cell is the grid's number (row: layer)
        for layer in (2, 6):
            row = expected.row_of(pooling, str(layer))
            value = expected.table.spearman[row]
            shown = undefined_kind(expected.table.note[row]) if math.isnan(value) else f"{value:.1f}"
            assert heatmap["data"][0]["text"][layer][column] == shown, (pooling, layer)  # CLS at 2: noise
    assert len(heatmap["layout"]["shapes"]) == 1  # the best cell is boxed

    published = frame_with(app, "published").set_index("configuration")
    assert published.loc["all-MiniLM-L6-v2, its own pipeline", "measured"] == pytest.approx(own, abs=1e-6)
    assert published.loc["all-MiniLM-L6-v2, its own pipeline", "published"] == 82.03
    assert any("not the benchmark" in warning.value for warning in app.warning)
    assert len(app.get("download_button")) == 1

    effects = frame_with(app, "change")  # post-processing fitted on the set's own 120 sentences
    whitened = effects[(effects.model == PACKAGED) & (effects.post == "whiten 15")].set_index("configuration")
    row = expected.row_of("mean", "first-last", "whiten")
    assert whitened.loc["mean · layers first-last", "after"] == pytest.approx(expected.table.spearman[row], abs=1e-6)


def test_upload_with_scores_0_to_1_and_a_bad_upload(app):
    bundled = sts.bundled_pairs()
    frame = bundled.frame().head(20).assign(score=lambda f: f.score / 5)  # the same pairs on a 0-1 scale
    app.radio(key=state.STS_SOURCE_WIDGET).set_value("upload")
    ok(app.run())
    app.file_uploader(key=state.STS_UPLOAD_WIDGET).set_value(
        ("unit.csv", frame.to_csv(index=False).encode(), "text/csv")
    )
    ok(app.run())
    pairs = app.session_state[state.STS_DATASET]
    assert (pairs.name, pairs.n_pairs, pairs.scale) == ("unit.csv", 20, 1.0)
    assert any("Loaded 20 scored pairs" in message.value for message in app.success)
    assert (pairs.fingerprint, PACKAGED) in app.session_state[state.STS_RESULTS]
    assert summary(app).loc[PACKAGED, "pairs"] == 20

    app.file_uploader(key=state.STS_UPLOAD_WIDGET).set_value(
        ("bad.csv", b"sentence1,sentence2,score\nA.,B.,4\nC.,D.,9\nE.,F.,1\n", "text/csv")
    )
    ok(app.run())
    assert any("pair 2: score 9 is outside 0-5" in error.value for error in app.error)
    assert app.session_state[state.STS_DATASET] == pairs  # the data in use was kept


def test_hub_source_offline_says_so_without_trying_the_network(app, monkeypatch):
    """Offline, the Hub source answers from the local cache or says why it cannot: it never opens a connection
    (``datasets`` retries a missing network for about 25 s), so the message comes at once on any machine."""
    before = app.session_state[state.STS_DATASET]
    app.radio(key=state.STS_SOURCE_WIDGET).set_value("hub")
    ok(app.run())
    attempts = []  # every name looked up or address connected to, by any thread of this process

    def refuse_connection(sock, address):
        attempts.append(address)
        raise OSError("this test opens no connection")

    def refuse_lookup(host, *args, **kwargs):
        attempts.append(host)
        raise socket.gaierror("this test looks up no name")

    monkeypatch.setattr(socket.socket, "connect", refuse_connection)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse_connection)
    monkeypatch.setattr(socket, "getaddrinfo", refuse_lookup)
    app.button(key=state.STS_HUB_LOAD).click()
    ok(app.run())
    assert attempts == []
    assert any("HF_HUB_OFFLINE is set" in error.value for error in app.error)
    assert app.session_state[state.STS_DATASET] == before


def test_local_path_of_a_large_file_waits_for_the_button(sts_dev, app, tmp_path):
    path = tmp_path / "dev120.csv"
    path.write_text("".join(sts_dev.read_text(encoding="utf-8").splitlines(keepends=True)[:120]), encoding="utf-8")
    app.multiselect(key=state.STS_MODELS_WIDGET).set_value([PACKAGED])
    app.radio(key=state.STS_SOURCE_WIDGET).set_value("path")
    ok(app.run())
    app.text_input(key=state.STS_PATH_WIDGET).input(str(path))
    next(button for button in app.button if button.label == "Load file").click()
    ok(app.run())
    pairs = app.session_state[state.STS_DATASET]
    assert (pairs.name, pairs.n_pairs) == ("dev120.csv", 120) and pairs.n_pairs > sts_view.AUTO_PAIRS
    assert (pairs.fingerprint, PACKAGED) not in app.session_state[state.STS_RESULTS]
    assert len(app.get("plotly_chart")) == 0
    app.button(key=state.STS_EVALUATE_BUTTON).click()
    ok(app.run())
    assert (pairs.fingerprint, PACKAGED) in app.session_state[state.STS_RESULTS]
    assert summary(app).loc[PACKAGED, "pairs"] == 120

    app.text_input(key=state.STS_PATH_WIDGET).input(str(tmp_path / "missing.csv"))
    next(button for button in app.button if button.label == "Load file").click()
    ok(app.run())
    assert any("not found" in error.value for error in app.error)
    assert app.session_state[state.STS_DATASET] == pairs
    assert app.text_input(key=state.STS_PATH_WIDGET).value == str(tmp_path / "missing.csv")  # what was typed stays


def test_scatter_configuration_change_runs_no_forward_pass(app):
    before = bundled_encoder_forward_passes()
    app.selectbox(key=state.STS_SCATTER_CONFIG_WIDGET).set_value("mean|first-last|none")
    ok(app.run())
    assert chart_titles(app)[-1].startswith(f"{PACKAGED} · mean · layers first-last: Spearman ")
    app.selectbox(key=state.STS_SCATTER_CONFIG_WIDGET).set_value("cls|0|none")
    ok(app.run())
    assert chart_titles(app)[-1].endswith(sts.UNDEFINED)
    assert bundled_encoder_forward_passes() == before


def test_choices_and_results_survive_a_page_switch():
    at = ok(page_test().run())
    at.switch_page("app_pages/sts_eval.py")
    ok(at.run())
    at.multiselect(key=state.STS_MODELS_WIDGET).set_value([UNTRAINED])
    ok(at.run())
    at.selectbox(key=state.STS_SCATTER_CONFIG_WIDGET).set_value("max|3|none")
    ok(at.run())
    results = dict(at.session_state[state.STS_RESULTS])

    at.switch_page("app_pages/compare.py")
    ok(at.run())
    assert state.STS_MODELS_WIDGET not in at.session_state  # Streamlit dropped the widget's own state
    passes = bundled_encoder_forward_passes()
    at.switch_page("app_pages/sts_eval.py")
    ok(at.run())
    assert at.multiselect(key=state.STS_MODELS_WIDGET).value == [UNTRAINED]
    assert at.selectbox(key=state.STS_SCATTER_CONFIG_WIDGET).value == "max|3|none"
    assert chart_titles(at)[-1].startswith(f"{UNTRAINED} · max · layers 3")
    assert dict(at.session_state[state.STS_RESULTS]) == results
    assert bundled_encoder_forward_passes() == passes


# ---------------------------------------------------------------- noise, unreadable text, paths: marked, never a crash


def heatmap_of(at: AppTest, model: str) -> dict:
    return next(
        json.loads(chart.proto.spec)
        for chart in at.get("plotly_chart")
        if json.loads(chart.proto.spec)["layout"]["title"]["text"].startswith(model)
        and json.loads(chart.proto.spec)["data"][0]["type"] == "heatmap"
    )


def test_noise_cells_are_grey_with_their_reason_and_never_the_best(app):
    figure = heatmap_of(app, PACKAGED)
    undefined = next(trace for trace in figure["data"] if trace.get("name") == "undefined")
    pooling = undefined["x"].index("cls")
    words = [line[pooling] for line in undefined["text"][:4]]
    assert words == ["constant", "noise", "noise", "noise"]  # CLS at layers 0-3 of all-MiniLM-L6-v2
    assert "float32 rounding noise" in undefined["customdata"][1][pooling]
    assert "exactly the same" in undefined["customdata"][0][pooling]
    assert undefined["text"][5][pooling] not in ("noise", "constant")  # layer 5 CLS is a real result
    box = figure["layout"]["shapes"][0]
    boxed = (round(box["y0"] + 0.5), round(box["x0"] + 0.5))
    assert boxed[1] != pooling or boxed[0] > 3
    best = summary(app).loc[PACKAGED, "best configuration"]
    assert not any(best.startswith(f"cls · layer {layer}") for layer in range(4)), best
    assert any("'noise' = every cosine is the same" in caption.value for caption in app.caption)


UNREADABLE_ROWS = [
    ("你几岁了？", "你多大了？", 4.5),
    ("猫在追狗。", "狗在追猫。", 1.0),
    ("🙂🙂", "你好。", 0.5),
]


def test_pairs_the_model_cannot_read_are_counted_and_can_be_left_out(app):
    bundled = sts.bundled_pairs().frame().head(30)
    extra = pd.DataFrame(UNREADABLE_ROWS, columns=["sentence1", "sentence2", "score"])
    frame = pd.concat([bundled, extra], ignore_index=True)
    app.radio(key=state.STS_SOURCE_WIDGET).set_value("upload")
    ok(app.run())
    app.file_uploader(key=state.STS_UPLOAD_WIDGET).set_value(
        ("mixed.csv", frame.to_csv(index=False).encode(), "text/csv")
    )
    ok(app.run())
    warning = next(w.value for w in app.warning if "cannot read" in w.value)
    assert f"**{PACKAGED}**: 3 of 33" in warning
    assert summary(app).loc[PACKAGED, "pairs"] == 33

    app.checkbox(key=state.STS_SKIP_WIDGET).check()
    ok(app.run())
    assert app.session_state[state.SKIP_UNREADABLE] is True
    assert summary(app).loc[PACKAGED, "pairs"] == 30
    assert summary(app).loc[UNTRAINED, "pairs"] == 30  # untrained-bert has the same vocabulary
    expected = sts.evaluate_grid(
        Encoder(load_model_once()), sts.scored_pairs_from_frame(bundled.reset_index(drop=True), "mixed.csv")
    )
    own = expected.row_of("model", "-1")
    assert summary(app).loc[PACKAGED, "own pipeline"] == pytest.approx(expected.table.spearman.iloc[own], abs=1e-6)

    app.checkbox(key=state.STS_SKIP_WIDGET).uncheck()
    ok(app.run())
    assert summary(app).loc[PACKAGED, "pairs"] == 33


def load_model_once():
    from components.shared.services import get_encoder

    return get_encoder(PACKAGED).model


@pytest.mark.parametrize(
    ("typed", "message"),
    [("", "No path given: type the path"), ("   ", "No path given: type the path"), (None, "is a folder")],
)
def test_a_folder_or_an_empty_path_says_what_to_type(app, tmp_path, typed, message):
    before = app.session_state[state.STS_DATASET]
    app.radio(key=state.STS_SOURCE_WIDGET).set_value("path")
    ok(app.run())
    app.text_input(key=state.STS_PATH_WIDGET).input(str(tmp_path) if typed is None else typed)
    next(button for button in app.button if button.label == "Load file").click()
    ok(app.run())
    assert any(message in error.value for error in app.error), [error.value for error in app.error]
    assert not any("not found" in error.value for error in app.error)
    assert app.session_state[state.STS_DATASET] == before
