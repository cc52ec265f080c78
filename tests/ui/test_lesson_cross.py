"""AppTest of the Lesson's cross-encoder step: without a saved cross-encoder it gives the exact command that trains
one (parsed by the real command line); with one, its scores are CrossEncoder(dir).predict beside its own baseline,
the costs are measured (N passes against 1), and its buttons open Compare and Projection with it."""

from __future__ import annotations

import shlex
import shutil

import pytest
from streamlit.testing.v1 import AppTest

from components.lesson.lesson_view import TITLES
from components.shared import state
from embedlab.cli import build_parser
from embedlab.corpora import reference_sentences
from embedlab.models.cross import CrossScorer
from embedlab.models.names import MODELS_DIR_ENV
from embedlab.scorers.cross_encoder import cross_random_pair_baseline
from embedlab.tasks.costs import DEFAULT_QUERY
from embedlab.tasks.lesson import PARAPHRASE, UNRELATED
from tests.ui.apptest import ok, page_test


def metric(at: AppTest, label: str) -> str:
    return next(m for m in at.metric if m.label == label).value


def lesson(app: bool = False) -> AppTest:
    if not app:
        return ok(page_test("lesson").run())
    at = ok(page_test().run())  # the whole app, so the step's buttons can switch pages
    at.switch_page("app_pages/lesson.py")
    return ok(at.run())


def test_without_a_cross_encoder_the_step_says_how_to_train_one(tmp_path, monkeypatch):
    monkeypatch.setenv(MODELS_DIR_ENV, str(tmp_path / "models"))
    at = lesson()
    assert TITLES["cross"] in [header.value for header in at.header]
    text = next(block.value for block in at.markdown if "No cross-encoder is saved here yet" in block.value)
    assert "[CLS] a [SEP] b [SEP]" in text and "every pair is a forward pass" in text
    (command,) = [code.value for code in at.code if "--method cross-encoder" in code.value]
    words = shlex.split(command)
    assert words[:3] == ["python", "-m", "embedlab"]
    parsed = build_parser().parse_args(words[3:])  # the real command line accepts it as shown
    assert (parsed.method, parsed.max_steps) == ("cross-encoder", 100)
    assert parsed.out.startswith(str(tmp_path / "models"))  # saved where the app looks for it


@pytest.fixture()
def saved_cross(tmp_path, monkeypatch, cross_dir):
    root = tmp_path / "models"
    shutil.copytree(cross_dir, root / "my-cross")
    monkeypatch.setenv(MODELS_DIR_ENV, str(root))
    return root / "my-cross"


def test_with_a_saved_cross_encoder_the_step_shows_its_scores_and_costs(saved_cross):
    from sentence_transformers import CrossEncoder

    at = lesson(app=True)
    paraphrase, unrelated = CrossEncoder(str(saved_cross), device="cpu").predict([PARAPHRASE, UNRELATED])
    assert float(metric(at, "Paraphrase (cross-encoder score)")) == pytest.approx(paraphrase, abs=5e-4)
    assert float(metric(at, "Unrelated (cross-encoder score)")) == pytest.approx(unrelated, abs=5e-4)
    baseline = cross_random_pair_baseline(CrossScorer(saved_cross), reference_sentences())
    assert float(metric(at, "Random pairs (cross-encoder)")) == pytest.approx(baseline.mean, abs=5e-4)
    text = next(block.value for block in at.markdown if block.value.startswith("The question's other way out"))
    assert "my-cross: paraphrase" in text and "not a cosine" in text
    assert "all 120 pairs of 16 sentences take the cross-encoder 120 passes" in text
    assert "all-MiniLM-L6-v2 16 (" in text and "the Projection set: 400 passes" in text and "against 1 (" in text
    (table,) = [frame.value for frame in at.dataframe if "cross-encoder" in frame.value.columns]
    assert table.iloc[2].tolist()[1:] == ["400", "1 (+ 400 dot products)"]
    assert any("fresh work" in caption.value and "Measured at" in caption.value for caption in at.caption)

    at.button(key="lesson.open.cross.1").click()
    ok(at.run())
    assert at.title[0].value == "Projection"
    assert at.session_state[state.CROSS_ENCODER] == str(saved_cross)
    assert at.session_state[state.PROJECTION_RERANK_QUERY] == DEFAULT_QUERY
