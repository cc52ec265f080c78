"""The Lesson's engine: numbers equal the scoring functions', the wording follows the numbers, views round-trip."""

from __future__ import annotations

import json

import numpy as np
import pytest

from embedlab.embedding.encoder import Encoder
from embedlab.embedding.scoring import Baseline, pair_cosines, random_pair_baseline
from embedlab.embedding.specs import EmbedSpec, spec_fields
from embedlab.models.loading import PACKAGED, UNTRAINED
from embedlab.tasks.lesson import (
    NEGATIVE_CATEGORIES,
    PARAPHRASE,
    UNRELATED,
    PairScores,
    build_lesson,
    cls_text,
    hidden_state_facts,
    next_steps_text,
    pooling_text,
    raw_model_sentence,
    trained_text,
)
from embedlab.views import spec_from_fields, validate_view


@pytest.fixture(scope="module")
def trained_encoder(packaged_model) -> Encoder:
    return Encoder(packaged_model)


@pytest.fixture(scope="module")
def packaged_lesson(trained_encoder):
    """Raw pooling on the packaged backbone (the offline default), trained = the same model's own pipeline."""
    return build_lesson(trained_encoder, trained_encoder)


@pytest.fixture(scope="module")
def untrained_lesson(untrained_model, trained_encoder):
    return build_lesson(Encoder(untrained_model), trained_encoder)


def baseline_of(cosines) -> Baseline:
    values = np.sort(np.asarray(cosines, dtype=np.float64))
    return Baseline(float(values.mean()), float(np.percentile(values, 95)), len(values), values)


def test_hidden_states_are_l_plus_one_tensors_of_one_token_row_each(packaged_model, untrained_model):
    for model in (packaged_model, untrained_model):
        facts = hidden_state_facts(model, "How old are you?")
        tokens = model.tokenizer("How old are you?")["input_ids"]
        assert facts.n_hidden_states == model.facts.n_layers + 1
        assert facts.shape == (1, len(tokens), model.facts.hidden_size)
        assert facts.tokens[0] == "[CLS]" and facts.tokens[-1] == "[SEP]" and len(facts.tokens) == len(tokens)


def test_lesson_numbers_are_the_scoring_functions(packaged_lesson, trained_encoder):
    cls = EmbedSpec(PACKAGED, "cls", "-1")
    paraphrase, unrelated = pair_cosines(trained_encoder, [PARAPHRASE, UNRELATED], cls)
    assert packaged_lesson.cls.spec == cls
    assert packaged_lesson.cls.paraphrase == pytest.approx(paraphrase, abs=1e-9)
    assert packaged_lesson.cls.unrelated == pytest.approx(unrelated, abs=1e-9)
    assert packaged_lesson.cls.baseline.mean == pytest.approx(random_pair_baseline(trained_encoder, cls).mean)
    curve = packaged_lesson.curve
    assert curve.profile.cls.iloc[-1] == pytest.approx(paraphrase, abs=1e-6)  # the last layer's CLS again
    assert len(curve.profile) == len(curve.baselines) == trained_encoder.model.n_hidden_states


@pytest.mark.parametrize("lesson_name", ["packaged_lesson", "untrained_lesson"])
def test_post_processing_moves_the_baseline_to_about_zero(lesson_name, request):
    lesson = request.getfixturevalue(lesson_name)
    plain = next(row for row in lesson.pooling if row.spec.layers == "first-last" and row.spec.post == "none")
    for row in (row for row in lesson.pooling if row.spec.post != "none"):
        assert abs(row.baseline.mean) < 0.1 < plain.baseline.mean
    assert "about 0" in pooling_text(lesson.pooling)


def test_trained_model_separates_the_pairs_random_weights_do_not(untrained_lesson):
    raw, trained = untrained_lesson.cls, untrained_lesson.trained
    assert untrained_lesson.raw_kind == "untrained"
    assert trained.gap > 0.3 > raw.gap  # random weights: the pairs are no further apart than noise
    assert untrained_lesson.sts.trained > untrained_lesson.sts.raw_best()[1]
    text = trained_text(raw, trained, untrained_lesson.sts, untrained_lesson.raw_kind)
    assert "above the best raw configuration" in text and "No surprise" not in text


def test_with_the_packaged_backbone_the_text_says_its_layers_were_trained(packaged_lesson, untrained_model):
    assert packaged_lesson.raw_kind == "similarity-trained"
    from embedlab.models.loading import load_model

    packaged_text = raw_model_sentence(load_model(PACKAGED), plain_bert_missing=True)
    assert "already trained for similarity" in packaged_text and "cannot be loaded here" in packaged_text
    untrained_text = raw_model_sentence(untrained_model)
    assert UNTRAINED in untrained_text and "random weights" in untrained_text


def test_cls_wording_claims_both_high_only_when_both_are():
    spec = EmbedSpec(PACKAGED, "cls", "-1")
    random_pairs = baseline_of(np.linspace(0.55, 0.75, 200))
    both_high = cls_text(PairScores(spec, 0.97, 0.71, random_pairs))
    assert "Both pairs score at least 0.71" in both_high and "a high cosine is the norm" in both_high
    one_low = cls_text(PairScores(spec, 0.97, 0.21, baseline_of(np.linspace(-0.1, 0.3, 200))))
    assert "Both pairs" not in one_low and "norm" not in one_low
    assert "above all 200 random pairs" in one_low


def test_pooling_wording_does_not_claim_zero_when_it_is_not():
    random_pairs = baseline_of(np.linspace(0.4, 0.8, 100))
    rows = [
        PairScores(EmbedSpec(PACKAGED, "cls", "-1"), 0.9, 0.8, random_pairs),
        PairScores(EmbedSpec(PACKAGED, "mean", "first-last"), 0.9, 0.5, random_pairs),
        PairScores(EmbedSpec(PACKAGED, "mean", "first-last", post="center"), 0.9, 0.5, random_pairs),
    ]
    text = pooling_text(rows)
    assert "mean of first-last" in text and "+0.400" in text
    assert "about 0" not in text


def test_negative_findings_are_the_hard_categories_highest_first(packaged_lesson):
    findings = packaged_lesson.negatives
    hard = findings.hard
    assert set(hard.category) == set(NEGATIVE_CATEGORIES)
    assert list(hard.cosine) == sorted(hard.cosine, reverse=True)
    assert findings.n_above_threshold == int((hard.cosine >= findings.result.threshold).sum())
    assert findings.n_above_threshold > 0  # the bundled suite's role reversals fool even the trained model
    text = next_steps_text(packaged_lesson, has_train_page=False)
    assert f"{findings.n_above_threshold} of {len(hard)}" in text and "Train page" not in text
    assert "Train page" in next_steps_text(packaged_lesson, has_train_page=True)


def test_views_are_plain_json_and_specs_round_trip(packaged_lesson):
    views = packaged_lesson.views()
    for entries in views.values():
        for _, view in entries:
            assert json.loads(json.dumps(view)) == view  # plain data: a URL or a file can carry it unchanged
            assert validate_view(view) == view  # every field fits its page's schema
            for side in ("raw", "trained"):
                if side in view:
                    assert spec_fields(spec_from_fields(view[side])) == view[side]
    compare = views["cls"][0][1]
    assert compare["pairs"] == [list(PARAPHRASE), list(UNRELATED)] and compare["selected_pair"] == 1
    assert spec_from_fields(views["pooling"][0][1]["raw"]).post == "center"
