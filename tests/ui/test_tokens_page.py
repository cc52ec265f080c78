"""AppTest of the Tokens & layers page: type sentences, move the layer slider, follow a word, measure anisotropy."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from components.shared import state
from components.tokens import tokens_view
from embedlab.codegen import code_for
from embedlab.embedding.encoder import Encoder, cosine_rows
from embedlab.embedding.specs import EmbedSpec
from embedlab.limits import MAX_TOKEN_SENTENCE_CHARS
from tests.ui.apptest import ok, page_test, shown

M = "all-MiniLM-L6-v2"


@pytest.fixture()
def app() -> AppTest:
    return ok(page_test("tokens").run())


def metric(at: AppTest, prefix: str) -> float:
    return float(next(m for m in at.metric if m.label.startswith(prefix)).value)


def button(at: AppTest, label: str):
    return next(b for b in at.button if b.label.startswith(label))


def engine_cosine(encoder: Encoder, texts, spec: EmbedSpec) -> float:
    vectors = encoder.embed(list(texts), spec)
    return float(cosine_rows(vectors[0], vectors[1]))


def test_default_sentences_shapes_and_sentence_cosines(app, packaged_model):
    assert app.session_state[state.RAW_SPEC] == EmbedSpec(M, "cls", "-1")
    shapes = [block.value for block in app.code if "last_hidden_state" in block.value]
    assert len(shapes) == 2 and "hidden_states: a tuple of 7 tensors of (1, 7, 384)" in shapes[1]  # [CLS] stick to…
    assert len(app.dataframe) >= 2  # one tokenization table per sentence
    encoder = Encoder(packaged_model)
    for name in ("cls", "mean", "max"):  # the Compare page's numbers for the same configuration
        expected = engine_cosine(encoder, tokens_view.DEFAULT_SENTENCES, EmbedSpec(M, name, "6"))
        assert metric(app, f"{name.upper() if name == 'cls' else name} · layer 6") == pytest.approx(expected, abs=6e-4)
    assert metric(app, "In force ·") == pytest.approx(metric(app, "CLS · layer 6"), abs=1e-9)


def test_layer_slider_moves_the_sentence_cosines(app, packaged_model):
    app.slider(key=tokens_view.LAYER).set_value(2).run()
    assert not app.exception, app.exception
    expected = engine_cosine(Encoder(packaged_model), tokens_view.DEFAULT_SENTENCES, EmbedSpec(M, "mean", "2"))
    assert metric(app, "mean · layer 2") == pytest.approx(expected, abs=6e-4)
    assert any(chart.proto.spec and "layer 2" in chart.proto.spec for chart in app.get("plotly_chart"))


def test_typed_sentences_are_kept_and_an_empty_form_keeps_them(app):
    app.text_input(key=tokens_view.FIRST_INPUT).input("The bassoon player waved.")
    app.text_input(key=tokens_view.SECOND_INPUT).input("")
    button(app, "Show the tokens").click().run()
    assert not app.exception, app.exception
    assert app.session_state[tokens_view.SENTENCES] == ("The bassoon player waved.",)
    assert any("Type a second sentence" in info.value for info in app.info)
    assert not [m for m in app.metric if m.label.startswith("CLS ·")]
    app.text_input(key=tokens_view.FIRST_INPUT).input(" ")
    button(app, "Show the tokens").click().run()
    assert any("Type at least one sentence" in error.value for error in app.error)
    assert app.session_state[tokens_view.SENTENCES] == ("The bassoon player waved.",)


def test_measure_choice_redraws_the_heatmap(app):
    app.radio(key=tokens_view.MEASURE).set_value("max_share").run()
    assert not app.exception, app.exception
    heatmaps = [chart.proto.spec for chart in app.get("plotly_chart") if "CLS takes this column" in chart.proto.spec]
    assert len(heatmaps) == 1 and "max share" in heatmaps[0]


def test_bundled_word_and_own_word_with_reasons(app):
    app.selectbox(key=tokens_view.WORD).set_value("bank").run()
    assert not app.exception, app.exception
    assert metric(app, "Gap at the last layer") > 0
    app.selectbox(key=tokens_view.WORD).set_value(tokens_view.OWN).run()
    app.text_input(key=tokens_view.OWN_WORD_INPUT).input("bass")
    app.text_area(key=tokens_view.OWN_CONTEXTS_INPUT).input(
        "fish | We caught a bass.\nfish | He grilled the bass.\nmusic | Turn up the bass.\nmusic | No word here."
    )
    button(app, "Compare the contexts").click().run()
    assert not app.exception, app.exception
    assert any("'bass' is not in 'No word here.'" in warning.value for warning in app.warning)
    assert any("'bass' in context" in chart.proto.spec for chart in app.get("plotly_chart"))
    app.text_area(key=tokens_view.OWN_CONTEXTS_INPUT).input("fish: We caught a bass.")
    button(app, "Compare the contexts").click().run()
    assert any("write each line as 'sense | sentence'" in shown(error.value) for error in app.error)
    assert app.text_area(key=tokens_view.OWN_CONTEXTS_INPUT).value == "fish: We caught a bass."


def test_code_expander_shows_the_configurations_script(app, packaged_model):
    expected = code_for(EmbedSpec(M, "cls", "-1"), packaged_model.facts)
    assert not any(block.value.strip() == expected.strip() for block in app.code)  # sent once opened
    app.session_state["tokens.raw.code"] = True  # what a click on the expander does, then the rerun
    app.run()
    assert any(block.value.strip() == expected.strip() for block in app.code)  # st.code drops the last newline


def test_anisotropy_on_demand(app):
    assert not [chart for chart in app.get("plotly_chart") if "Anisotropy" in chart.proto.spec]
    button(app, "Measure anisotropy").click().run()
    assert not app.exception, app.exception
    assert any("Anisotropy" in chart.proto.spec for chart in app.get("plotly_chart"))
    table = app.dataframe[-1].value
    assert len(table) == 7 and "cls · none" in table.columns and "tokens · whiten" in table.columns
    assert table["cls · none"].loc[3] > 0.9 > abs(table["cls · center"].loc[3])


def test_the_word_in_context_choice_survives_a_page_switch():
    at = ok(page_test().switch_page("app_pages/tokens.py").run())
    at.selectbox(key=tokens_view.WORD).set_value(tokens_view.OWN).run()
    at.text_input(key=tokens_view.OWN_WORD_INPUT).input("bass")
    at.text_area(key=tokens_view.OWN_CONTEXTS_INPUT).input(
        "fish | We caught a bass.\nfish | He grilled the bass.\nmusic | Turn up the bass.\nmusic | A bass solo."
    )
    ok(button(at, "Compare the contexts").click().run())
    assert any("'bass' in context" in chart.proto.spec for chart in at.get("plotly_chart"))
    ok(at.switch_page("app_pages/compare.py").run())
    assert tokens_view.WORD not in at.session_state  # Streamlit dropped the box with its page
    ok(at.switch_page("app_pages/tokens.py").run())
    assert at.selectbox(key=tokens_view.WORD).value == tokens_view.OWN
    assert at.text_input(key=tokens_view.OWN_WORD_INPUT).value == "bass"  # the user's word, shown again
    assert any("'bass' in context" in chart.proto.spec for chart in at.get("plotly_chart"))


def test_a_sentence_over_the_limit_is_refused_naming_it_and_what_was_typed_stays():
    at = ok(page_test().switch_page("app_pages/tokens.py").run())
    before = at.session_state[tokens_view.SENTENCES]
    long_text = "word " * 600
    at.text_input(key=tokens_view.FIRST_INPUT).input(long_text)
    ok(button(at, "Show the tokens").click().run())
    assert any(f"the limit is {MAX_TOKEN_SENTENCE_CHARS:,}" in error.value for error in at.error)
    assert at.session_state[tokens_view.SENTENCES] == before
    assert at.text_input(key=tokens_view.FIRST_INPUT).value == long_text
