"""The poolings beyond cls/mean/max, each against the library that defines it, on a padded batch:
sentence-transformers' Pooling modes (mean_sqrt_len_tokens, weightedmean, lasttoken, and mean+max concatenated) and
BERT's pooler_output."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from embedlab.embedding.encoder import Encoder
from embedlab.embedding.pooling import LAYER_POOLERS, last_token_pool, weighted_mean_pool
from embedlab.embedding.specs import POOLINGS, EmbedSpec
from embedlab.errors import EmbedLabError
from embedlab.models.loading import load_model, packaged_model_path

M = "all-MiniLM-L6-v2"
ATOL = 1e-5
TEXTS = ["Hi!", "A man is playing a guitar on the street corner.", "Stick to the work.", "ok"]  # padded batch
ST_MODES = ("mean_sqrt_len_tokens", "weightedmean", "lasttoken")


def st_pooling(mode, hidden: torch.Tensor, mask: torch.Tensor) -> np.ndarray:
    """sentence-transformers' own Pooling module on (batch, seq, hidden) token vectors."""
    from sentence_transformers.sentence_transformer.modules import Pooling

    features = {"token_embeddings": hidden, "attention_mask": mask}
    return Pooling(hidden.shape[-1], pooling_mode=mode)(features)["sentence_embedding"].numpy()


@pytest.fixture(scope="module")
def by_hand(reference_hf):
    """(BertModel output with hidden states, attention mask) of TEXTS in one padded batch, from transformers."""
    tokenizer, model = reference_hf
    batch = tokenizer(TEXTS, padding=True, truncation=True, max_length=256, return_tensors="pt")
    assert (batch["attention_mask"] == 0).any()  # the batch really is padded
    with torch.inference_mode():
        return model(**batch, output_hidden_states=True), batch["attention_mask"]


@pytest.fixture(scope="module")
def encoder(packaged_model):
    return Encoder(packaged_model)


def test_every_pooling_is_an_option():
    assert set(POOLINGS) >= {"pooler", "mean_max", *ST_MODES}
    assert EmbedSpec(M, "pooler", "first-last").layers == "-1"  # last layer only, like the model's own pipeline


@pytest.mark.parametrize("mode", ST_MODES)
@pytest.mark.parametrize("layer", [6, 3])
def test_st_modes_equal_sentence_transformers_pooling(encoder, by_hand, mode, layer):
    output, mask = by_hand
    expected = st_pooling(mode, output.hidden_states[layer], mask)
    np.testing.assert_allclose(encoder.embed(TEXTS, EmbedSpec(M, mode, str(layer))), expected, atol=ATOL)


def test_st_modes_equal_a_sentence_transformer_end_to_end(encoder, reference_st):
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Pooling

    for mode in (*ST_MODES, ("mean", "max")):
        model = SentenceTransformer(modules=[reference_st[0], Pooling(384, pooling_mode=mode)], device="cpu")
        expected = model.encode(TEXTS, batch_size=4, convert_to_numpy=True)
        name = "mean_max" if isinstance(mode, tuple) else mode
        got = encoder.embed(TEXTS, EmbedSpec(M, name, "-1"))
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, atol=ATOL)


def test_mean_max_is_mean_and_max_concatenated(encoder):
    both = encoder.embed(TEXTS, EmbedSpec(M, "mean_max", "first-last"))
    mean = encoder.embed(TEXTS, EmbedSpec(M, "mean", "first-last"))
    largest = encoder.embed(TEXTS, EmbedSpec(M, "max", "first-last"))
    assert both.shape == (len(TEXTS), 768)
    np.testing.assert_array_equal(both, np.concatenate([mean, largest], axis=1))


def test_layer_mix_of_new_poolings_averages_each_layers_vector(encoder, by_hand):
    output, mask = by_hand
    for mode in ST_MODES:
        expected = (
            st_pooling(mode, output.hidden_states[1], mask) + st_pooling(mode, output.hidden_states[6], mask)
        ) / 2
        np.testing.assert_allclose(encoder.embed(TEXTS, EmbedSpec(M, mode, "first-last")), expected, atol=ATOL)


def test_pooler_equals_pooler_output(encoder, by_hand):
    output, _ = by_hand
    np.testing.assert_allclose(encoder.embed(TEXTS, EmbedSpec(M, "pooler")), output.pooler_output.numpy(), atol=ATOL)


def test_a_model_without_pooler_weights_says_so(tmp_path, tiny_model_dir):
    from transformers import AutoTokenizer, BertConfig, BertModel

    config = BertConfig.from_pretrained(tiny_model_dir)
    BertModel(config, add_pooling_layer=False).save_pretrained(tmp_path)
    AutoTokenizer.from_pretrained(packaged_model_path()).save_pretrained(tmp_path)
    encoder = Encoder(load_model(str(tmp_path)))
    assert not encoder.has_pooler
    with pytest.raises(EmbedLabError, match="has no pooler weights"):
        encoder.embed(TEXTS, EmbedSpec(str(tmp_path), "pooler"))
    assert encoder.embed(TEXTS, EmbedSpec(str(tmp_path), "lasttoken", "-1")).shape == (len(TEXTS), 32)
    with_pooler = Encoder(load_model(str(tiny_model_dir)))  # saved with its pooler: used as trained
    assert with_pooler.has_pooler


def test_pure_functions_with_left_padding_and_leading_dims():
    generator = torch.Generator().manual_seed(0)
    hidden = torch.randn(3, 2, 5, 4, generator=generator)  # (layers, batch, seq, hidden)
    mask = torch.tensor([[0, 0, 1, 1, 1], [1, 1, 1, 1, 0]])  # left-padded row, right-padded row
    before = hidden.clone()
    for name, pool, mode in (
        ("weightedmean", weighted_mean_pool, "weightedmean"),
        ("lasttoken", last_token_pool, "lasttoken"),
    ):
        stacked = pool(hidden, mask)  # (layers, batch, hidden)
        assert LAYER_POOLERS[name] is pool and stacked.shape == (3, 2, 4)
        for layer in range(3):
            np.testing.assert_allclose(stacked[layer].numpy(), st_pooling(mode, hidden[layer], mask), atol=1e-6)
    assert torch.equal(hidden, before)  # never modified
    np.testing.assert_array_equal(last_token_pool(hidden, mask)[:, 0].numpy(), hidden[:, 0, 4].numpy())
    np.testing.assert_array_equal(last_token_pool(hidden, mask)[:, 1].numpy(), hidden[:, 1, 3].numpy())
