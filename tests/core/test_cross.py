"""Cross-encoder folders: recognised by their files, scored exactly as CrossEncoder(dir).predict, cached per pair."""

from __future__ import annotations

import json

import numpy as np
import pytest

from embedlab.errors import EmbedLabError
from embedlab.models.cross import CrossScorer, is_cross_encoder_folder
from embedlab.models.loading import packaged_model_path
from embedlab.scorers.cross_encoder import CrossEncoderScorer, cross_random_pair_baseline, refuse_bi_encoder_options
from embedlab.scorers.registry import kind_of
from embedlab.scorers.sentence_transformer import SentenceTransformerScorer

PAIRS = [("How old are you?", "What is your age?"), ("A man plays a guitar.", "The volcano erupted overnight.")]


def test_folders_are_told_apart(cross_dir, tiny_model_dir, tiny_st_dir, tmp_path):
    assert is_cross_encoder_folder(cross_dir)
    assert not is_cross_encoder_folder(packaged_model_path())  # a sentence-transformer
    assert not is_cross_encoder_folder(tiny_model_dir)  # a plain BertModel
    assert not is_cross_encoder_folder(tiny_st_dir)
    assert not is_cross_encoder_folder(tmp_path / "absent")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config_sentence_transformers.json").write_text("{not json", encoding="utf-8")
    assert not is_cross_encoder_folder(broken)
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "config.json").write_text(json.dumps({"architectures": ["BertForSequenceClassification"]}))
    assert is_cross_encoder_folder(plain)  # a transformers pair classifier with one label


def test_scores_equal_crossencoder_predict_and_are_cached(cross_dir):
    from sentence_transformers import CrossEncoder

    scorer = CrossScorer(cross_dir)
    expected = CrossEncoder(str(cross_dir), device="cpu").predict(PAIRS)
    np.testing.assert_allclose(scorer.score(PAIRS), expected, atol=1e-5)
    assert scorer.pairs_scored == 2
    again = scorer.score([PAIRS[1], PAIRS[0], PAIRS[1]])
    assert scorer.pairs_scored == 2  # every pair came from the cache
    np.testing.assert_allclose(again, expected[[1, 0, 1]], atol=1e-6)
    # order matters to a cross-encoder: (b, a) is another input
    scorer.score([(PAIRS[0][1], PAIRS[0][0])])
    assert scorer.pairs_scored == 3


def test_random_pair_baseline_scores_mismatched_pairs(cross_dir):
    scorer = CrossScorer(cross_dir)
    texts = [f"Sentence about topic {i}." for i in range(30)]
    baseline = cross_random_pair_baseline(scorer, texts, n_pairs=50)
    assert baseline.n_pairs == 50 and baseline.cosines.shape == (50,)
    assert baseline.mean == pytest.approx(float(baseline.cosines.mean()))
    assert scorer.pairs_scored <= 50


def test_not_a_cross_encoder_and_options_that_do_not_apply(tiny_st_dir):
    with pytest.raises(EmbedLabError, match="not a cross-encoder"):
        CrossScorer(tiny_st_dir)
    with pytest.raises(EmbedLabError, match="cross-encoder: .*pooling cls, layers -2"):
        refuse_bi_encoder_options("my-ce", ["pooling cls", "layers -2"])
    refuse_bi_encoder_options("my-ce", [])


def test_a_cross_encoder_folder_is_its_own_kind_and_stays_out_of_bi_encoder_boxes(cross_dir, tmp_path, monkeypatch):
    from embedlab.models.loading import load_model
    from embedlab.models.registry import available_cross_encoders, available_models, model_label

    assert kind_of(str(cross_dir)) is CrossEncoderScorer
    assert kind_of(packaged_model_path()) is SentenceTransformerScorer
    with pytest.raises(EmbedLabError, match="is a cross-encoder"):
        load_model(str(cross_dir))  # asked for sentence vectors: refused in one line, not loaded as a BertModel
    import shutil

    models = tmp_path / "models"
    shutil.copytree(cross_dir, models / "pairs-judge")
    shutil.copytree(packaged_model_path(), models / "mine")
    monkeypatch.setenv("EMBEDLAB_MODELS_DIR", str(models))
    assert str(models / "pairs-judge") not in available_models()
    assert str(models / "mine") in available_models()
    assert available_cross_encoders() == (str(models / "pairs-judge"),)
    assert model_label(str(models / "pairs-judge")) == "pairs-judge (saved cross-encoder)"
