"""Training a cross-encoder (the pair classifier on [CLS]): the library's trainer, a folder CrossEncoder(dir) loads,
and scores in the app equal to its predict."""

from __future__ import annotations

import json
import math
import threading

import numpy as np
import pytest

from embedlab.errors import EmbedLabError
from embedlab.models.cross import CrossScorer, is_cross_encoder_folder
from embedlab.tasks.sts import bundled_pairs
from embedlab.training.cross import pair_columns, save_cross, train_cross_encoder
from embedlab.training.data import from_scored, from_sentences
from embedlab.training.run import TrainSettings

PAIRS = [("How old are you?", "What is your age?"), ("A man plays a guitar.", "The volcano erupted overnight.")]


@pytest.fixture(scope="module")
def scored():
    pairs = bundled_pairs()
    return from_scored(pairs.sentence1, pairs.sentence2, pairs.gold, "cosine", "bundled")


def test_a_short_run_saves_a_folder_crossencoder_loads_and_the_app_scores_alike(tiny_model_dir, scored, tmp_path):
    from sentence_transformers import CrossEncoder

    reports = []
    result = train_cross_encoder(
        "tiny",
        scored,
        TrainSettings(max_steps=3, batch_size=4, precision="fp32"),
        progress=reports.append,
        measure_before_after=False,
        start_folder=str(tiny_model_dir),
    )
    assert result.steps == 3 and not result.stopped and [r.step for r in reports][-1] == 3
    assert [step for step, _ in result.losses] == [1, 2, 3]
    folder = save_cross(result, tmp_path / "ce")
    assert is_cross_encoder_folder(folder) and (folder / "training.json").is_file()
    assert json.loads((folder / "training.json").read_text())["method"] == "cross-encoder"
    expected = CrossEncoder(str(folder), device="cpu").predict(PAIRS)
    np.testing.assert_allclose(CrossScorer(folder).score(PAIRS), expected, atol=1e-5)
    with pytest.raises(EmbedLabError, match="already exists"):
        save_cross(result, folder)


def test_stop_ends_the_run_after_the_current_step(tiny_model_dir, scored):
    stop = threading.Event()

    def progress(report):
        if report.step >= 1:
            stop.set()

    result = train_cross_encoder(
        "tiny",
        scored,
        TrainSettings(max_steps=50, batch_size=2, precision="fp32"),
        progress=progress,
        stop=stop,
        measure_before_after=False,
        start_folder=str(tiny_model_dir),
    )
    assert result.stopped and result.steps < 50


def test_before_and_after_are_measured_from_scores(tiny_model_dir, scored):
    result = train_cross_encoder(
        "tiny",
        scored,
        TrainSettings(max_steps=2, batch_size=4, precision="fp32"),
        eval_pairs=bundled_pairs(),
        start_folder=str(tiny_model_dir),
    )
    for scores in (result.before, result.after):
        assert scores.spearman is None or -100 <= scores.spearman <= 100
        assert 0 <= scores.baseline_mean <= 1 and scores.baseline_mean <= scores.baseline_p95 <= 1  # sigmoid scores
        # a random tiny head scores every pair about 0.5: float32 noise, so its AUC is undefined (NaN), not a number
        assert (math.isnan(scores.negtest_auc) or 0 <= scores.negtest_auc <= 1) and scores.negtest_pairs > 0


def test_plain_sentences_cannot_train_a_cross_encoder():
    data = from_sentences(["One sentence.", "Another one.", "A third."], "simcse", "typed")
    with pytest.raises(EmbedLabError, match="score per pair"):
        pair_columns(data)
