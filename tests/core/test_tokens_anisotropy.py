"""Anisotropy by layer: the sentence vectors it measures are the Encoder's, the pairs are random and never within
one sentence, and centering removes the common direction."""

from __future__ import annotations

import numpy as np
import pytest

from embedlab.corpora import reference_sentences
from embedlab.embedding.encoder import Encoder
from embedlab.errors import EmbedLabError
from embedlab.tasks.anisotropy import anisotropy_by_layer, collect_vectors, mean_pair_cosine, random_pairs

CORPUS = list(reference_sentences()[:120])  # 60 to fit on, 60 to measure: enough for centering


@pytest.fixture(scope="module")
def collected(packaged_model):
    return collect_vectors(packaged_model, CORPUS)


def test_pooled_vectors_are_the_encoders(collected, packaged_model):
    vectors, groups = collected
    encoder = Encoder(packaged_model)
    states = encoder.states(CORPUS)
    for pooling in ("cls", "mean", "max"):
        np.testing.assert_allclose(vectors[pooling], encoder.layer_vectors(states, pooling), atol=1e-5)
    assert vectors["tokens"].shape[:2] == (7, len(groups))
    assert np.bincount(groups).max() <= 4 and set(groups) == set(range(len(CORPUS)))


def test_sampled_tokens_are_real_token_vectors(collected, packaged_model):
    vectors, groups = collected
    from embedlab.tasks.tokens import token_states

    (states,) = token_states(packaged_model, [CORPUS[0]])
    real = states.hidden[:, [p for p, special in enumerate(states.special) if not special]]  # (7, T', 384)
    for k in np.flatnonzero(groups == 0):
        distances = np.abs(real - vectors["tokens"][:, k][:, None]).max(axis=(0, 2))
        assert distances.min() < 1e-4  # each sampled vector is one of the sentence's non-special tokens


def test_random_pairs_never_pair_a_sentence_with_itself():
    groups = np.repeat(np.arange(5), 3)
    first, second = random_pairs(groups, 500, seed=1)
    assert len(first) == 500 and (groups[first] != groups[second]).all()
    again = random_pairs(groups, 500, seed=1)
    assert (again[0] == first).all() and (again[1] == second).all()
    with pytest.raises(EmbedLabError, match="two different sentences"):
        random_pairs(np.zeros(4, dtype=int), 10)


def test_table_matches_hand_computation_and_centering_lowers_it(packaged_model, collected):
    steps = []
    table = anisotropy_by_layer(
        packaged_model, CORPUS, posts=("none", "center"), n_pairs=500, progress=lambda *step: steps.append(step)
    )
    assert len(table) == 4 * 7 * 2
    total = len(CORPUS) + 4 * 7
    assert steps[-1] == (total, total) and all(t == total for _, t in steps)
    assert [done for done, _ in steps] == sorted(done for done, _ in steps)
    vectors, _ = collected
    odd = np.arange(1, len(CORPUS), 2)
    pairs = random_pairs(odd, 500)
    for layer in (0, 3, 6):
        expected = mean_pair_cosine(vectors["mean"][layer][odd], pairs)
        shown = table.query("vectors == 'mean' and post == 'none' and layer == @layer").mean_cosine.item()
        assert shown == pytest.approx(expected, abs=1e-6)
    raw = table[table.post == "none"].set_index(["vectors", "layer"]).mean_cosine
    centred = table[table.post == "center"].set_index(["vectors", "layer"]).mean_cosine
    assert raw.loc[("cls", 3)] > 0.9  # CLS of the middle layers: nearly one vector for every sentence
    assert (centred.abs() < 0.1).all(), centred
    sentence_rows = [(kind, layer) for kind in ("cls", "mean", "max") for layer in range(1, 7)]
    assert (raw.loc[sentence_rows] > centred.loc[sentence_rows]).all()
