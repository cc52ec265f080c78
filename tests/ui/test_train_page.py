"""AppTest of the Train page: the composer's printed module list and warnings, data errors, a tiny run to the end."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from components import train_view
from tests.ui.apptest import ok, page_test


def key(name: str) -> str:
    return f"train.{name}.widget"


@pytest.fixture()
def app(tiny_model_dir, tmp_path, monkeypatch) -> AppTest:
    """The page on the tiny model, models saved under a temporary directory, a fresh runner."""
    monkeypatch.setenv("EMBEDLAB_MODELS_DIR", str(tmp_path / "models"))
    train_view.training_jobs.clear()
    at = ok(page_test("train").run())
    at.selectbox(key=key("model_pick")).set_value("other…")
    ok(at.run())
    at.text_input(key=key("model_typed")).input(str(tiny_model_dir))
    return ok(at.run())


def codes(at: AppTest) -> list[str]:
    return [element.value for element in at.code]


def test_module_list_is_printed_as_the_library_prints_it_and_dense_after_normalize_warns(app):
    (printed,) = [code for code in codes(app) if code.startswith("SentenceTransformer(")]
    assert "'pooling_mode': 'cls'" in printed and "'embedding_dimension': 32" in printed
    assert any("SentenceTransformerTrainer" in code for code in codes(app))  # the Python code, ready to copy
    app.checkbox(key=key("dense")).check()
    app.checkbox(key=key("normalize")).check()
    ok(app.run())
    app.checkbox(key=key("normalize_first")).check()
    ok(app.run())
    (printed,) = [code for code in codes(app) if code.startswith("SentenceTransformer(")]
    assert printed.index("Normalize") < printed.index("Dense")
    assert any("Dense follows Normalize" in warning.value for warning in app.warning)


def test_bad_data_shows_an_error_and_keeps_what_was_typed(app, tmp_path):
    app.selectbox(key=key("method")).set_value("cosine")
    app.radio(key=key("source")).set_value("path")
    ok(app.run())
    missing = str(tmp_path / "nope.csv")
    app.text_input(key=key("path")).input(missing)
    ok(app.run())
    assert any("not found" in error.value for error in app.error)
    assert app.text_input(key=key("path")).value == missing
    app.radio(key=key("source")).set_value("bundled")
    ok(app.run())
    assert any("scored pairs" in error.value for error in app.error)
    assert not [button for button in app.button if button.key == "train.start"]  # nothing to start with
    app.radio(key=key("source")).set_value("hub")
    ok(app.run())
    assert any("STS benchmark" in error.value or "datasets" in error.value for error in app.error)


def test_each_method_starts_from_its_own_learning_rate_and_keeps_what_was_typed(app):
    assert app.number_input(key=key("lr.cosine")).value == 2e-5
    app.selectbox(key=key("method")).set_value("simcse")
    ok(app.run())
    assert app.number_input(key=key("lr.simcse")).value == 5e-5  # SimCSE's own default
    app.number_input(key=key("lr.simcse")).set_value(3e-5)
    ok(app.run())
    app.selectbox(key=key("method")).set_value("cosine")
    ok(app.run())
    assert app.number_input(key=key("lr.cosine")).value == 2e-5
    app.selectbox(key=key("method")).set_value("simcse")
    ok(app.run())
    assert app.number_input(key=key("lr.simcse")).value == 3e-5
    assert train_view.DEFAULTS["learning_rates"] == {}  # what one session typed is not every session's default
    precision = app.selectbox(key=key("precision"))
    assert precision.value == "auto" and list(precision.options)[1:] == ["fp32", "bf16"]


def test_a_small_run_trains_in_the_background_and_shows_before_and_after(app, tmp_path):
    from sentence_transformers import SentenceTransformer

    from components import state
    from embedlab.tasks.projection import ProjectionSettings, bundled_sentences, label_agreement

    app.session_state[state.PROJECTION_SETTINGS] = ProjectionSettings(method="pca")  # no UMAP compile in this test
    app.selectbox(key=key("method")).set_value("mnrl")
    app.radio(key=key("source")).set_value("bundled")
    app.text_input(key=key("eval_path")).input("")
    app.radio(key=key("length")).set_value("max steps")
    ok(app.run())
    app.number_input(key=key("steps")).set_value(2)
    app.number_input(key=key("batch")).set_value(4)
    ok(app.run())
    assert any("paraphrase groups" in caption.value for caption in app.caption)
    app.text_input(key=key("name")).input("ui-model")
    ok(app.run())
    app.button(key="train.start").click()
    ok(app.run())
    view = train_view.training_jobs().wait(timeout=600, owner=app.session_state[train_view.OWNER])
    assert view.status == "done", view.error
    ok(app.run())
    assert any("2 steps" in success.value for success in app.success)
    table = [frame.value for frame in app.dataframe if "before" in frame.value.columns][0]
    assert list(table["measure"])[0] == "STS Spearman x 100"
    (changes,) = [frame.value for frame in app.dataframe if "change" in frame.value.columns]
    assert len(changes) > 0 and (changes["after"] - changes["before"] - changes["change"]).abs().max() < 1e-3
    saved = tmp_path / "models" / "ui-model"
    assert (saved / "modules.json").is_file() and view.saved_to == str(saved)
    # The projection before/after: each side's label agreement is the trained model's own, from plain encode().
    sentences = bundled_sentences()
    reloaded = SentenceTransformer(str(saved), device="cpu", local_files_only=True)
    expected = label_agreement(reloaded.encode(list(sentences.sentences)), sentences.labels)
    shown = {metric.label.split(":")[0]: metric.value for metric in app.metric if "shares the topic" in metric.label}
    assert set(shown) == {"before", "after"} and shown["after"] == f"{expected.rate:.0%}"
    # The trained model is offered as a start model, and a second run with the same name is refused.
    assert "ui-model (saved)" in app.selectbox(key=key("model_pick")).options
    app.text_input(key=key("name")).input("ui-model")
    ok(app.run())
    app.button(key="train.start").click()
    ok(app.run())
    assert any("not empty" in error.value for error in app.error)
