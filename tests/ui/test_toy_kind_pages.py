"""The toy kind (``tests/toykind.py``), registered by this test alone, typed as the trained model on Compare, used by
Negative tests and evaluated on the STS page: no page knows it, every page asks its scorer."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from components.shared import state
from components.shared.services import get_encoder
from embedlab.embedding.specs import EmbedSpec
from embedlab.scorers.registry import register, unregister
from embedlab.tasks import sts
from embedlab.tasks.compare import example_pairs
from tests.toykind import ToyScorer, trigram_vector
from tests.ui.apptest import ok, page_test

REF = "toy:trigrams"


@pytest.fixture
def toy_kind():
    register(ToyScorer)
    yield ToyScorer
    unregister(ToyScorer)
    get_encoder.clear()  # no toy engine outlives its kind


def hand_cosines(firsts, seconds) -> np.ndarray:
    return np.array([float(np.dot(trigram_vector(a), trigram_vector(b))) for a, b in zip(firsts, seconds, strict=True)])


def test_compare_with_the_toy_typed_as_the_trained_model(toy_kind):
    at = page_test("compare")
    at.session_state[state.widget_key(state.COMPARE, "trained.model")] = REF
    ok(at.run())
    assert at.session_state[state.TRAINED_SPEC] == EmbedSpec(REF) and not at.error
    pairs = example_pairs()
    table = next(frame.value for frame in at.dataframe if "trained_cosine" in frame.value.columns)
    shown = pd.to_numeric(table["trained_cosine"].str.strip()).to_numpy()
    np.testing.assert_allclose(shown, hand_cosines(pairs.sentence1, pairs.sentence2), atol=5e-4)  # 3 decimals
    assert pd.to_numeric(table["trained_percentile"].str.strip()).between(0, 100).all()


def test_negative_tests_with_the_toy(toy_kind):
    at = page_test("negative_tests")
    at.session_state[state.TRAINED_SPEC] = EmbedSpec(REF)
    ok(at.run())
    assert not at.error
    table = next(frame.value for frame in at.dataframe if "auc" in frame.value.columns)
    labels = " ".join(str(value) for value in table.astype(str).to_numpy().ravel())
    assert f"{REF} · own pipeline" in labels


def test_sts_page_evaluates_the_toy_as_its_own_pipeline_row(toy_kind):
    at = page_test("sts_eval")
    at.session_state[state.STS_MODELS] = [REF]
    ok(at.run())
    assert not at.error
    pairs = at.session_state[state.STS_DATASET]
    evaluation = at.session_state[state.STS_RESULTS][(pairs.fingerprint, REF)]
    assert list(evaluation.table.pooling) == ["model"]  # vectors only: its own pipeline is the one row
    expected = 100 * spearmanr(hand_cosines(pairs.sentence1, pairs.sentence2), pairs.gold).statistic
    assert evaluation.table.spearman[0] == pytest.approx(expected, abs=1e-4)
    assert pairs.fingerprint == sts.bundled_pairs().fingerprint
