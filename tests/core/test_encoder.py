"""The Encoder against independent ground truth: SentenceTransformer.encode and pooling by hand with transformers."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from embedlab.embedding.encoder import Encoder, cosine_rows
from embedlab.embedding.specs import RAW_POOLINGS, EmbedSpec
from embedlab.errors import EmbedLabError

M = "all-MiniLM-L6-v2"
ATOL = 1e-5
LONG = (
    "The committee, after a long and sometimes heated discussion that ran well past midnight, finally agreed "
    "to postpone the vote on the new budget until every member had read the auditors' report in full, "
    "including the appendices on pensions, maintenance of the old bridge and the library's opening hours."
)
TEXTS = ["Hi!", "How old are you?", LONG, "A man is playing a guitar on the street corner.", "ok"]


def unit(rows: np.ndarray) -> np.ndarray:
    return rows / np.linalg.norm(rows, axis=-1, keepdims=True)


@torch.inference_mode()
def hidden_states_by_hand(reference_hf, texts: list[str]):
    """All hidden states of the packaged backbone, straight from transformers, padded batch of ``texts``.

    Returns:
        (hidden_states tuple of (batch, seq, hidden) tensors, attention mask (batch, seq)).
    """
    tokenizer, model = reference_hf
    batch = tokenizer(texts, padding=True, truncation=True, max_length=256, return_tensors="pt")
    output = model(**batch, output_hidden_states=True)
    return output.hidden_states, batch["attention_mask"]


# ---------------------------------------------------------------- correctness against ground truth


def test_model_pooling_equals_sentence_transformers_encode(encoder, reference_st):
    expected = reference_st.encode(TEXTS)
    actual = encoder.embed(TEXTS, EmbedSpec(M, "model"))
    assert actual.shape == expected.shape == (len(TEXTS), 384)
    np.testing.assert_allclose(actual, expected, atol=ATOL)


def test_manual_mean_of_last_layer_equals_encode_and_the_mean_spec(encoder, reference_st, reference_hf):
    hidden_states, mask = hidden_states_by_hand(reference_hf, TEXTS)
    assert mask.sum(dim=1).min() < mask.shape[1]  # the batch really has padding
    weights = mask[..., None].float()  # (batch, seq, 1)
    by_hand = ((hidden_states[-1] * weights).sum(dim=1) / weights.sum(dim=1)).numpy()
    by_hand = unit(by_hand)

    np.testing.assert_allclose(by_hand, reference_st.encode(TEXTS), atol=ATOL)
    np.testing.assert_allclose(unit(encoder.embed(TEXTS, EmbedSpec(M, "mean", "-1"))), by_hand, atol=ATOL)
    np.testing.assert_allclose(unit(encoder.embed(TEXTS, EmbedSpec(M, "mean", "last"))), by_hand, atol=ATOL)


def test_first_last_cls_equals_hand_average(encoder, reference_hf):
    hidden_states, _ = hidden_states_by_hand(reference_hf, TEXTS)
    assert len(hidden_states) == 7
    by_hand = ((hidden_states[1][:, 0] + hidden_states[-1][:, 0]) / 2).numpy()
    np.testing.assert_allclose(encoder.embed(TEXTS, EmbedSpec(M, "cls", "first-last")), by_hand, atol=ATOL)


def test_every_layer_and_pooling_equals_hand_pooling(encoder, reference_hf):
    hidden_states, mask = hidden_states_by_hand(reference_hf, TEXTS)
    states = encoder.states(TEXTS)
    for layer, hidden in enumerate(hidden_states):
        for row, text in enumerate(TEXTS):
            real = hidden[row, : int(mask[row].sum())]  # (real tokens, hidden)
            expected = {"cls": real[0], "mean": real.mean(dim=0), "max": real.amax(dim=0)}
            for pooling in RAW_POOLINGS:
                np.testing.assert_allclose(
                    states[row].pooled[pooling][layer], expected[pooling].numpy(), atol=ATOL, err_msg=f"{text!r}"
                )


def test_layer_mixes_average_the_per_layer_vectors(encoder):
    states = encoder.states(TEXTS)
    for pooling in RAW_POOLINGS:
        by_layer = encoder.layer_vectors(states, pooling)  # (7, texts, 384)
        assert by_layer.shape == (7, len(TEXTS), 384)
        np.testing.assert_allclose(
            encoder.vectors(states, EmbedSpec(M, pooling, "2:4")), by_layer[2:5].mean(axis=0), atol=1e-6
        )
        np.testing.assert_allclose(
            encoder.vectors(states, EmbedSpec(M, pooling, "0,-2")), by_layer[[0, 5]].mean(axis=0), atol=1e-6
        )
        np.testing.assert_allclose(encoder.vectors(states, EmbedSpec(M, pooling, "3")), by_layer[3], atol=0)


# ---------------------------------------------------------------- padding


def test_padding_changes_nothing_at_any_layer(packaged_model):
    short = "How old are you?"
    alone = Encoder(packaged_model).states([short])[0]
    batched_encoder = Encoder(packaged_model)
    batched = batched_encoder.states([LONG, short])[1]
    assert batched_encoder.forward_passes == 1  # one batch: the short text was padded to the long one
    for pooling in RAW_POOLINGS:
        assert alone.pooled[pooling].shape == (7, 384)
        np.testing.assert_allclose(batched.pooled[pooling], alone.pooled[pooling], atol=ATOL, err_msg=pooling)
    np.testing.assert_allclose(batched.model, alone.model, atol=ATOL)


# ---------------------------------------------------------------- the cache


def test_no_forward_pass_on_a_pooling_or_layer_change(encoder):
    first = encoder.embed(TEXTS, EmbedSpec(M, "model"))
    assert encoder.forward_passes == 1
    assert encoder.texts_encoded == len(TEXTS)
    for pooling in RAW_POOLINGS:
        for layers in ("-1", "0", "first-last", "2:4", "1,3,-1"):
            encoder.embed(TEXTS, EmbedSpec(M, pooling, layers))
    encoder.embed(list(reversed(TEXTS)), EmbedSpec(M, "model"))
    encoder.embed(TEXTS[:2], EmbedSpec(M, "max", "-2"))
    assert encoder.forward_passes == 1
    assert encoder.texts_encoded == len(TEXTS)
    np.testing.assert_array_equal(encoder.embed(TEXTS, EmbedSpec(M, "model")), first)

    encoder.embed(TEXTS + ["A brand new sentence."], EmbedSpec(M, "cls", "first-last"))
    assert encoder.forward_passes == 2
    assert encoder.texts_encoded == len(TEXTS) + 1


def test_duplicates_are_encoded_once(encoder):
    texts = ["same", "other", "same", "same", "other"]
    vectors = encoder.embed(texts, EmbedSpec(M, "mean"))
    assert encoder.texts_encoded == 2
    assert encoder.forward_passes == 1
    assert vectors.shape == (5, 384)
    np.testing.assert_array_equal(vectors[0], vectors[2])
    np.testing.assert_array_equal(vectors[1], vectors[4])
    assert not np.allclose(vectors[0], vectors[1])


def test_batches_of_32(encoder):
    texts = [f"Sentence number {i}." for i in range(70)]
    calls = []
    encoder.states(texts, progress=lambda done, total: calls.append((done, total)))
    assert encoder.forward_passes == 3
    assert encoder.texts_encoded == 70
    assert calls[-1] == (70, 70)
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)


def test_bounded_cache_evicts_and_stays_correct(packaged_model, encoder):
    texts = [f"Cache test sentence {word}." for word in ("one", "two", "three", "four", "five")]
    expected = encoder.embed(texts, EmbedSpec(M, "mean", "first-last"))
    one_text = encoder.states(texts[:1])[0].nbytes

    small = Encoder(packaged_model, max_cache_bytes=int(2.5 * one_text))  # holds two texts
    for text in texts:
        small.embed([text], EmbedSpec(M, "mean", "first-last"))
    assert [small.cached(text) for text in texts] == [False, False, False, True, True]
    assert small.forward_passes == 5

    again = small.embed(texts, EmbedSpec(M, "mean", "first-last"))  # more texts than the cache holds, in one call
    np.testing.assert_allclose(again, expected, atol=ATOL)
    assert small.forward_passes == 6  # the three evicted texts, in one batch: nothing is encoded twice
    assert sum(small.cached(text) for text in texts) == 2


def test_recently_used_texts_stay_cached(packaged_model, encoder):
    one_text = encoder.states(["x"])[0].nbytes
    small = Encoder(packaged_model, max_cache_bytes=int(2.5 * one_text))
    small.states(["a"])
    small.states(["b"])
    small.states(["a"])  # a is now the most recently used
    small.states(["c"])
    assert small.cached("a") and small.cached("c") and not small.cached("b")


def test_truncation_flag(encoder, packaged_model):
    long_text = " ".join(["word"] * 400)
    long_state, short_state = encoder.states([long_text, "How old are you?"])
    assert packaged_model.facts.max_seq_length == 256
    assert long_state.truncated
    assert long_state.n_tokens > 256
    assert long_state.n_tokens == len(packaged_model.tokenizer(long_text)["input_ids"])
    assert not short_state.truncated
    assert short_state.n_tokens == len(packaged_model.tokenizer("How old are you?")["input_ids"])


def test_token_counts_around_the_limit(encoder, packaged_model):
    texts = [" ".join(["word"] * n_words) for n_words in (252, 253, 254, 255, 256)] + ["Hi!"]
    full_lengths = [len(ids) for ids in packaged_model.tokenizer(texts)["input_ids"]]
    assert 256 in full_lengths and 257 in full_lengths  # the limit itself and one past it are both covered
    states = encoder.states(texts)
    assert [state.n_tokens for state in states] == full_lengths
    assert [state.truncated for state in states] == [length > 256 for length in full_lengths]


def test_truncated_text_matches_encode(encoder, reference_st):
    long_text = " ".join(f"token{i}" for i in range(300))
    np.testing.assert_allclose(
        encoder.embed([long_text], EmbedSpec(M, "model")), reference_st.encode([long_text]), atol=ATOL
    )


# ---------------------------------------------------------------- views and errors


def test_bad_layer_spec_is_an_embedlab_error(encoder):
    with pytest.raises(EmbedLabError, match="does not exist"):
        encoder.embed(["How old are you?"], EmbedSpec(M, "mean", "7"))
    with pytest.raises(EmbedLabError, match="does not exist"):
        encoder.vectors([], EmbedSpec(M, "mean", "7"))  # validated even with nothing to embed
    assert encoder.forward_passes <= 1


def test_empty_input(encoder):
    assert encoder.embed([], EmbedSpec(M, "model")).shape == (0, 384)
    assert encoder.embed([], EmbedSpec(M, "cls", "first-last")).shape == (0, 384)
    assert encoder.forward_passes == 0


def test_layer_vectors_refuses_model_pooling(encoder):
    with pytest.raises(EmbedLabError, match="cls, mean, max"):
        encoder.layer_vectors(encoder.states(["x"]), "model")


def test_cosine_rows():
    a = np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 0.0], [2.0, 0.0]])
    b = np.array([[0.0, 3.0], [2.0, 2.0], [1.0, 0.0], [-1.0, 0.0]])
    np.testing.assert_allclose(cosine_rows(a, b), [0.0, 1.0, 0.0, -1.0])
