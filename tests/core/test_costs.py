"""What each score costs: the pass counts behind the live measures (never the times), and retrieve and re-rank."""

from __future__ import annotations

import numpy as np
import pytest

from embedlab.corpora import reference_sentences
from embedlab.embedding.specs import EmbedSpec
from embedlab.errors import EmbedLabError
from embedlab.limits import MAX_RERANK_K
from embedlab.models.cross import CrossScorer
from embedlab.tasks.costs import (
    all_pairs,
    cost_table,
    measure_pair_costs,
    measure_query_cost,
    retrieve_and_rerank,
)
from embedlab.tasks.projection import bundled_sentences, query_neighbour_table

SPEC = EmbedSpec("all-MiniLM-L6-v2", "model")


@pytest.fixture(scope="module")
def scorer(cross_dir) -> CrossScorer:
    return CrossScorer(cross_dir)


def test_every_pair_costs_the_cross_encoder_a_pass_and_the_bi_encoder_a_pass_per_sentence(scorer, encoder):
    sentences = list(reference_sentences()[:8])
    before = scorer.pairs_scored
    encoder.embed(sentences, SPEC)  # cached in the page's encoder: the measure must not use that cache
    cost = measure_pair_costs(scorer, encoder, SPEC, [*sentences, sentences[0]])  # a repeat counts once
    assert (cost.n_sentences, cost.n_pairs) == (8, 28)
    assert cost.cross_passes == 28 and cost.bi_passes == 8
    assert cost.cross_seconds > 0 and cost.bi_seconds > 0
    assert scorer.pairs_scored == before  # the shared scorer's cache and count are left alone
    assert len(all_pairs(["a", "b", "c"])) == 3
    with pytest.raises(EmbedLabError, match="two different sentences"):
        measure_pair_costs(scorer, encoder, SPEC, ["same", "same"])


def test_one_query_costs_n_cross_passes_against_one(scorer, encoder):
    sentences = bundled_sentences().sentences[:40]
    cost = measure_query_cost(scorer, encoder, SPEC, "How do I bake bread?", sentences)
    assert (cost.n_sentences, cost.cross_passes, cost.bi_passes, cost.index_passes) == (40, 40, 1, 40)
    table = cost_table(measure_pair_costs(scorer, encoder, SPEC, sentences[:5]), cost)
    assert list(table.columns) == ["measure", "cross-encoder", "bi-encoder"]
    assert table.iloc[2].tolist()[1:] == ["40", "1 (+ 40 dot products)"]


def test_a_vectors_only_bi_encoder_is_refused(scorer):
    with pytest.raises(EmbedLabError, match="model loaded here"):
        measure_pair_costs(scorer, object(), SPEC, ["a", "b"])


def test_retrieve_and_rerank_scores_only_the_top_k(scorer, encoder, cross_dir):
    from sentence_transformers import CrossEncoder

    found = bundled_sentences()
    sentences, labels = found.sentences, found.labels
    vectors = encoder.embed(sentences, SPEC)
    query = "Which team won the match last night?"
    fresh = scorer.uncached()
    result = retrieve_and_rerank(encoder, SPEC, sentences, labels, vectors, fresh, query, k=6)
    assert (result.k, result.n_sentences, result.query_passes, result.pairs_scored) == (6, len(sentences), 1, 6)
    top = query_neighbour_table(sentences, labels, vectors, encoder.embed([query], SPEC)[0], 6)
    assert set(result.table.sentence) == set(top.sentence)  # the bi-encoder's top k, nothing else
    assert sorted(result.table.bi_rank) == list(range(1, 7)) and list(result.table.cross_rank) == list(range(1, 7))
    expected = CrossEncoder(str(cross_dir), device="cpu").predict([(query, s) for s in result.table.sentence])
    np.testing.assert_allclose(result.table.score, expected, atol=1e-5)
    assert list(result.table.score) == sorted(result.table.score, reverse=True)
    np.testing.assert_array_equal(result.table.change, result.table.bi_rank - result.table.cross_rank)
    by_sentence = dict(zip(top.sentence, top.cosine, strict=True))
    np.testing.assert_allclose(result.table.cosine, [by_sentence[s] for s in result.table.sentence], atol=1e-6)
    again = retrieve_and_rerank(encoder, SPEC, sentences, labels, vectors, fresh, query, k=6)
    assert (again.query_passes, again.pairs_scored) == (0, 0)  # both from the caches


@pytest.mark.parametrize(
    ("query", "k", "message"),
    [
        ("  ", 5, "Type a query"),
        ("x" * 501, 5, "at most 500"),
        ("fine", 0, "between 1"),
        ("fine", MAX_RERANK_K + 1, "between 1"),
    ],
)
def test_rerank_refuses_bad_input(scorer, encoder, query, k, message):
    sentences = ("One sentence.", "Another one.")
    with pytest.raises(EmbedLabError, match=message):
        retrieve_and_rerank(encoder, SPEC, sentences, ("", ""), encoder.embed(sentences, SPEC), scorer, query, k)
