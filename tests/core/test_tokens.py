"""Token-level views against hand computation with transformers, and the sentence cosines against the Encoder."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from embedlab.embedding.encoder import Encoder, cosine_rows
from embedlab.embedding.specs import EmbedSpec
from embedlab.errors import EmbedLabError
from embedlab.limits import MAX_TOKEN_TEXTS
from embedlab.tasks.tokens import (
    output_shapes,
    sentence_cosines,
    token_cosines,
    token_layer_matrix,
    token_states,
    tokenization_table,
    word_in_context,
    word_in_context_examples,
    word_span,
    word_vectors,
)

M = "all-MiniLM-L6-v2"
ATOL = 1e-5
STICK = "This is a wooden stick."
STICK_TO = "Stick to the work, bassoon player!"


@torch.inference_mode()
def by_hand(reference_hf, text: str):
    """(tokens, ids, hidden_states (L+1, T, H) numpy) of one text, straight from transformers, no padding."""
    tokenizer, model = reference_hf
    inputs = tokenizer(text, truncation=True, max_length=256, return_tensors="pt")  # called, not .encode
    output = model(**inputs, output_hidden_states=True)
    ids = inputs["input_ids"][0].tolist()
    return tokenizer.convert_ids_to_tokens(ids), ids, torch.stack(output.hidden_states)[:, 0].numpy()


def unit(rows: np.ndarray) -> np.ndarray:
    return rows / np.linalg.norm(rows, axis=-1, keepdims=True)


@pytest.fixture(scope="module")
def two(packaged_model):
    """A short and a longer sentence in one padded batch."""
    return token_states(packaged_model, [STICK, STICK_TO])


def test_states_equal_transformers_by_hand_despite_padding(two, reference_hf):
    for states in two:  # STICK is padded in the batch; its states leave the padding out
        tokens, ids, hidden = by_hand(reference_hf, states.text)
        assert states.tokens == tuple(tokens)
        assert states.ids == tuple(ids)
        assert states.hidden.shape == hidden.shape == (7, len(tokens), 384)
        np.testing.assert_allclose(states.hidden, hidden, atol=ATOL)
    assert two[0].tokens == ("[CLS]", "this", "is", "a", "wooden", "stick", ".", "[SEP]")
    assert two[0].special == (True, False, False, False, False, False, False, True)


def test_tokenization_table_and_shapes(two):
    table = tokenization_table(two[1])
    assert table.loc[table.token == "##oon", "covers"].item() == "oon"
    assert table.loc[0, "token"] == "[CLS]" and table.loc[0, "covers"] == ""
    lines = output_shapes(two[0])
    assert "last_hidden_state: (1, 8, 384) = hidden_states[6]" in lines[1]
    assert "7 tensors of (1, 8, 384): index 0 is the embedding layer" in lines[2]


def test_token_layer_matrices_by_hand(two, reference_hf):
    _, _, hidden = by_hand(reference_hf, STICK)  # (7, 8, 384)
    np.testing.assert_allclose(token_layer_matrix(two[0], "norm"), np.linalg.norm(hidden, axis=-1), rtol=1e-5)
    mean = hidden.mean(axis=1, keepdims=True)
    expected = (unit(hidden) * unit(mean)).sum(-1)
    np.testing.assert_allclose(token_layer_matrix(two[0], "cosine_to_mean"), expected, atol=ATOL)
    share = token_layer_matrix(two[0], "max_share")
    np.testing.assert_allclose(share.sum(axis=1), 1.0)
    # the share of token t at a layer is how often max pooling's value at a dimension is that token's value
    layer = 6
    taken = (hidden[layer] == hidden[layer].max(axis=0)).mean(axis=1)
    np.testing.assert_allclose(share[layer], taken, atol=1e-6)
    with pytest.raises(EmbedLabError, match="norm, cosine_to_mean, max_share"):
        token_layer_matrix(two[0], "entropy")


def test_token_cosines_by_hand(two, reference_hf):
    _, _, first = by_hand(reference_hf, STICK)
    _, _, second = by_hand(reference_hf, STICK_TO)
    matrix = token_cosines(two[0], two[1], 3)
    assert matrix.shape == (8, 11)
    np.testing.assert_allclose(matrix, unit(first[3]) @ unit(second[3]).T, atol=ATOL)
    with pytest.raises(EmbedLabError, match="layers 0"):
        token_cosines(two[0], two[1], 7)


def test_sentence_cosines_equal_the_encoders(two, packaged_model):
    encoder = Encoder(packaged_model)
    for layer in range(7):
        cosines = sentence_cosines(two[0], two[1], layer)
        for pooling in ("cls", "mean", "max"):
            vectors = encoder.embed([STICK, STICK_TO], EmbedSpec(M, pooling, str(layer)))
            assert cosines[pooling] == pytest.approx(cosine_rows(vectors[0], vectors[1]), abs=ATOL), (layer, pooling)


def test_word_span_pieces_absent_and_whole_words(two):
    span = word_span(two[1], "bassoon")
    assert span.pieces == ("bass", "##oon") and "2 word pieces averaged" in span.note
    np.testing.assert_allclose(
        word_vectors(two[1], span), two[1].hidden[:, list(span.positions)].mean(axis=1), atol=1e-7
    )
    assert word_span(two[1], "STICK").pieces == ("stick",)  # case-insensitive, as the uncased model sees it
    with pytest.raises(EmbedLabError, match="'bank' is not in"):
        word_span(two[0], "bank")
    with pytest.raises(EmbedLabError, match="not in"):
        word_span(two[1], "bass")  # only inside "bassoon": not a whole word


def test_word_cut_by_truncation(packaged_model):
    long_text = "one two three " * 100 + "the river bank"
    (states,) = token_states(packaged_model, ["The bank is open. " + long_text])
    assert states.truncated and len(states.tokens) == 256
    assert word_span(states, "bank").positions == (2,)  # the first occurrence is inside the window
    (states,) = token_states(packaged_model, [long_text])
    with pytest.raises(EmbedLabError, match="cut off by truncation"):
        word_span(states, "bank")
    assert "it was cut to the model's maximum of 256" in output_shapes(states)[-1]


def test_limits_and_empty_input(packaged_model):
    with pytest.raises(EmbedLabError, match="at most"):
        token_states(packaged_model, ["a"] * (MAX_TOKEN_TEXTS + 1))
    with pytest.raises(EmbedLabError, match="Type a sentence"):
        token_states(packaged_model, ["   "])


def test_word_in_context_by_hand(packaged_model, reference_hf):
    contexts = pd.DataFrame(
        {
            "sense": ["money", "money", "river", "river"],
            "sentence": [
                "The bank approved our loan.",
                "She works at a bank downtown.",
                "We sat on the bank of the river.",
                "The bank no longer exists in this sentence of mine? No: banks.",
            ],
        }
    )
    result = word_in_context(packaged_model, "bank", contexts)
    assert len(result.used) == 4 and result.skipped.empty
    vectors = []
    for sentence in contexts.sentence:
        tokens, _, hidden = by_hand(reference_hf, sentence)
        vectors.append(unit(hidden[:, tokens.index("bank")]))  # (7, 384)
    same = ((vectors[0] * vectors[1]).sum(-1) + (vectors[2] * vectors[3]).sum(-1)) / 2
    different = np.mean([(vectors[i] * vectors[j]).sum(-1) for i in (0, 1) for j in (2, 3)], axis=0)
    np.testing.assert_allclose(result.table.same_sense, same, atol=ATOL)
    np.testing.assert_allclose(result.table.different_sense, different, atol=ATOL)
    np.testing.assert_allclose(result.table.gap, same - different, atol=ATOL)


def test_word_in_context_skips_with_reasons_and_needs_two_senses(packaged_model):
    contexts = pd.DataFrame(
        {"sense": ["wood", "wood", "keep to"], "sentence": ["A wooden stick.", "He waved a stick.", "Carry on."]}
    )
    with pytest.raises(EmbedLabError, match="1 sense"):
        word_in_context(packaged_model, "stick", contexts)
    contexts.loc[3] = ["keep to", "Stick to the plan."]
    result = word_in_context(packaged_model, "stick", contexts)
    assert result.skipped.sentence.tolist() == ["Carry on."]
    assert "is not in" in result.skipped.reason.item()


@pytest.mark.parametrize("word", ["stick", "bank", "pitch", "bass", "cell"])
def test_bundled_examples_separate_senses_at_the_last_layers(packaged_model, word):
    examples = word_in_context_examples()
    contexts = examples[examples.word == word]
    assert contexts.sense.nunique() >= 2 and len(contexts) >= 4
    result = word_in_context(packaged_model, word, contexts)
    assert result.skipped.empty, result.skipped
    last = result.table.tail(2)  # layers 5 and 6
    assert (last.same_sense > last.different_sense).all(), last
    assert (last.different_sense > last.unrelated).all(), last  # still the same word: above unrelated words
