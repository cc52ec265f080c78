"""Pair cosines, random-pair baselines and layer profiles."""

from __future__ import annotations

import numpy as np
import pytest

from embedlab.embedding.encoder import Encoder
from embedlab.embedding.scoring import (
    BASELINE_PAIRS,
    PROFILE_POOLINGS,
    layer_baselines,
    layer_profile,
    pair_cosines,
    per_layer_vectors,
    random_pair_baseline,
    random_pair_indices,
    reference_sentences,
)
from embedlab.embedding.specs import RAW_POOLINGS, EmbedSpec
from embedlab.errors import EmbedLabError

M = "all-MiniLM-L6-v2"
CORPUS = [
    "A man is playing a guitar.",
    "The stock market fell sharply today.",
    "She is baking bread in the kitchen.",
    "Two dogs are running through the snow.",
    "The new phone has a larger screen.",
    "Parliament passed the bill late last night.",
    "A child is reading a book under a tree.",
    "It will rain tomorrow in the north.",
]


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.astype(np.float64), b.astype(np.float64)
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_random_pair_indices_never_pair_a_text_with_itself():
    for n_texts in (2, 3, 10, 317):
        first, second = random_pair_indices(n_texts, n_pairs=5000)
        assert first.shape == second.shape == (5000,)
        assert (first != second).all()
        assert first.min() >= 0 and second.min() >= 0
        assert first.max() < n_texts and second.max() < n_texts


def test_random_pair_indices_cover_all_partners():
    first, second = random_pair_indices(5, n_pairs=5000)
    assert {(int(i), int(j)) for i, j in zip(first, second, strict=True)} == {
        (i, j) for i in range(5) for j in range(5) if i != j
    }


def test_random_pair_indices_are_deterministic():
    first_a, second_a = random_pair_indices(100)
    first_b, second_b = random_pair_indices(100)
    np.testing.assert_array_equal(first_a, first_b)
    np.testing.assert_array_equal(second_a, second_b)
    assert len(first_a) == BASELINE_PAIRS
    first_c, _ = random_pair_indices(100, seed=1)
    assert not np.array_equal(first_a, first_c)


@pytest.mark.parametrize("n_texts", [0, 1])
def test_random_pair_indices_need_two_texts(n_texts):
    with pytest.raises(EmbedLabError, match="at least two"):
        random_pair_indices(n_texts)


@pytest.mark.parametrize(("pooling", "layers"), [("model", "-1"), ("cls", "first-last"), ("max", "2:4")])
def test_baseline_equals_brute_force(encoder, pooling, layers):
    spec = EmbedSpec(M, pooling, layers)  # type: ignore[arg-type]
    baseline = random_pair_baseline(encoder, spec, CORPUS + CORPUS[:2])  # duplicates are dropped first
    vectors = encoder.embed(CORPUS, spec)
    first, second = random_pair_indices(len(CORPUS))
    cosines = np.array([cosine(vectors[i], vectors[j]) for i, j in zip(first, second, strict=True)])
    assert baseline.n_pairs == len(cosines)
    assert baseline.mean == pytest.approx(cosines.mean(), abs=1e-9)
    assert baseline.p95 == pytest.approx(np.percentile(cosines, 95), abs=1e-9)
    assert baseline.mean < baseline.p95
    assert baseline.as_dict() == {"mean": baseline.mean, "p95": baseline.p95}


def test_baseline_default_corpus_is_the_reference_set(encoder):
    spec = EmbedSpec(M, "model")
    assert random_pair_baseline(encoder, spec) == random_pair_baseline(encoder, spec, reference_sentences())
    assert encoder.texts_encoded == len(reference_sentences())


def test_reference_sentences_are_unique_and_plenty():
    sentences = reference_sentences()
    assert len(sentences) >= 200
    assert len(set(sentences)) == len(sentences)
    assert all(sentence == sentence.strip() and sentence for sentence in sentences)


def test_anisotropy_and_paraphrase_above_baseline(packaged_model, untrained_model):
    trained = Encoder(packaged_model)
    trained_baseline = random_pair_baseline(trained, EmbedSpec(M, "model"))
    untrained_baseline = random_pair_baseline(Encoder(untrained_model), EmbedSpec("untrained-bert", "cls"))
    assert untrained_baseline.mean > 0.8  # raw vectors of an untrained BERT sit in a narrow cone
    assert trained_baseline.mean < untrained_baseline.mean - 0.5

    (paraphrase,) = pair_cosines(trained, [("What is your age?", "How old are you?")], EmbedSpec(M, "model"))
    assert paraphrase > trained_baseline.p95


def test_paraphrases_score_above_unrelated_pairs(encoder):
    pairs = [
        ("What is your age?", "How old are you?"),
        ("A man is playing a guitar.", "A person plays the guitar."),
        ("What is your age?", "The stock market fell sharply today."),
        ("A man is playing a guitar.", "It will rain tomorrow in the north."),
    ]
    paraphrase_a, paraphrase_b, unrelated_a, unrelated_b = pair_cosines(encoder, pairs, EmbedSpec(M, "model"))
    assert min(paraphrase_a, paraphrase_b) > max(unrelated_a, unrelated_b)


def test_pair_cosines_equal_cosines_of_embed(encoder):
    pairs = [(CORPUS[0], CORPUS[1]), (CORPUS[2], CORPUS[2]), (CORPUS[3], CORPUS[0])]
    spec = EmbedSpec(M, "mean", "first-last")
    cosines = pair_cosines(encoder, pairs, spec)
    assert cosines.shape == (3,)
    for (first, second), value in zip(pairs, cosines, strict=True):
        a, b = encoder.embed([first, second], spec)
        assert value == pytest.approx(cosine(a, b), abs=1e-6)
    assert cosines[1] == pytest.approx(1.0)
    assert encoder.forward_passes == 1
    assert encoder.texts_encoded == 4


def test_pair_cosines_of_nothing(encoder):
    assert pair_cosines(encoder, [], EmbedSpec(M, "model")).shape == (0,)
    assert encoder.forward_passes == 0


def test_layer_profile(encoder):
    first, second = "What is your age?", "How old are you?"
    profile = layer_profile(encoder, first, second)
    assert list(profile.columns) == ["layer", *PROFILE_POOLINGS]
    assert set(PROFILE_POOLINGS) == {*RAW_POOLINGS, "mean_max", "weightedmean", "lasttoken"}
    assert profile["layer"].tolist() == list(range(7))
    for pooling in PROFILE_POOLINGS:
        for layer in range(7):
            a, b = encoder.embed([first, second], EmbedSpec(M, pooling, str(layer)))
            assert profile[pooling][layer] == pytest.approx(cosine(a, b), abs=1e-6)
    assert encoder.forward_passes == 1


def test_layer_baselines_of_every_profiled_pooling_equal_the_random_pair_baseline(encoder):
    table = layer_baselines(encoder, CORPUS)
    for pooling in PROFILE_POOLINGS:
        assert {pooling, f"{pooling}_spread", f"{pooling}_noise"} <= set(table.columns)
    for pooling in ("mean_max", "weightedmean", "lasttoken", "mean"):
        for layer in (0, 3, 6):
            baseline = random_pair_baseline(encoder, EmbedSpec(M, pooling, str(layer)), CORPUS)
            assert table[pooling][layer] == pytest.approx(baseline.mean, abs=1e-6), (pooling, layer)
            assert table[f"{pooling}_spread"][layer] == pytest.approx(np.std(baseline.cosines), abs=1e-6)
            assert table[f"{pooling}_noise"][layer] == ""
    # mean_sqrt_len_tokens is mean times a per-text constant: its baseline is mean's, so it has no line of its own
    for layer in (0, 6):
        scaled = random_pair_baseline(encoder, EmbedSpec(M, "mean_sqrt_len_tokens", str(layer)), CORPUS)
        assert scaled.mean == pytest.approx(table["mean"][layer], abs=1e-6)
    assert encoder.forward_passes == 1


def test_per_layer_vectors_mix_to_the_configurations_vector(encoder):
    states = encoder.states(CORPUS[:3])
    assert per_layer_vectors(states, "mean_max").shape == (7, 3, 768)
    for pooling in PROFILE_POOLINGS:
        by_layer = per_layer_vectors(states, pooling)
        expected = encoder.embed(CORPUS[:3], EmbedSpec(M, pooling, "2:5"))
        np.testing.assert_allclose(by_layer[2:6].mean(axis=0), expected, atol=1e-6)
    with pytest.raises(EmbedLabError, match="Per-layer vectors exist"):
        per_layer_vectors(states, "pooler")
