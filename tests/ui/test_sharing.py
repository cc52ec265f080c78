"""Shareable links: a URL's query string restores a view, bad parameters are notes, long tables go to a file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from components.shared import state
from components.shared.share_links import MAX_URL_CHARS, PENDING, query_from_view, read_view_file
from embedlab.embedding.specs import EmbedSpec
from embedlab.errors import EmbedLabError
from embedlab.limits import MAX_TOKEN_SENTENCE_CHARS
from embedlab.tasks.compare import example_pairs
from embedlab.tasks.projection import ProjectionSettings
from tests.ui.apptest import page_test, shown

MODEL = "all-MiniLM-L6-v2"
RAW = {"model": MODEL, "pooling": "mean", "layers": "3", "post": "none", "post_dims": None}
PAIRS = [["A cat sits on the mat.", "A kitten rests on a rug."], ["Stocks fell today.", "The market dropped."]]


def app_with(params: dict[str, str], page: str | None = None) -> AppTest:
    at = page_test()
    at.query_params.update(params)
    if page:
        at.switch_page(page)
    at.run()
    assert not at.exception, at.exception
    return at


def metric(at: AppTest, prefix: str):
    return next(m for m in at.metric if m.label.startswith(prefix))


def notes(at: AppTest) -> list[str]:
    return [shown(warning.value) for warning in at.warning if "the link" in warning.value or "link's" in warning.value]


def test_compare_link_restores_pairs_configuration_and_selected_pair():
    at = app_with({"raw": json.dumps(RAW), "pairs": json.dumps(PAIRS), "pair": "2"})
    assert at.session_state[state.RAW_SPEC] == EmbedSpec(MODEL, "mean", "3")
    table = at.session_state[state.PAIRS]
    assert table[["sentence1", "sentence2"]].values.tolist() == PAIRS
    assert at.session_state[state.SELECTED_PAIR] == 2
    assert "mean" in metric(at, "Raw ·").label and "layers 3" in metric(at, "Raw ·").label
    assert not notes(at)
    # the URL written back at the end of the run names the same view
    assert json.loads(at.query_params["pairs"]) == PAIRS
    assert json.loads(at.query_params["raw"]) == RAW
    assert at.query_params["pair"] == "2"


def test_changing_the_view_rewrites_the_url():
    at = app_with({})
    assert json.loads(at.query_params["raw"])["pooling"] == "cls"
    at.radio(key=state.widget_key(state.COMPARE, "raw.pooling")).set_value("max").run()
    assert not at.exception, at.exception
    assert json.loads(at.query_params["raw"])["pooling"] == "max"
    assert len(json.loads(at.query_params["pairs"])) == len(example_pairs())


def test_garbage_parameters_are_notes_and_the_page_works():
    at = app_with(
        {
            "raw": "{not json",
            "trained": json.dumps({**RAW, "pooling": "cls"}),  # the trained side only takes the model's own
            "pairs": json.dumps([["only one sentence"]]),
            "pair": "many",
            "colour": "blue",
        }
    )
    shown = " ".join(notes(at))
    for param in ("raw", "trained", "pairs", "pair", "colour"):
        assert f"`{param}`" in shown, param
    assert at.session_state[state.RAW_SPEC] == EmbedSpec(MODEL, "cls", "-1")  # the default, untouched
    assert len(at.session_state[state.PAIRS]) == len(example_pairs())
    assert float(metric(at, "Raw ·").value) > 0  # scores shown as usual


def test_a_model_that_does_not_load_is_a_note():
    at = app_with({"raw": json.dumps({**RAW, "model": "no-such/model-anywhere"})})
    assert any("`raw`" in note for note in notes(at))
    assert at.session_state[state.RAW_SPEC].model == MODEL
    assert metric(at, "Raw ·")


def test_a_table_too_long_for_a_url_is_left_out_with_a_note():
    long_pairs = [[f"Sentence number {i} about one thing.", f"Sentence number {i} about another."] for i in range(40)]
    view = {"page": "compare", "raw": RAW, "pairs": long_pairs, "selected_pair": 1}
    params, left_out = query_from_view(view)
    assert "pairs" not in params and "raw" in params
    assert left_out and "Download view" in left_out[0]

    # a long table arrives (from a file, or a link made elsewhere): the URL written back leaves it out, with a note
    at = app_with({"pairs": json.dumps(long_pairs)})
    assert len(at.session_state[state.PAIRS]) == len(long_pairs)
    assert "pairs" not in at.query_params and "raw" in at.query_params
    assert any("too long" in caption.value for caption in at.sidebar.caption)


def test_view_file_round_trip():
    view = {
        "page": "projection",
        "raw": RAW,
        "sentences": "text",
        "text": "a\tOne sentence.\nb\tAnother one.\na\tA third.",
        "settings": {"method": "pca", "dims": 3, "n_neighbors": 5, "min_dist": 0.2, "seed": 7},
        "search": "one",
        "k": 2,
    }
    checked, found = read_view_file(json.dumps(view).encode("utf-8"))
    assert checked == view and not found
    params, left_out = query_from_view(checked)
    assert not left_out and len("&".join(f"{k}={v}" for k, v in params.items())) < MAX_URL_CHARS

    at = app_with(params, "app_pages/projection.py")
    assert at.session_state[state.PROJECTION_SOURCE] == "text"
    assert at.session_state[state.PROJECTION_SETTINGS] == ProjectionSettings("pca", 3, 5, 0.2, 7)
    assert at.session_state[state.PROJECTION_QUERY] == "one"
    assert at.session_state[state.RAW_SPEC] == EmbedSpec(MODEL, "mean", "3")
    assert json.loads(at.query_params["settings"]) == view["settings"]
    assert at.query_params["text"] == view["text"]
    download = next(b for b in at.sidebar.get("download_button") if "Download view" in str(b.proto.label))
    assert download  # the same view, as a file, in the sidebar


def test_bad_view_file_fields_are_notes():
    checked, found = read_view_file(json.dumps({"page": "compare", "pairs": "x", "colour": 1}).encode())
    assert checked == {"page": "compare"}
    assert any("`pairs`" in note for note in found) and any("`colour`" in note for note in found)
    with pytest.raises(Exception, match="names no page"):
        read_view_file(json.dumps({"page": "nowhere"}).encode())


def test_negative_tests_and_sts_links():
    at = app_with(
        {"raw": json.dumps(RAW), "suite": "bundled", "thresholds": json.dumps({"trained": 0.5})},
        "app_pages/negative_tests.py",
    )
    trained = at.session_state[state.TRAINED_SPEC]
    assert at.session_state[state.negtest_threshold(trained.label)] == 0.5
    assert json.loads(at.query_params["thresholds"]) == {"trained": 0.5}
    assert at.query_params["suite"] == "bundled"

    at = app_with({"models": json.dumps([MODEL]), "data": "bundled"}, "app_pages/sts_eval.py")
    assert at.session_state[state.STS_MODELS] == [MODEL]
    assert json.loads(at.query_params["models"]) == [MODEL]
    assert not notes(at)
    assert any(header.value == "Best configurations" for header in at.subheader)


def test_tokens_link_restores_sentences_and_configuration():
    at = app_with(
        {"raw": json.dumps(RAW), "sentences": json.dumps(["The bank is closed.", "We sat on the bank."])},
        "app_pages/tokens.py",
    )
    assert at.session_state["tokens.sentences"] == ("The bank is closed.", "We sat on the bank.")
    assert at.session_state[state.RAW_SPEC] == EmbedSpec(MODEL, "mean", "3")
    assert json.loads(at.query_params["sentences"]) == ["The bank is closed.", "We sat on the bank."]
    assert not notes(at)


def test_an_uploaded_view_opens_its_page_on_the_next_run():
    at = app_with({})
    view, found = read_view_file(json.dumps({"page": "compare", "raw": RAW, "pairs": PAIRS}).encode())
    at.session_state[PENDING] = (view, found)  # what the sidebar's uploader leaves for the next run
    at.run()
    assert not at.exception, at.exception
    assert at.session_state[state.RAW_SPEC] == EmbedSpec(MODEL, "mean", "3")
    assert at.session_state[state.PAIRS][["sentence1", "sentence2"]].values.tolist() == PAIRS
    assert any("Opened the uploaded view" in message.value for message in at.success)


def test_wrongly_typed_file_fields_are_notes():
    view = {"page": "compare", "selected_pair": "x", "raw": RAW}
    checked, found = read_view_file(json.dumps(view).encode())
    assert checked == {"page": "compare", "raw": RAW}
    assert any("`selected_pair`" in note for note in found)
    view = {"page": "sts_eval", "models": "all", "hub": ["x", "y"], "data": "hub"}
    checked, found = read_view_file(json.dumps(view).encode())
    assert checked == {"page": "sts_eval", "data": "hub"}
    assert len(found) == 2


SECRET = "api_key=sk-live-0123456789abcdef"


def shown_text(at: AppTest) -> str:
    """Everything the page shows in words: messages, captions, markdown, code."""
    parts = [*at.error, *at.warning, *at.info, *at.success, *at.caption, *at.markdown, *at.code]
    parts += [*at.sidebar.caption, *at.sidebar.error]
    return "\n".join(shown(part.value) for part in parts)


def open_this_file(at: AppTest) -> AppTest:
    next(button for button in at.button if button.label == "Open this file").click()
    at.run()
    assert not at.exception, at.exception
    return at


def test_an_sts_path_from_a_link_is_not_read_before_the_user_confirms_it(tmp_path):
    good = tmp_path / "mine.csv"
    good.write_text(
        "sentence1,sentence2,score\n" + "".join(f"Sentence {i}.,Another {i}.,{i % 6}\n" for i in range(12)),
        encoding="utf-8",
    )
    at = app_with({"data": "path", "path": str(good), "models": json.dumps([MODEL])}, "app_pages/sts_eval.py")
    assert at.session_state[state.STS_DATASET].name != "mine.csv"  # the default data meanwhile
    assert any("not opened until you confirm" in warning.value for warning in at.warning)
    assert str(good) in [code.value for code in at.code]  # the path is shown
    assert at.text_input(key=state.STS_PATH_WIDGET).value == str(good)
    at.run()  # another run (any widget): still not read
    assert at.session_state[state.STS_DATASET].name != "mine.csv"

    open_this_file(at)
    assert at.session_state[state.STS_DATASET].name == "mine.csv"
    assert not any("not opened until you confirm" in warning.value for warning in at.warning)


@pytest.mark.parametrize("name", ["secrets.csv", ".env", "sub/../notes.txt"])
def test_a_secret_file_named_by_a_link_never_shows_its_content(tmp_path, name):
    (tmp_path / "sub").mkdir()
    path = tmp_path / name
    path.write_text(f"{SECRET}\npassword=hunter2\n", encoding="utf-8")
    at = app_with({"data": "path", "path": str(path)}, "app_pages/sts_eval.py")
    assert SECRET not in shown_text(at)
    open_this_file(at)
    assert at.error and SECRET not in shown_text(at) and "hunter2" not in shown_text(at)
    assert at.session_state[state.STS_DATASET].name != path.name


@pytest.mark.skipif(not Path("/etc/passwd").is_file(), reason="needs /etc/passwd")
def test_a_system_file_named_by_a_view_file_is_refused_after_confirming(tmp_path):
    at = app_with({}, "app_pages/sts_eval.py")
    view, found = read_view_file(json.dumps({"page": "sts_eval", "data": "path", "path": "/etc/passwd"}).encode())
    assert not found
    at.session_state[PENDING] = (view, found)
    at.run()
    assert any("not opened until you confirm" in warning.value for warning in at.warning)
    open_this_file(at)
    assert any("not a data file" in error.value for error in at.error)
    assert "root:" not in shown_text(at)


def test_bad_layers_in_a_link_are_a_warning_naming_the_parameter():
    for layers in ("NaN", "-100"):
        at = app_with({"raw": json.dumps({**RAW, "layers": layers})})
        assert any("`raw`" in note for note in notes(at)), layers
        assert at.session_state[state.RAW_SPEC] == EmbedSpec(MODEL, "cls", "-1")  # the default, untouched


def test_tokens_one_limit_for_links_and_files_and_long_sentences_leave_the_link_with_a_note():
    long_sentence = "word " * 600  # 3,000 characters: over the page's limit
    at = app_with({"sentences": json.dumps([long_sentence])}, "app_pages/tokens.py")
    (note,) = [note for note in notes(at) if "`sentences`" in note]
    assert f"{MAX_TOKEN_SENTENCE_CHARS}" in note
    checked, found = read_view_file(json.dumps({"page": "tokens", "sentences": [long_sentence]}).encode())
    assert checked == {"page": "tokens"} and f"{MAX_TOKEN_SENTENCE_CHARS}" in found[0]
    at.session_state[PENDING] = (checked, found)
    at.run()
    assert [message.value for message in at.success] == ["Opened the uploaded view, except what the notes below say."]
    assert any("`sentences`" in shown(warning.value) for warning in at.warning)

    fits = ("word " * 400)[:MAX_TOKEN_SENTENCE_CHARS].strip()  # within the limit, too long for a link
    checked, found = read_view_file(json.dumps({"page": "tokens", "sentences": [fits]}).encode())
    assert checked == {"page": "tokens", "sentences": [fits]} and not found
    at.session_state[PENDING] = (checked, found)
    at.run()
    assert at.session_state["tokens.sentences"] == (fits,)
    assert "sentences" not in at.query_params and "raw" in at.query_params
    assert any("too long" in caption.value and "sentences" in caption.value for caption in at.sidebar.caption)


@pytest.mark.parametrize("page, param", [(None, "pairs"), ("app_pages/tokens.py", "sentences")])
def test_a_link_nested_1200_deep_is_a_note_and_the_page_works(page, param):
    at = app_with({param: "[" * 1200}, page)  # app_with asserts no exception (it was a RecursionError)
    assert any(f"`{param}`" in note and "nested too deeply" in note for note in notes(at))
    assert "Recursion" not in shown_text(at) and "Traceback" not in shown_text(at)


def test_a_view_file_nested_5000_deep_is_refused_in_one_line():
    with pytest.raises(EmbedLabError, match="nested too deeply") as refused:
        read_view_file(("[" * 5000 + "]" * 5000).encode("utf-8"))
    assert "\n" not in str(refused.value) and "/" not in str(refused.value)
