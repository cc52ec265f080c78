"""The Encoder against independent ground truth: SentenceTransformer.encode and pooling by hand with transformers."""

from __future__ import annotations

import json
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch

from embedlab.embedding import encoder as encoder_module
from embedlab.embedding.encoder import Encoder, cosine_rows
from embedlab.embedding.forward import forward_batches
from embedlab.embedding.postprocess import MIN_FIT_SENTENCES
from embedlab.embedding.specs import RAW_POOLINGS, EmbedSpec
from embedlab.errors import EmbedLabError
from embedlab.models.loading import load_model

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
    (batch,) = forward_batches(packaged_model, [LONG, short])  # the encoder's own batching of these two texts
    assert batch.attention_mask[1].sum() < batch.attention_mask.shape[1]  # the short text was padded
    batched = Encoder(packaged_model).states([LONG, short])[1]
    for pooling in RAW_POOLINGS:
        assert alone.pooled[pooling].shape == (7, 384)
        np.testing.assert_allclose(batched.pooled[pooling], alone.pooled[pooling], atol=ATOL, err_msg=pooling)
    np.testing.assert_allclose(batched.model, alone.model, atol=ATOL)


# ---------------------------------------------------------------- the cache


def test_no_forward_pass_on_a_pooling_or_layer_change(encoder):
    first = encoder.embed(TEXTS, EmbedSpec(M, "model"))
    assert encoder.texts_encoded == len(TEXTS)
    for pooling in RAW_POOLINGS:
        for layers in ("-1", "0", "first-last", "2:4", "1,3,-1"):
            encoder.embed(TEXTS, EmbedSpec(M, pooling, layers))
    encoder.embed(list(reversed(TEXTS)), EmbedSpec(M, "model"))
    encoder.embed(TEXTS[:2], EmbedSpec(M, "max", "-2"))
    assert encoder.texts_encoded == len(TEXTS)  # no text went through the model again
    np.testing.assert_array_equal(encoder.embed(TEXTS, EmbedSpec(M, "model")), first)

    encoder.embed(TEXTS + ["A brand new sentence."], EmbedSpec(M, "cls", "first-last"))
    assert encoder.texts_encoded == len(TEXTS) + 1  # only the new one


def test_duplicates_are_encoded_once(encoder):
    texts = ["same", "other", "same", "same", "other"]
    vectors = encoder.embed(texts, EmbedSpec(M, "mean"))
    assert encoder.texts_encoded == 2
    assert vectors.shape == (5, 384)
    np.testing.assert_array_equal(vectors[0], vectors[2])
    np.testing.assert_array_equal(vectors[1], vectors[4])
    assert not np.allclose(vectors[0], vectors[1])


def test_progress_covers_every_text_and_cached_texts_report_nothing(encoder):
    texts = [f"Sentence number {i}." for i in range(70)]
    calls = []
    encoder.states(texts, progress=lambda done, total: calls.append((done, total)))
    assert encoder.texts_encoded == 70
    assert calls[-1] == (70, 70) and len(calls) > 1  # reported along the way, not only at the end
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)
    calls.clear()
    encoder.states(texts[::-1], progress=lambda done, total: calls.append((done, total)))
    assert encoder.texts_encoded == 70 and calls == []


def test_bounded_cache_evicts_and_stays_correct(packaged_model, encoder):
    texts = [f"Cache test sentence {word}." for word in ("one", "two", "three", "four", "five")]
    expected = encoder.embed(texts, EmbedSpec(M, "mean", "first-last"))
    one_text = encoder.states(texts[:1])[0].nbytes

    small = Encoder(packaged_model, max_cache_bytes=int(2.5 * one_text))  # holds two texts
    for text in texts:
        small.embed([text], EmbedSpec(M, "mean", "first-last"))
    assert [small.cached(text) for text in texts] == [False, False, False, True, True]
    assert small.texts_encoded == 5

    again = small.embed(texts, EmbedSpec(M, "mean", "first-last"))  # more texts than the cache holds, in one call
    np.testing.assert_allclose(again, expected, atol=ATOL)
    assert small.texts_encoded == 8  # the three evicted texts once more, each once: nothing is encoded twice
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
    assert encoder.texts_encoded <= 1


def test_empty_input(encoder):
    assert encoder.embed([], EmbedSpec(M, "model")).shape == (0, 384)
    assert encoder.embed([], EmbedSpec(M, "cls", "first-last")).shape == (0, 384)
    assert encoder.texts_encoded == 0


def test_layer_vectors_refuses_model_pooling(encoder):
    with pytest.raises(EmbedLabError, match="cls, mean, max"):
        encoder.layer_vectors(encoder.states(["x"]), "model")


def test_cosine_rows():
    a = np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 0.0], [2.0, 0.0]])
    b = np.array([[0.0, 3.0], [2.0, 2.0], [1.0, 0.0], [-1.0, 0.0]])
    np.testing.assert_allclose(cosine_rows(a, b), [0.0, 1.0, 0.0, -1.0])


# ---------------------------------------------------------------- CLS with a tokenizer that pads on the left


@torch.inference_mode()
def test_cls_is_the_first_real_token_when_padding_is_on_the_left(tiny_model_dir, tmp_path):
    from transformers import AutoModel, AutoTokenizer

    folder = tmp_path / "left-padded"
    shutil.copytree(tiny_model_dir, folder)
    config_path = folder / "tokenizer_config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config["padding_side"] = "left"
    config_path.write_text(json.dumps(config), encoding="utf-8")
    loaded = load_model(str(folder))
    assert loaded.tokenizer.padding_side == "left"
    texts = ["Hi!", LONG, "How old are you?"]
    (batch,) = forward_batches(loaded, texts)
    assert batch.attention_mask[:, 0].min() == 0  # a short text really has padding in front

    # By hand on the same left-padded batch (BERT's position ids make padded states differ from unpadded ones,
    # so the reference is the padded batch, pooled at each row's first real token, which must be [CLS]).
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    model = AutoModel.from_pretrained(str(folder)).eval()
    inputs = tokenizer(texts, padding=True, truncation=True, max_length=512, return_tensors="pt")
    hidden_states = model(**inputs, output_hidden_states=True).hidden_states
    states = Encoder(loaded).states(texts)
    for row, (text, state) in enumerate(zip(texts, states, strict=True)):
        first = int(inputs["attention_mask"][row].nonzero()[0, 0])
        assert inputs["input_ids"][row, first] == tokenizer.cls_token_id
        expected = np.stack([hidden[row, first].numpy() for hidden in hidden_states])  # (layers, hidden)
        np.testing.assert_allclose(state.pooled["cls"], expected, atol=ATOL, err_msg=text)


# ---------------------------------------------------------------- threads


def test_cached_lookups_proceed_while_a_fit_runs(tiny_model_dir, monkeypatch):
    encoder = Encoder(load_model(str(tiny_model_dir)))
    cached = ["A cached sentence.", "Another one, also cached."]
    encoder.states(cached)
    entered, release = threading.Event(), threading.Event()
    real_fit = encoder_module.fit_postprocess

    def slow_fit(*args, **kwargs):
        entered.set()
        assert release.wait(timeout=60), "the test never released the fit"
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(encoder_module, "fit_postprocess", slow_fit)
    corpus = tuple(f"Fitting sentence number {i} about topic {i % 7}." for i in range(MIN_FIT_SENTENCES + 10))
    spec = EmbedSpec(str(tiny_model_dir), "mean", "-1", post="center", post_corpus=corpus)
    fitter = threading.Thread(target=encoder.post_transform, args=(spec,), daemon=True)
    fitter.start()
    try:
        assert entered.wait(timeout=60), "the fit never started"
        looked_up: list = []
        lookup = threading.Thread(target=lambda: looked_up.append(encoder.states(cached)), daemon=True)
        lookup.start()
        lookup.join(timeout=30)
        assert not lookup.is_alive(), "a cached lookup waited for the fit"
        assert fitter.is_alive()  # the fit was still blocked while the lookup ran
        assert len(looked_up[0]) == 2 and encoder.texts_encoded == len(cached) + len(corpus)
    finally:
        release.set()
        fitter.join(timeout=60)
    assert not fitter.is_alive() and encoder.transforms_fitted == 1
    assert encoder.post_transform(spec) is encoder.post_transform(spec)  # stored once, then looked up


def test_concurrent_use_of_one_encoder_equals_a_single_threaded_run(tiny_model_dir):
    loaded = load_model(str(tiny_model_dir))
    texts = [f"Sentence {i} says something about number {i * 7 % 11}." for i in range(60)]
    subsets = [texts[start : start + 30] for start in (0, 10, 20, 30)]  # overlapping sets
    specs = [EmbedSpec("tiny", "model"), EmbedSpec("tiny", "cls", "first-last"), EmbedSpec("tiny", "max", "0:2")]
    alone = Encoder(loaded)
    expected = [[alone.embed(subset, spec) for spec in specs] for subset in subsets]

    shared = Encoder(loaded)
    barrier = threading.Barrier(len(subsets))
    with ThreadPoolExecutor(len(subsets)) as pool:

        def run(subset: list[str]) -> list[np.ndarray]:
            barrier.wait(timeout=60)
            return [shared.embed(subset, spec) for spec in specs]

        results = list(pool.map(run, subsets))
    for got, want in zip(results, expected, strict=True):
        for got_vectors, want_vectors in zip(got, want, strict=True):
            np.testing.assert_allclose(got_vectors, want_vectors, atol=ATOL)  # batching may differ: float noise
    assert all(shared.cached(text) for text in texts)
    assert len(texts) <= shared.texts_encoded <= sum(len(subset) for subset in subsets)


def test_server_threads_default_to_one_and_take_a_whole_number_from_the_environment(monkeypatch):
    from embedlab.embedding.forward import SERVER_THREADS_ENV, limit_server_threads, server_threads
    from embedlab.settings import SettingsError

    monkeypatch.delenv(SERVER_THREADS_ENV, raising=False)
    assert server_threads() == 1
    monkeypatch.setenv(SERVER_THREADS_ENV, "")  # empty: the default
    assert server_threads() == 1
    monkeypatch.setenv(SERVER_THREADS_ENV, " 3 ")
    assert server_threads() == 3
    for bad in ("0", "-2", "two", "1.5"):  # a bad value is an error naming the variable, not a silent 1
        monkeypatch.setenv(SERVER_THREADS_ENV, bad)
        with pytest.raises(SettingsError, match=rf"^{SERVER_THREADS_ENV}='{bad}': "):
            server_threads()
    before = torch.get_num_threads()
    try:
        monkeypatch.setenv(SERVER_THREADS_ENV, "2")
        assert limit_server_threads() == 2 and torch.get_num_threads() == 2
        monkeypatch.delenv(SERVER_THREADS_ENV)
        assert limit_server_threads() == 1 and torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
