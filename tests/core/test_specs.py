"""Layer specs and the frozen embedding configuration."""

from __future__ import annotations

import dataclasses

import pytest

from embedlab.embedding.specs import DEFAULT_LAYERS, POOLINGS, EmbedSpec, check_pooling, parse_layers
from embedlab.errors import EmbedLabError

N = 7  # hidden states of a 6-layer model: 0 = embeddings, 1..6 = transformer layers


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("0", (0,)),
        ("3", (3,)),
        ("6", (6,)),
        ("-1", (6,)),
        ("-2", (5,)),
        ("-7", (0,)),
        ("last", (6,)),
        (" LAST ", (6,)),
        ("first-last", (1, 6)),
        ("2:4", (2, 3, 4)),
        ("3:3", (3,)),
        ("-3:-1", (4, 5, 6)),
        ("0:-1", (0, 1, 2, 3, 4, 5, 6)),
        ("1,4,-1", (1, 4, 6)),
        ("4, 1", (1, 4)),
        ("-1,6,6", (6,)),
    ],
)
def test_parse_layers(spec, expected):
    assert parse_layers(spec, N) == expected


def test_first_last_of_a_model_without_layers_is_the_embedding_layer():
    assert parse_layers("first-last", 1) == (0,)


def test_parse_layers_follows_the_model_depth():
    assert parse_layers("last", 13) == (12,)
    assert parse_layers("first-last", 3) == (1, 2)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("7", "does not exist"),
        ("-8", "does not exist"),
        ("1,9", "does not exist"),
        ("0:7", "does not exist"),
        ("4:2", "is empty"),
        ("-1:-3", "is empty"),
        ("seven", "not understood"),
        ("1.5", "not understood"),
        ("1,,2", "not understood"),
        ("1:2:3", "not understood"),
        ("first", "not understood"),
        (":3", "not understood"),
    ],
)
def test_parse_layers_errors(spec, message):
    with pytest.raises(EmbedLabError, match=message):
        parse_layers(spec, N)


def test_out_of_range_error_says_which_layers_exist():
    with pytest.raises(EmbedLabError) as caught:
        parse_layers("9", N)
    assert "0 (embeddings) to 6" in str(caught.value)
    assert "-7 to -1" in str(caught.value)


def test_check_pooling_names_the_valid_ones():
    for pooling in POOLINGS:
        assert check_pooling(pooling) == pooling
    with pytest.raises(EmbedLabError) as caught:
        check_pooling("median")
    for pooling in POOLINGS:
        assert pooling in str(caught.value)


def test_embed_spec_is_frozen_and_hashable():
    spec = EmbedSpec("all-MiniLM-L6-v2", "mean", "first-last")
    assert spec == EmbedSpec("all-MiniLM-L6-v2", "mean", "first-last")
    assert len({spec, EmbedSpec("all-MiniLM-L6-v2", "mean", "first-last"), EmbedSpec("m", "cls")}) == 2
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.pooling = "max"  # type: ignore[misc]


def test_embed_spec_rejects_a_bad_pooling():
    with pytest.raises(EmbedLabError, match="Unknown pooling"):
        EmbedSpec("all-MiniLM-L6-v2", "sum")  # type: ignore[arg-type]


def test_model_pooling_ignores_layers():
    """The own pipeline has no layer choice: specs that differ only in layers are one cache key."""
    spec = EmbedSpec("m", "model", "first-last")
    assert spec.layers == DEFAULT_LAYERS
    assert spec == EmbedSpec("m", "model")
    assert "own pipeline" in spec.label


def test_label_names_pooling_and_layers():
    label = EmbedSpec("all-MiniLM-L6-v2", "max", "2:4").label
    assert "all-MiniLM-L6-v2" in label and "max" in label and "2:4" in label
