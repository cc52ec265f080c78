"""What [CLS] looks at: attention weights equal plain transformers (eager, output_attentions=True), the shared
model is left alone, and the `tokens` command prints the same numbers."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from embedlab import cli
from embedlab.embedding.specs import EmbedSpec
from embedlab.errors import EmbedLabError
from embedlab.limits import MAX_ATTENTION_TEXTS
from embedlab.models.loading import packaged_model_path
from embedlab.tasks.attention import (
    SHARE_KINDS,
    attention_maps,
    eager_backbone,
    is_punctuation,
)
from tests.helpers import one_line_error

SENTENCES = ["This is a wooden stick.", "How old are you? I'm 25, and you?"]


@pytest.fixture(scope="module")
def eager(packaged_model):
    return eager_backbone(packaged_model)


@pytest.fixture(scope="module")
def plain_eager():
    """The packaged backbone loaded by transformers itself with eager attention: the ground truth."""
    from transformers import AutoModel, AutoTokenizer

    path = packaged_model_path()
    model = AutoModel.from_pretrained(path, attn_implementation="eager")
    model.eval()
    return AutoTokenizer.from_pretrained(path), model


def plain_attentions(plain_eager, text: str) -> np.ndarray:
    """(layers, heads, T, T) straight from transformers."""
    tokenizer, model = plain_eager
    with torch.inference_mode():
        output = model(**tokenizer(text, return_tensors="pt"), output_attentions=True)
    return torch.stack(output.attentions)[:, 0].numpy()


def test_cls_attention_equals_plain_transformers(packaged_model, eager, plain_eager):
    for maps, text in zip(attention_maps(eager, packaged_model, SENTENCES), SENTENCES, strict=True):
        expected = plain_attentions(plain_eager, text)
        assert maps.weights.shape == expected.shape
        np.testing.assert_allclose(maps.weights, expected, atol=1e-5)
        np.testing.assert_allclose(maps.from_token(0), expected[:, :, 0, :].mean(axis=1), atol=1e-5)
        np.testing.assert_allclose(maps.heads_from_token(3, 2), expected[1, :, 3, :], atol=1e-5)
        assert list(maps.tokens) == plain_eager[0].convert_ids_to_tokens(plain_eager[0](text)["input_ids"])


def test_rows_are_distributions_and_shares_sum_to_one(packaged_model, eager):
    maps = attention_maps(eager, packaged_model, [SENTENCES[0]])[0]
    np.testing.assert_allclose(maps.weights.sum(axis=-1), 1.0, atol=1e-5)
    shares = maps.shares(0)
    assert set(shares) == set(SHARE_KINDS)
    np.testing.assert_allclose(sum(shares.values()), np.ones(maps.n_layers), atol=1e-6)
    # The kinds: [CLS] first, the period is punctuation, [SEP] last.
    assert maps.kinds == ("cls", "other", "other", "other", "other", "other", "punctuation", "sep")
    # The share on [SEP] is the attention on the last column.
    np.testing.assert_allclose(shares["sep"], maps.from_token(0)[:, -1], atol=1e-7)


def test_the_shared_model_and_its_vectors_are_untouched(packaged_model, encoder):
    spec = EmbedSpec(packaged_model.facts.ref, "cls", "-1")
    before = encoder.embed(["A man plays a guitar."], spec).copy()
    implementation = packaged_model.backbone.config._attn_implementation
    copy = eager_backbone(packaged_model)
    attention_maps(copy, packaged_model, ["A man plays a guitar."])
    assert copy is not packaged_model.backbone
    assert packaged_model.backbone.config._attn_implementation == implementation
    assert copy.config._attn_implementation == "eager"
    fresh = type(encoder)(packaged_model)
    np.testing.assert_array_equal(fresh.embed(["A man plays a guitar."], spec), before)


def test_bad_inputs_are_named(packaged_model, eager):
    with pytest.raises(EmbedLabError, match="non-empty"):
        attention_maps(eager, packaged_model, ["  "])
    with pytest.raises(EmbedLabError, match=f"at most {MAX_ATTENTION_TEXTS}"):
        attention_maps(eager, packaged_model, ["a"] * (MAX_ATTENTION_TEXTS + 1))
    maps = attention_maps(eager, packaged_model, ["Hi"])[0]
    with pytest.raises(EmbedLabError, match="tokens 0 to 2"):
        maps.from_token(3)
    with pytest.raises(EmbedLabError, match="layers 1 to 6"):
        maps.heads_from_token(0, 0)


@pytest.mark.parametrize(
    ("token", "expected"), [(".", True), ("##,", True), ("?", True), ("'", True), ("a", False), ("[SEP]", False)]
)
def test_punctuation_tokens(token, expected):
    assert is_punctuation(token) is expected


def test_tokens_command_json_equals_plain_transformers(capsys, plain_eager):
    text = SENTENCES[1]
    assert cli.main(["tokens", text, "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    expected = plain_attentions(plain_eager, text)[:, :, 0, :].mean(axis=1)  # (layers, T)
    assert printed["tokens"] == plain_eager[0].convert_ids_to_tokens(plain_eager[0](text)["input_ids"])
    assert [row["layer"] for row in printed["layers"]] == list(range(1, expected.shape[0] + 1))
    np.testing.assert_allclose([row["attention"] for row in printed["layers"]], expected, atol=1e-5)
    sep = printed["tokens"].index("[SEP]")
    np.testing.assert_allclose([row["share_sep"] for row in printed["layers"]], expected[:, sep], atol=1e-5)
    np.testing.assert_allclose([row["share_cls"] for row in printed["layers"]], expected[:, 0], atol=1e-5)


def test_tokens_command_table_and_bad_token(capsys):
    assert cli.main(["tokens", "How old are you?"]) == 0
    out = capsys.readouterr().out
    assert "[CLS]" in out and "[SEP]" in out and "on sep" in out
    assert len([line for line in out.splitlines() if line.strip()[:1].isdigit()]) == 6  # one row per layer
    assert cli.main(["tokens", "How old are you?", "--token", "40"]) == 2
    assert "tokens 0 to 6" in one_line_error(capsys)
    assert cli.main(["tokens", "   "]) == 2
    assert "empty" in one_line_error(capsys)
