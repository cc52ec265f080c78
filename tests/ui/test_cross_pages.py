"""A cross-encoder on the Negative tests and STS evaluation pages: chosen in its own box (a folder, recognised by its
files), shown as a configuration beside the bi-encoders with its own scores (CrossEncoder(dir).predict to 1e-5,
labelled "score", never "cosine") and its own random-pair baseline; a folder that is not one says so, the rest
carries on."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from components.shared import state
from embedlab.tasks.negtest import bundled_suite
from embedlab.tasks.sts import PAIR_BY_PAIR, bundled_pairs
from tests.ui.apptest import ok, page_test


@pytest.fixture(scope="module")
def predict(cross_dir):
    from sentence_transformers import CrossEncoder

    model = CrossEncoder(str(cross_dir), device="cpu")
    return lambda pairs: model.predict(list(pairs), show_progress_bar=False)


def frames(at: AppTest, column: str) -> list[pd.DataFrame]:
    return [frame.value for frame in at.dataframe if column in frame.value.columns]


def test_negative_tests_show_a_cross_encoder_beside_the_bi_encoders(cross_dir, predict):
    at = page_test("negative_tests")
    at.session_state[state.NEGTEST_CROSS] = str(cross_dir)
    ok(at.run())
    summary = frames(at, "auc")[0]
    assert list(summary["kind"]) == ["bi-encoder", "bi-encoder", "cross-encoder"]
    assert summary.iloc[2]["configuration"].endswith("· cross-encoder score")
    assert len([m for m in at.metric if m.label == "ROC AUC"]) == 3
    # its failures carry its own scores, equal to CrossEncoder(dir).predict
    failures = frames(at, "margin")[2]
    assert len(failures)
    expected = predict(zip(failures["sentence1"], failures["sentence2"], strict=True))
    np.testing.assert_allclose(failures["cosine"].to_numpy(), expected, atol=1e-5)
    # against its own random-pair baseline: sigmoid scores in 0..1
    assert 0 <= summary.iloc[2]["baseline_mean"] <= summary.iloc[2]["baseline_p95"] <= 1
    # the comparison: failures per kind of pair, and what reading both sentences at once changes
    assert any(md.value.startswith("**Does reading both sentences at once help?**") for md in at.markdown)
    per_kind = frames(at, "every bi-encoder")[0].set_index("category")
    assert per_kind.loc["role_reversal", "pairs"] == 10
    assert set(per_kind.columns) >= {*summary["configuration"], "every bi-encoder"}
    # its threshold box: a pair matches when its score is at or above it
    label = summary.iloc[2]["configuration"]
    at.number_input(key=state.negtest_threshold_widget(label)).set_value(0.5).run()
    row = frames(ok(at), "auc")[0].iloc[2]
    suite = bundled_suite()
    scores = predict(zip(suite.sentence1, suite.sentence2, strict=True))
    wrong = ((suite.label == 0) & (scores >= 0.5)) | ((suite.label == 1) & (scores < 0.5))
    assert row.threshold == 0.5 and row.failures == int(wrong.sum())


def test_a_folder_that_is_not_a_cross_encoder_is_an_error_and_the_rest_carries_on(tiny_st_dir):
    at = page_test("negative_tests")
    at.session_state[state.NEGTEST_CROSS] = str(tiny_st_dir)
    ok(at.run())
    assert any("is not a cross-encoder folder" in error.value for error in at.error)
    assert list(frames(at, "auc")[0]["kind"]) == ["bi-encoder", "bi-encoder"]
    assert at.session_state[state.NEGTEST_CROSS] == str(tiny_st_dir)  # what was typed is kept


def test_sts_page_has_a_cross_encoder_row_scored_pair_by_pair(cross_dir, predict):
    at = page_test("sts_eval")
    at.session_state[state.STS_MODELS] = ["all-MiniLM-L6-v2"]
    at.session_state[state.STS_CROSS] = str(cross_dir)
    ok(at.run())
    best = frames(at, "best configuration")[0]
    assert list(best["kind"]) == ["bi-encoder", "cross-encoder"]
    pairs = bundled_pairs()
    texts = list(zip(pairs.sentence1, pairs.sentence2, strict=True))
    from scipy.stats import spearmanr

    cross = best.iloc[1]
    assert cross["best configuration"] == PAIR_BY_PAIR.format(kind="cross-encoder")
    assert cross["own pipeline"] == pytest.approx(100 * spearmanr(predict(texts), pairs.gold).statistic, abs=1e-4)
    assert cross["forward passes"] == len(set(texts)) and best.iloc[0]["forward passes"] == len(
        pairs.unique_sentences()
    )
    assert any("forward pass per pair" in caption.value for caption in at.caption)
    # its scatter: its scores (not cosines) against the gold scores
    at.selectbox(key=state.STS_SCATTER_MODEL_WIDGET).set_value(cross["model"]).run()
    worst = frames(ok(at), "rank_gap")[0]
    assert "score" in worst.columns and "cosine" not in worst.columns
    np.testing.assert_allclose(
        worst["score"].to_numpy(), predict(zip(worst["sentence1"], worst["sentence2"], strict=True)), atol=1e-5
    )
