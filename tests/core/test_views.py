"""Shared views' schema (embedlab.views): field-by-field checks, limits named, query parameters both ways."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest

from embedlab.embedding.specs import EmbedSpec, spec_fields
from embedlab.errors import EmbedLabError
from embedlab.limits import MAX_TOKEN_SENTENCE_CHARS
from embedlab.views import (
    MAX_URL_CHARS,
    PAGES,
    SCHEMAS,
    check_layers_for,
    check_view,
    decode_untrusted_json,
    params_from_view,
    spec_from_fields,
    validate_view,
    view_from_params,
)

MODEL = "all-MiniLM-L6-v2"
RAW = {"model": MODEL, "pooling": "mean", "layers": "3", "post": "none", "post_dims": None}
TRAINED = {"model": MODEL, "pooling": "model", "layers": "-1", "post": "none", "post_dims": None}
GOOD = {
    "compare": {
        "page": "compare",
        "raw": RAW,
        "trained": TRAINED,
        "pairs": [["a", "b"], ["c", "d"]],
        "selected_pair": 2,
    },
    "projection": {
        "page": "projection",
        "raw": RAW,
        "sentences": "text",
        "text": "One.\nTwo.",
        "settings": {"method": "pca", "dims": 3, "n_neighbors": 5, "min_dist": 0.2, "seed": None},
        "search": "one",
        "picked": 0,
        "k": 3,
    },
    "negative_tests": {
        "page": "negative_tests",
        "table": [["a", "b", 1, "negation"], ["c", "d", 0], ["e", "f", None, ""]],
        "thresholds": {"raw": 0.5, "trained": -1},
    },
    "sts_eval": {"page": "sts_eval", "models": [MODEL], "data": "hub", "hub": ["mteb/stsbenchmark-sts", "test"]},
    "tokens": {"page": "tokens", "raw": RAW, "sentences": ["The bank is closed.", "We sat on the bank."]},
    "lesson": {"page": "lesson", "raw": RAW, "trained": TRAINED},
    "train": {"page": "train"},
    "retrieval": {
        "page": "retrieval",
        "data": "slice",
        "models": [MODEL],
        "bm25": True,
        "top_k": 20,
        "system": "BM25",
        "query": "q3",
    },
}


def test_every_page_has_a_schema_and_good_views_pass_whole():
    assert set(PAGES) == set(GOOD) == set(SCHEMAS)
    for view in GOOD.values():
        assert check_view(view) == (view, [])
        assert validate_view(view) == view


@pytest.mark.parametrize("page", sorted(GOOD))
def test_good_views_round_trip_through_query_parameters(page):
    params, left_out = params_from_view(GOOD[page])
    assert not left_out
    assert view_from_params(page, params) == (GOOD[page], [])


def test_text_fields_travel_as_text_and_the_rest_as_json():
    params, _ = params_from_view(GOOD["projection"])
    assert params["source"] == "text" and params["text"] == "One.\nTwo." and params["search"] == "one"
    assert params["k"] == "3" and json.loads(params["settings"])["method"] == "pca"
    params, _ = params_from_view(GOOD["compare"])
    assert params["pair"] == "2" and json.loads(params["pairs"]) == GOOD["compare"]["pairs"]


def test_a_bad_field_is_a_note_naming_it_and_the_rest_still_applies():
    view = {**GOOD["compare"], "selected_pair": "x", "colour": "blue", "pairs": [["only one"]]}
    checked, notes = check_view(view, "file")
    assert checked == {"page": "compare", "raw": RAW, "trained": TRAINED}
    assert sorted(note.split(":")[0] for note in notes) == [
        "Ignored the file's field `colour`",
        "Ignored the file's field `pairs`",
        "Ignored the file's field `selected_pair`",
    ]
    with pytest.raises(EmbedLabError, match="Ignored the view's field `pairs`"):
        validate_view(view)  # the strict form, for the app's own views: the first bad field


@pytest.mark.parametrize("where", ["file", "link", "view"])
def test_a_view_naming_no_page_is_refused_whole(where):
    for view in ({"page": "nowhere"}, [], {"raw": RAW}):
        with pytest.raises(EmbedLabError, match="names no page"):
            check_view(view, where)


def test_link_notes_name_the_parameter_not_the_field():
    checked, notes = view_from_params("compare", {"pair": "9", "pairs": json.dumps([["a", "b"]])})
    assert checked == {"page": "compare", "pairs": [["a", "b"]]}
    assert notes == ["Ignored the link's parameter `pair`: row 9 does not exist (there are 1)."]
    checked, notes = view_from_params("compare", {"raw": "{broken", "embed": "true"})
    assert checked == {"page": "compare"} and notes == [
        "Ignored the link's parameter `raw`: it is not readable (JSON expected)."
    ]


@pytest.mark.parametrize(
    ("page", "field", "value", "words"),
    [
        ("compare", "selected_pair", 0, "greater than or equal to 1"),
        ("compare", "selected_pair", True, "valid integer"),
        ("projection", "k", 21, "less than or equal to 20"),
        ("projection", "search", "x" * 201, "at most 200 characters"),
        ("projection", "settings", {"method": "tsne"}, "'umap' or 'pca'"),
        ("projection", "settings", {"min_dist": 1.5}, "0.99"),
        ("projection", "sentences", "upload", "'bundled', 'pairs' or 'text'"),
        ("negative_tests", "table", [], "at least 1 item"),
        ("negative_tests", "table", [["a", "b", 2]], "less than or equal to 1"),
        ("negative_tests", "thresholds", {"raw": 2}, "less than or equal to 1"),
        ("negative_tests", "suite", "mine", "'bundled'"),
        ("sts_eval", "models", [], "at least 1 item"),
        ("sts_eval", "path", "x" * 1001, "at most 1000 characters"),
        ("sts_eval", "hub", ["x", "test"], "'sentence-transformers/stsb'"),
        ("tokens", "sentences", ["a", "b", "c"], "at most 2 items"),
        ("tokens", "sentences", ["   "], "match pattern"),
    ],
)
def test_limits_and_choices_are_named(page, field, value, words):
    _, notes = check_view({"page": page, field: value})
    assert len(notes) == 1 and f"`{field}`" in notes[0] and words in notes[0], notes


def test_tokens_one_limit_named_and_a_long_sentence_is_left_out_of_a_link_with_a_note():
    too_long = "word " * (MAX_TOKEN_SENTENCE_CHARS // 5) + "more"
    _, notes = check_view({"page": "tokens", "sentences": [too_long]})
    assert f"at most {MAX_TOKEN_SENTENCE_CHARS} characters" in notes[0]
    fits = ("word " * (MAX_TOKEN_SENTENCE_CHARS // 5))[:MAX_TOKEN_SENTENCE_CHARS].strip()
    view = {"page": "tokens", "raw": RAW, "sentences": [fits]}
    assert check_view(view) == (view, [])  # the app's own view file takes it
    params, left_out = params_from_view(view)
    assert "sentences" not in params and "raw" in params and len(urlencode(params)) <= MAX_URL_CHARS
    assert len(left_out) == 1 and "sentences" in left_out[0] and "Download view" in left_out[0]


def test_layers_are_checked_for_syntax_in_the_schema_and_for_range_against_the_model():
    for layers in ("NaN", "", "1;2", "3:1"):
        _, notes = check_view({"page": "compare", "raw": {**RAW, "layers": layers}})
        assert len(notes) == 1 and "`raw`" in notes[0], layers
    spec = spec_from_fields({**RAW, "layers": "-100"})  # well-formed: whether it exists depends on the model
    with pytest.raises(EmbedLabError, match="Layer -100 does not exist"):
        check_layers_for(spec, 7)
    check_layers_for(spec_from_fields({**RAW, "layers": "-7"}), 7)
    check_layers_for(spec_from_fields({**TRAINED, "layers": "-100"}), 7)  # the own pipeline: layers do not apply


def test_trained_side_takes_only_the_models_own_pipeline():
    _, notes = check_view({"page": "lesson", "trained": RAW})
    assert "`trained`" in notes[0] and "own pipeline" in notes[0]


def test_specs_round_trip_and_bad_specs_raise_a_project_error():
    spec = EmbedSpec(MODEL, "max", "first-last", "whiten", 8)
    assert spec_from_fields(spec_fields(spec)) == spec
    for fields in (
        None,
        {},
        {"model": ""},
        {"model": "m", "pooling": "nope"},
        {"model": "m", "colour": "red"},
        {"model": "m", "post": 3},
        {"model": "m", "layers": -1},
        {"model": "m", "post": "whiten", "post_dims": "8"},
        {"model": "m", "post": "whiten", "post_dims": True},
    ):
        with pytest.raises(EmbedLabError):
            spec_from_fields(fields)
    with pytest.raises(EmbedLabError, match="fitting corpus"):
        spec_fields(EmbedSpec(MODEL, "mean", post="center", post_corpus=("a",)))


# ---------------------------------------------------------------- JSON a browser sent: bounded before decoding


@pytest.mark.parametrize("page, param", [("compare", "pairs"), ("tokens", "sentences"), ("negative_tests", "table")])
def test_a_deeply_nested_link_parameter_is_a_note_not_a_recursion_error(page, param):
    view, notes = view_from_params(page, {param: "[" * 1200})
    assert view == {"page": page}
    assert len(notes) == 1 and f"`{param}`" in notes[0] and "nested too deeply" in notes[0]
    assert "Recursion" not in notes[0] and "/" not in notes[0]  # no error type, no server path


def test_untrusted_json_is_bounded_in_depth_and_size_before_decoding():
    closed = "[" * 5000 + "]" * 5000  # valid JSON that json.loads cannot decode
    with pytest.raises(EmbedLabError, match="nested too deeply"):
        decode_untrusted_json(closed, "This file")
    with pytest.raises(EmbedLabError, match=r"too large \(1,001 bytes; the limit is 1,000\)"):
        decode_untrusted_json(b"[" + b" " * 999 + b"]", "This file", max_bytes=1000)
    brackets_in_text = [["[[[[[[[[", ']]]]]]]] {{{{ \\" [[[['], ["a", "b"]]
    assert decode_untrusted_json(json.dumps(brackets_in_text), "it", max_depth=2) == brackets_in_text
    with pytest.raises(EmbedLabError, match="more than 1 levels"):
        decode_untrusted_json(json.dumps(brackets_in_text), "it", max_depth=1)
    with pytest.raises(EmbedLabError, match="not readable"):
        decode_untrusted_json(b"\xff[]", "This file")


def test_the_app_own_views_fit_the_depth_limit():
    for view in GOOD.values():
        assert decode_untrusted_json(json.dumps(view), "it") == view


def test_a_view_carries_exactly_the_fields_spec_fields_writes():
    from embedlab.embedding.specs import VIEW_FIELDS, EmbedSpec, spec_fields
    from embedlab.views import SpecFields, spec_from_fields

    assert tuple(SpecFields.model_fields) == VIEW_FIELDS
    spec = EmbedSpec("all-MiniLM-L6-v2", "mean", "3", "center")
    assert spec_from_fields(spec_fields(spec)) == spec
