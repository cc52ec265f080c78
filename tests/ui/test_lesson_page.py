"""AppTest of the Lesson page: every step renders with either raw model, its numbers are the engine's, the Open-in
buttons set up the target page, and presentation mode enlarges chart fonts and metric values."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from components.lesson.lesson_view import TITLES
from components.shared import state
from embedlab.embedding.encoder import Encoder
from embedlab.embedding.scoring import pair_cosines, random_pair_baseline
from embedlab.embedding.specs import EmbedSpec
from embedlab.models.loading import PACKAGED, UNTRAINED
from embedlab.tasks.lesson import PARAPHRASE, UNRELATED
from embedlab.tasks.negtest import bundled_suite
from embedlab.tasks.sts import bundled_pairs, evaluate
from tests.ui.apptest import page_test

TIMEOUT = 600


def metric(at: AppTest, label: str):
    return next(m for m in at.metric if m.label == label)


def array(values) -> np.ndarray:
    """A plotly JSON array: a list, or a typed array {"bdata": base64, "dtype": ...}."""
    if isinstance(values, dict):
        return np.frombuffer(base64.b64decode(values["bdata"]), dtype=values["dtype"])
    return np.asarray(values)


def run_ok(at: AppTest) -> AppTest:
    at.run()
    assert not at.exception, at.exception
    return at


@pytest.mark.parametrize("raw_model", [None, UNTRAINED])
def test_every_step_renders_with_the_engine_numbers(raw_model, packaged_model, untrained_model):
    at = page_test("lesson", timeout=TIMEOUT)
    if raw_model is not None:
        at.session_state[state.RAW_SPEC] = EmbedSpec(raw_model, "cls", "-1")
    run_ok(at)
    assert [header.value for header in at.header] == list(TITLES.values())
    assert not at.error

    raw_ref = raw_model or PACKAGED  # offline, the default raw model is the packaged backbone
    assert at.session_state[state.RAW_SPEC].model == raw_ref
    raw = Encoder(untrained_model if raw_ref == UNTRAINED else packaged_model)
    trained = Encoder(packaged_model)
    intro = at.info[0].value
    if raw_ref == UNTRAINED:
        assert "random weights" in intro and "already trained" not in intro
    else:
        assert "already trained for similarity" in intro and "cannot be loaded here" in intro

    # step 1: the shape of one hidden state, [1, tokens, hidden]
    tokens = len(raw.model.tokenizer(PARAPHRASE[0])["input_ids"])
    assert metric(at, "Hidden states (layers 0…L)").value == str(raw.model.n_hidden_states)
    assert metric(at, "Each of shape").value == f"[1, {tokens}, {raw.model.facts.hidden_size}]"

    # step 2: raw CLS of the last layer and its random-pair baseline
    cls = EmbedSpec(raw_ref, "cls", "-1")
    paraphrase, unrelated = pair_cosines(raw, [PARAPHRASE, UNRELATED], cls)
    assert float(metric(at, "Paraphrase").value) == pytest.approx(paraphrase, abs=5e-4)
    assert float(metric(at, "Unrelated pair").value) == pytest.approx(unrelated, abs=5e-4)
    baseline = random_pair_baseline(raw, cls)
    assert float(metric(at, "Random pairs (typical)").value) == pytest.approx(baseline.mean, abs=5e-4)

    # step 4: centring moves the random-pair mean to about 0
    centred = random_pair_baseline(raw, EmbedSpec(raw_ref, "mean", "first-last", post="center"))
    assert float(metric(at, "… centred").value) == pytest.approx(centred.mean, abs=5e-4)
    assert abs(centred.mean) < 0.1

    # step 5: the trained model's pair cosines and STS numbers
    own = EmbedSpec(PACKAGED, "model")
    trained_paraphrase, trained_unrelated = pair_cosines(trained, [PARAPHRASE, UNRELATED], own)
    assert float(metric(at, "Paraphrase (trained)").value) == pytest.approx(trained_paraphrase, abs=5e-4)
    assert float(metric(at, "Unrelated (trained)").value) == pytest.approx(trained_unrelated, abs=5e-4)
    sts_trained = evaluate(trained, bundled_pairs(), [own]).table.spearman.iloc[0]
    sts_cls = evaluate(raw, bundled_pairs(), [cls]).table.spearman.iloc[0]
    assert float(metric(at, "Trained: all-MiniLM-L6-v2's own pipeline").value) == pytest.approx(sts_trained, abs=0.05)
    assert float(metric(at, "Raw CLS, last layer").value) == pytest.approx(sts_cls, abs=0.05)

    # step 3's chart is the paraphrase at every layer; step 6 lists the hard negatives
    figures = [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]
    layers = next(figure for figure in figures if any(trace.get("name") == "cls" for trace in figure["data"]))
    cls_curve = array(next(trace for trace in layers["data"] if trace["name"] == "cls")["y"])
    assert len(cls_curve) == raw.model.n_hidden_states
    assert cls_curve[-1] == pytest.approx(paraphrase, abs=1e-5)
    hard = at.dataframe[-1].value
    assert set(hard.category) <= {"role_reversal", "negation"} and len(hard) > 0


@pytest.fixture
def app() -> AppTest:
    """The whole app (navigation, sidebar), opened on the Lesson page: a new session for each test, so no test
    depends on what another one clicked or toggled (or on the order they run in)."""
    at = page_test(timeout=TIMEOUT)
    run_ok(at)
    at.switch_page("app_pages/lesson.py")
    run_ok(at)
    assert at.title[0].value == "Lesson"
    return at


def back_to_lesson(at: AppTest) -> None:
    at.switch_page("app_pages/lesson.py")
    run_ok(at)
    assert at.title[0].value == "Lesson"


def test_open_in_compare_sets_pairs_configuration_and_selected_pair(app):
    app.button(key="lesson.open.cls.0").click()
    run_ok(app)
    assert app.title[0].value == "Compare"
    pairs = app.session_state[state.PAIRS]
    assert [tuple(row) for row in pairs.itertuples(index=False)] == [PARAPHRASE, UNRELATED]
    assert app.session_state[state.RAW_SPEC] == EmbedSpec(PACKAGED, "cls", "-1")
    assert app.session_state[state.SELECTED_PAIR] == 1
    shown = next(m for m in app.metric if m.label.startswith("Raw ·"))
    assert shown.label.endswith("cls · layers -1")


def test_open_in_compare_from_step_4_uses_the_centred_configuration(app):
    centred = next(m for m in app.metric if m.label == "… centred")
    assert centred.value
    app.button(key="lesson.open.pooling.0").click()
    run_ok(app)
    assert app.title[0].value == "Compare"
    assert app.session_state[state.RAW_SPEC] == EmbedSpec(PACKAGED, "mean", "first-last", post="center")
    assert app.selectbox(key="compare.raw.post").value == "center"


def test_open_in_sts_and_negative_tests(app):
    app.button(key="lesson.open.trained.1").click()
    run_ok(app)
    assert app.title[0].value == "STS evaluation"
    assert app.session_state[state.STS_MODELS] == [PACKAGED]  # raw and trained are the same model offline
    assert app.session_state[state.STS_DATASET] == bundled_pairs()

    back_to_lesson(app)
    app.button(key="lesson.open.negatives.0").click()
    run_ok(app)
    assert app.title[0].value == "Negative tests"
    assert len(app.session_state[state.NEGTEST_PAIRS]) == len(bundled_suite())
    assert app.session_state[state.NEGTEST_EXTRA_SPECS] == []


def _font_sizes(at: AppTest) -> list[float | None]:
    """Per chart: the smallest of its layout font size and its x-axis tick font size (None where not set)."""
    sizes = []
    for chart in at.get("plotly_chart"):
        layout = json.loads(chart.proto.spec)["layout"]
        found = [layout.get("font", {}).get("size"), layout.get("xaxis", {}).get("tickfont", {}).get("size")]
        sizes.append(None if None in found else min(found))
    return sizes


def test_presentation_mode_enlarges_chart_fonts_and_metrics(app):
    plain = _font_sizes(app)
    assert plain and all(size in (None, 12) for size in plain)
    assert not any("stMetricValue" in element.proto.body for element in app.get("html"))

    app.toggle(key=state.PRESENTATION).set_value(True)
    run_ok(app)
    assert [header.value for header in app.header] == list(TITLES.values())  # same content
    enlarged = _font_sizes(app)
    assert len(enlarged) == len(plain) and all(size >= 1.5 * 12 for size in enlarged)
    css = "".join(element.proto.body for element in app.get("html"))
    assert "stMetricValue" in css and f"{2.25 * 1.5}rem" in css

    app.toggle(key=state.PRESENTATION).set_value(False)
    run_ok(app)
    assert _font_sizes(app) == plain


def test_a_bad_view_shows_an_error_and_changes_nothing():
    def script():
        import streamlit as st

        from components.shared import state
        from components.shared.apply_view import open_view

        st.session_state.setdefault(state.SELECTED_PAIR, "untouched")
        open_view({"page": "compare", "raw": {"model": "x", "pooling": "nope"}, "pairs": [["a", "b"]]})
        open_view({"page": "nowhere"})

    at = AppTest.from_function(script, default_timeout=TIMEOUT)
    run_ok(at)
    assert "Unknown pooling 'nope'" in at.error[0].value
    assert "Unknown page 'nowhere'" in at.error[1].value
    assert at.session_state[state.SELECTED_PAIR] == "untouched"
    assert state.PAIRS not in at.session_state
