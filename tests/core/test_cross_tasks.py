"""A cross-encoder in the engine's negative tests and STS evaluation: its own scores (CrossEncoder.predict to 1e-5)
judged like a configuration's cosines, against its own random-pair baseline; which pairs it catches that every
bi-encoder fails; its STS row scored pair by pair with the pass count."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from embedlab.embedding.scoring import Baseline
from embedlab.embedding.specs import EmbedSpec
from embedlab.models.cross import CrossScorer
from embedlab.scorers.cross_encoder import CROSS_ENCODER, CrossEncoderScorer, cross_random_pair_baseline
from embedlab.scorers.registry import open_scorer
from embedlab.tasks import negtest, sts

SUITE = pd.DataFrame(
    {
        "sentence1": ["How old are you?", "The cat chased the dog.", "I like it.", "A man plays a guitar.", "Hi."],
        "sentence2": ["What is your age?", "The dog chased the cat.", "I dislike it.", "A man makes music.", "Bye."],
        "label": [1, 0, 0, 1, 0],
        "category": ["paraphrase", "role_reversal", "negation", "paraphrase", "unrelated"],
    },
    index=[1, 2, 3, 4, 5],
)
BASELINE = Baseline(0.1, 0.3, 10, np.linspace(0, 0.4, 10))


@pytest.fixture(scope="module")
def scorer(cross_dir) -> CrossEncoderScorer:
    """The cross-encoder kind over a CrossScorer named "my-ce" (the name its labels carry)."""
    return open_scorer(str(cross_dir), engine=lambda kind, model_id: CrossScorer(cross_dir, "my-ce"))


@pytest.fixture(scope="module")
def predict(cross_dir):
    from sentence_transformers import CrossEncoder

    model = CrossEncoder(str(cross_dir), device="cpu")
    return lambda pairs: model.predict(list(pairs), show_progress_bar=False)


def judged(scores, kind=negtest.BI_ENCODER, model="bi", threshold=0.5) -> negtest.NegTestResult:
    result = negtest.judge(EmbedSpec(model), SUITE.assign(note=""), np.array(scores), threshold, BASELINE)
    from dataclasses import replace

    if kind == negtest.BI_ENCODER:
        return result
    return replace(result, kind=kind, score_name="score", name=f"{model} · {kind} score")


def test_negtest_of_a_cross_encoder_is_its_predict_against_its_own_baseline(scorer, predict):
    texts = list(zip(SUITE.sentence1, SUITE.sentence2, strict=True))
    result = negtest.run_scorer_negtest(scorer, SUITE)
    assert result.kind == "cross-encoder" and result.score_name == "score"
    np.testing.assert_allclose(result.scores, predict(texts), atol=1e-5)
    assert result.label == "my-ce · cross-encoder score" and result.verdict().startswith("my-ce · cross-encoder")
    # the baseline is the cross-encoder's own: its scores of mismatched reference sentences
    from embedlab.corpora import reference_sentences

    own = cross_random_pair_baseline(scorer.engine, reference_sentences())
    assert result.baseline.mean == pytest.approx(own.mean) and 0 <= own.mean <= 1
    summary = negtest.summary_table([result])
    assert summary.loc[0, "kind"] == "cross-encoder" and summary.loc[0, "configuration"] == result.label


def test_a_constant_cross_encoder_is_undefined_not_ranked():
    result = judged([0.5] * 5, kind=CROSS_ENCODER, model="flat")
    assert np.isnan(result.auc) and result.auc_reason and "undefined" in result.auc_reason
    assert "cannot tell the pairs apart" in result.verdict()


def test_pairs_every_bi_encoder_fails_and_the_cross_encoder_catches():
    # rows 1..5; threshold 0.5: a negative fails at >= 0.5, a positive below it
    first = judged([0.9, 0.95, 0.9, 0.8, 0.1], model="a")  # fails rows 2 (role reversal) and 3 (negation)
    second = judged([0.4, 0.9, 0.2, 0.9, 0.2], model="b")  # fails rows 1 (missed) and 2
    cross = judged([0.9, 0.1, 0.8, 0.3, 0.1], kind=CROSS_ENCODER, model="ce")  # fails rows 3 and 4
    assert negtest.failed_by_every_bi_encoder([first, second, cross]) == {2}
    table = negtest.caught_by_cross([first, second], cross)
    assert list(table["row"]) == [2, 3, 4]
    assert list(table["outcome"]) == [negtest.CAUGHT, negtest.MISSED, negtest.MISSED]
    assert table.loc[0, "score"] == pytest.approx(0.1) and table.loc[0, "best cosine"] == pytest.approx(0.9)
    # row 1: only b fails it (a passes it): not "caught"; rows 3 and 4: the cross-encoder fails, a bi-encoder passes
    counts = negtest.category_failures([first, second, cross]).set_index("category")
    assert counts.loc["role_reversal", "every bi-encoder"] == 1 and counts.loc["role_reversal", cross.label] == 0
    assert counts.loc["negation", first.label] == 1 and counts.loc["negation", cross.label] == 1
    assert counts.loc["paraphrase", "pairs"] == 2
    verdict = negtest.cross_verdict([first, second], cross)
    assert verdict.startswith("Of the 1 pairs that every bi-encoder fails, the cross-encoder gets 1 right")
    assert "role reversal 1 of 1" in verdict and "fails 2 pairs that some bi-encoder gets right" in verdict


def test_sts_row_of_a_cross_encoder_is_its_predict_pair_by_pair(scorer, predict):
    pairs = sts.bundled_pairs()
    before = scorer.work_done
    evaluation = sts.evaluate_scorer(scorer, pairs)
    texts = list(zip(pairs.sentence1, pairs.sentence2, strict=True))
    expected = predict(texts)
    np.testing.assert_allclose(evaluation.cosines[0], expected, atol=1e-5)
    assert evaluation.table.spearman[0] == pytest.approx(100 * spearmanr(expected, pairs.gold).statistic, abs=1e-6)
    assert evaluation.kind == "cross-encoder" and evaluation.passes == len(set(texts))
    assert scorer.work_done - before <= len(set(texts))  # one forward pass per distinct pair, at most
    best = sts.best_configurations([evaluation]).iloc[0]
    assert best["kind"] == "cross-encoder" and best["own pipeline"] == evaluation.table.spearman[0]
    assert best["best configuration"] == "cross-encoder score (pair by pair)" and best["forward passes"] == len(
        set(texts)
    )
    assert evaluation.records() == [
        {"pooling": "cross-encoder", "spearman": round(evaluation.table.spearman[0], 6),
         "pearson": round(evaluation.table.pearson[0], 6)}
    ]  # fmt: skip
    assert "score" in sts.rank_disagreements(evaluation, 0, pairs).columns


def test_sts_dev_slice_through_a_cross_encoder(scorer, predict, sts_dev: Path):
    pairs = sts.read_scored_pairs(sts_dev).head(40)
    reports = []
    evaluation = sts.evaluate_scorer(scorer, pairs, lambda done, total: reports.append((done, total)))
    assert reports[-1] == (40, 40)
    expected = predict(zip(pairs.sentence1, pairs.sentence2, strict=True))
    assert evaluation.table.spearman[0] == pytest.approx(100 * spearmanr(expected, pairs.gold).statistic, abs=1e-4)
