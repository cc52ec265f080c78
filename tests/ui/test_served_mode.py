"""Served mode (EMBEDLAB_SERVED=1) in AppTest: every place a browser could name a server path (model boxes, the STS
data source, the Train page's data and evaluation files, a link, a view file) refuses /etc/passwd, ``../`` names
and folders outside the models directory with a served-mode message; the limits are stated and enforced."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from components.shared import state
from components.shared.share_links import PENDING, read_view_file
from components.train import train_form, train_queue, train_run
from embedlab import corpora, limits, served
from embedlab.models.names import MODELS_DIR_ENV, PACKAGED
from tests.ui.apptest import ok, page_test, shown

REFUSED = "This server is in served mode"
OUTSIDE_FILES = ("/etc/passwd", "../../etc/passwd", "../../etc")
OUTSIDE_FOLDERS = ("/etc", "../../etc")
BOX = "compare.trained.model"


def key(name: str) -> str:
    return f"train.{name}.widget"


@pytest.fixture()
def models(tmp_path, monkeypatch, tiny_st_dir) -> Path:
    """Served mode on, read by the engine at call time; a models directory holding one tiny saved model."""
    root = tmp_path / "models"
    shutil.copytree(tiny_st_dir, root / "saved")
    monkeypatch.setenv(MODELS_DIR_ENV, str(root))
    monkeypatch.setenv(served.SERVED_ENV, "1")
    return root


def shown_text(at: AppTest) -> str:
    parts = [*at.error, *at.warning, *at.info, *at.success, *at.caption, *at.markdown, *at.code]
    parts += [*at.sidebar.caption, *at.sidebar.error, *at.sidebar.info]
    return "\n".join(shown(part.value) for part in parts)


def app_with(params: dict[str, str], page: str) -> AppTest:
    at = page_test()
    at.query_params.update(params)
    at.switch_page(page)
    return ok(at.run())


def refusals(elements) -> list[str]:
    return [shown(element.value) for element in elements if REFUSED in element.value]


def test_the_sidebar_states_the_limits_in_served_mode_only(models, monkeypatch):
    at = ok(page_test().run())
    (note,) = [info.value for info in at.sidebar.info if info.value.startswith("Served mode:")]
    assert f"{limits.MAX_ROWS:,} rows" in note and f"{limits.SERVED_MAX_UPLOAD_MB} MB" in note
    assert f"{limits.SERVED_MAX_TRAIN_STEPS:,} training steps" in note
    monkeypatch.delenv(served.SERVED_ENV)
    at = ok(page_test().run())
    assert not [info for info in at.sidebar.info if "Served mode" in info.value]


@pytest.mark.parametrize("folder", [*OUTSIDE_FOLDERS, "outside model"])
def test_a_model_box_refuses_folders_outside_the_models_dir(models, tiny_st_dir, folder):
    typed = str(tiny_st_dir) if folder == "outside model" else folder  # a real model, outside the models dir
    at = page_test("compare")
    at.session_state[BOX] = typed  # as if typed in the model box
    ok(at.run())
    (message,) = refusals(at.error)
    assert repr(typed) in message and "pick a saved model" in message
    assert at.session_state[state.TRAINED_SPEC].model == PACKAGED  # the model in use stays
    assert at.selectbox(key=BOX).value == PACKAGED


def test_a_model_box_loads_a_model_saved_in_the_models_dir(models):
    saved = str(models / "saved")
    at = page_test("compare")
    at.session_state[BOX] = saved
    ok(at.run())
    assert not refusals(at.error)
    assert at.session_state[state.TRAINED_SPEC].model == str(Path(saved).resolve())


def test_the_sts_page_offers_no_path_box(models):
    at = ok(page_test("sts_eval").run())
    at.radio(key=state.STS_SOURCE_WIDGET).set_value("path")
    ok(at.run())
    assert not [box for box in at.text_input if box.key == state.STS_PATH_WIDGET]
    assert any("upload the file instead" in info for info in refusals(at.info))


def test_the_sts_page_loads_a_split_the_server_has(models, sts_dev):
    at = ok(page_test("sts_eval").run())
    at.radio(key=state.STS_SOURCE_WIDGET).set_value("path")
    ok(at.run())
    at.selectbox(key=state.STS_SERVER_SPLIT_WIDGET).set_value("dev split")
    at.button(key=state.STS_SERVER_SPLIT_LOAD).click()
    ok(at.run())
    pairs = at.session_state[state.STS_DATASET]
    assert (pairs.name, pairs.n_pairs) == ("sts-dev.csv", 1500)


@pytest.mark.parametrize("path", OUTSIDE_FILES)
def test_an_sts_link_naming_a_server_path_is_refused(models, path):
    at = app_with({"data": "path", "path": path}, "app_pages/sts_eval.py")
    (note,) = refusals(at.warning)
    assert "`path`" in note and repr(path) in note and "upload the file instead" in note
    assert not [button for button in at.button if button.label == "Open this file"]
    assert at.session_state[state.STS_DATASET].name != "passwd"
    assert "root:" not in shown_text(at)


def test_an_sts_link_naming_a_server_split_still_waits_for_confirmation(models, sts_dev):
    at = app_with({"data": "path", "path": str(corpora.STS_DEV_FILE)}, "app_pages/sts_eval.py")
    assert not refusals(at.warning)
    next(button for button in at.button if button.label == "Open this file").click()
    ok(at.run())
    assert at.session_state[state.STS_DATASET].n_pairs == 1500


@pytest.mark.parametrize("folder", OUTSIDE_FOLDERS)
def test_an_sts_link_naming_a_model_folder_is_refused(models, folder):
    at = app_with({"models": json.dumps([folder])}, "app_pages/sts_eval.py")
    assert any(repr(folder) in message for message in refusals(at.error))


@pytest.mark.parametrize("path", OUTSIDE_FILES)
def test_an_uploaded_view_naming_a_server_path_is_refused(models, path):
    view, found = read_view_file(json.dumps({"page": "sts_eval", "data": "path", "path": path}).encode())
    assert "path" not in view and "data" not in view
    assert any(REFUSED in note and "`path`" in note for note in found)
    at = app_with({}, "app_pages/sts_eval.py")
    at.session_state[PENDING] = (view, found)  # what the sidebar's uploader leaves for the next run
    ok(at.run())
    assert refusals(at.warning) and "root:" not in shown_text(at)
    assert not [button for button in at.button if button.label == "Open this file"]


@pytest.mark.parametrize("folder", OUTSIDE_FOLDERS)
def test_an_uploaded_view_naming_a_model_folder_is_refused(models, folder):
    raw = {"model": folder, "pooling": "mean", "layers": "-1", "post": "none", "post_dims": None}
    view, found = read_view_file(json.dumps({"page": "compare", "raw": raw}).encode())
    at = app_with({}, "app_pages/compare.py")
    at.session_state[PENDING] = (view, found)
    ok(at.run())
    assert any("`raw`" in note and repr(folder) in note for note in refusals(at.warning))
    assert at.session_state[state.RAW_SPEC].model != folder


@pytest.fixture()
def train_page(models) -> AppTest:
    train_queue._queue_of.clear()
    yield ok(page_test("train").run())
    train_queue._queue_of.clear()


def test_the_train_page_offers_no_path_boxes(train_page):
    at = train_page
    at.radio(key=key("source")).set_value("path")
    ok(at.run())
    boxes = {box.key for box in at.text_input}
    assert key("path") not in boxes and key("eval_path") not in boxes
    notes = [info for info in refusals(at.info) if "upload the file instead" in info]
    assert any("training file" in note for note in notes) and any("evaluation file" in note for note in notes)


def test_the_train_page_trains_on_the_server_splits(train_page, sts_dev):
    at = train_page
    at.radio(key=key("source")).set_value("path")
    ok(at.run())
    assert at.selectbox(key=key("server_split")).value == str(corpora.STS_TRAIN_FILE)
    assert at.selectbox(key=key("server_eval")).value == str(corpora.STS_DEV_FILE)
    assert any(caption.value.startswith("sts-train.csv: 5749 scored pairs") for caption in at.caption)
    assert at.button(key=train_run.START_BUTTON).disabled is False


def test_the_train_page_ignores_a_stored_server_path(train_page):
    """A path kept from before served mode (or planted in the session) is never read: the boxes offer only the
    server's own files."""
    at = train_page
    at.session_state["train.choices"]["path"] = "/etc/passwd"
    at.session_state["train.choices"]["eval_path"] = "../../etc/passwd"
    at.radio(key=key("source")).set_value("path")
    ok(at.run())
    assert "root:" not in shown_text(at)
    assert at.session_state["train.choices"]["eval_path"] in ("", str(corpora.STS_DEV_FILE))


@pytest.mark.parametrize("folder", [*OUTSIDE_FOLDERS, "outside model"])
def test_the_train_start_model_refuses_folders_outside_the_models_dir(train_page, tiny_st_dir, folder):
    typed = str(tiny_st_dir) if folder == "outside model" else folder
    at = train_page
    at.selectbox(key=key("model_pick")).set_value("other…")
    ok(at.run())
    assert at.text_input(key=key("model_typed")).label == "Hub id"
    at.text_input(key=key("model_typed")).input(typed)
    ok(at.run())
    assert any(repr(typed) in message for message in refusals(at.error))


def test_the_train_page_caps_the_steps(train_page):
    at = train_page
    at.radio(key=key("source")).set_value("bundled")
    at.selectbox(key=key("method")).set_value("mnrl")
    at.radio(key=key("length")).set_value("max steps")
    ok(at.run())
    assert at.number_input(key=key("steps")).max == limits.SERVED_MAX_TRAIN_STEPS
    at.radio(key=key("length")).set_value("epochs")
    ok(at.run())
    at.number_input(key=key("epochs")).set_value(100.0)
    at.number_input(key=key("batch")).set_value(1)
    ok(at.run())
    assert any("training steps" in message for message in refusals(at.error))
    assert at.button(key=train_run.START_BUTTON).disabled


def test_an_upload_on_train_quotes_the_served_limit_without_path_advice(train_page):
    """Issue 31 item 5: a file over served mode's limit was refused with the app's 20 MB and "give the file's path
    to the command line", which a student of a served app cannot do."""
    at = train_page
    at.selectbox(key=key("method")).set_value("cosine")
    at.radio(key=key("source")).set_value("upload")
    ok(at.run())
    big = b"sentence1,sentence2,score\n" + b"a,b,1\n" * (limits.SERVED_MAX_UPLOAD_MB * 1024 * 1024 // 6 + 1)
    at.file_uploader(key=train_form.UPLOAD_WIDGET).upload("big.csv", big, "text/csv")
    ok(at.run())
    (refusal,) = [error.value for error in at.error if "big.csv" in error.value]
    assert f"uploads are limited to {limits.SERVED_MAX_UPLOAD_MB} MB here" in refusal
    assert f"{limits.MAX_UPLOAD_MB} MB" not in refusal and "path" not in refusal and "command line" not in refusal


def test_a_table_beyond_the_row_limit_keeps_its_first_rows(models, monkeypatch):
    monkeypatch.setattr(limits, "MAX_ROWS", 2)  # the Compare page's example table has more
    at = ok(page_test("compare").run())
    assert any("Only the first 2 rows are used" in message for message in refusals(at.error))
    assert len(at.session_state[state.PAIRS]) == 2


def test_a_link_with_more_pairs_than_the_limit_is_refused(models, monkeypatch):
    monkeypatch.setattr(limits, "MAX_ROWS", 2)
    pairs = [["A cat sits.", "A kitten rests."], ["Stocks fell.", "Markets dropped."], ["It rains.", "It is wet."]]
    at = app_with({"pairs": json.dumps(pairs)}, "app_pages/compare.py")
    assert any("`pairs`" in note and "3 rows" in note for note in refusals(at.warning))
