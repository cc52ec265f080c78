"""Why this score (embedlab.tasks.explain): exact token-pair sums for mean pooling, checked against plain
transformers; the shared-direction split; integrated gradients' completeness; the refusals."""

from __future__ import annotations

import csv
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from embedlab import cli
from embedlab.embedding.encoder import Encoder
from embedlab.embedding.specs import EmbedSpec
from embedlab.errors import EmbedLabError
from embedlab.limits import MAX_IG_TOKENS
from embedlab.models.loading import PACKAGED
from embedlab.scorers.registry import open_scorer
from embedlab.tasks.explain import DEFAULT_STEPS, explain_pair, explains_exactly
from tests.helpers import one_line_error

ASSETS = Path(__file__).resolve().parents[2] / "assets"
PAIR = ("A man is playing a guitar.", "The stock market fell sharply today.")
CLOSE = ("The meeting has been moved to Thursday.", "The meeting was rescheduled for Thursday.")


def bundled_pairs(every: int = 1) -> list[tuple[str, str]]:
    with (ASSETS / "negtest_pairs.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return [(row["sentence1"], row["sentence2"]) for row in rows[::every]]


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One torch thread, as the web server computes (``limit_server_threads``): on shared busy cores a second
    thread makes every operation wait at OpenMP's barrier."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def engine(packaged_model) -> Encoder:
    """One encoder for the module (its post-processing fits are shared by the tests)."""
    return Encoder(packaged_model)


def scorer_of(engine: Encoder, pooling: str, layers: str = "-1", post: str = "none"):
    return open_scorer(EmbedSpec(PACKAGED, pooling, layers, post=post), engine=lambda kind, model_id: engine)


def plain_transformers_matrix(reference_hf, pair, layers: list[int] | None) -> np.ndarray:
    """The exact decomposition from plain transformers hidden states: mean of the chosen layers' token states
    (all real tokens, [CLS] and [SEP] included), contribution (h_i . g_j) / (n m |mean h| |mean g|)."""
    tokenizer, model = reference_hf
    tokens = []
    for text in pair:
        inputs = tokenizer(text, return_tensors="pt", truncation=True, max_length=256)
        with torch.no_grad():
            states = model(**inputs, output_hidden_states=True).hidden_states
        chosen = [states[i][0] for i in (layers if layers is not None else [len(states) - 1])]
        tokens.append(torch.stack(chosen).mean(0).double().numpy())
    h, g = tokens
    a, b = h.mean(0), g.mean(0)
    return (h @ g.T) / (len(h) * len(g) * np.linalg.norm(a) * np.linalg.norm(b))


@pytest.mark.parametrize(
    ("pooling", "layers", "hidden_layers"),
    [("model", "-1", None), ("mean", "-1", None), ("mean", "0:3", [0, 1, 2, 3]), ("mean", "first-last", [1, 6])],
)
def test_exact_contributions_sum_to_the_score_and_match_plain_transformers(
    engine, reference_hf, pooling, layers, hidden_layers
):
    scorer = scorer_of(engine, pooling, layers)
    for pair in (PAIR, CLOSE):
        found = explain_pair(scorer, pair)
        assert found.method == "exact" and found.steps is None and found.passes == 0
        assert abs(found.matrix.sum() - scorer.score([pair])[0]) < 1e-5
        expected = plain_transformers_matrix(reference_hf, pair, hidden_layers)
        assert found.matrix.shape == expected.shape
        np.testing.assert_allclose(found.matrix, expected, atol=1e-6)
        assert found.tokens[0][0] == "[CLS]" and found.tokens[0][-1] == "[SEP]"  # mean pooling averages them in
        assert found.special[0][0] and found.special[0][-1] and not found.special[0][1:-1].any()


def test_exact_through_weighted_mean_and_whitening(engine):
    for scorer in (scorer_of(engine, "weightedmean", "-2"), scorer_of(engine, "mean", "-1", post="whiten")):
        found = explain_pair(scorer, PAIR)
        assert found.method == "exact"
        assert abs(found.matrix.sum() - scorer.score([PAIR])[0]) < 1e-5


def test_vectors_stored_smaller_explain_their_float32_score_and_say_so(engine):
    full = scorer_of(engine, "model")
    stored = open_scorer(EmbedSpec(PACKAGED, "model", "-1", precision="int8"), engine=lambda kind, model_id: engine)
    found = explain_pair(stored, PAIR)
    stored_score, full_score = stored.score([PAIR])[0], full.score([PAIR])[0]
    assert abs(stored_score - full_score) > 1e-5  # int8 codes move the score: the matrix cannot sum to it
    assert found.method == "exact" and abs(found.matrix.sum() - full_score) < 1e-5
    assert f"{stored_score:.4f}" in found.stored_note and "int8" in found.stored_note
    assert found.as_json()["stored_note"] == found.stored_note
    assert explain_pair(full, PAIR).stored_note is None


def test_shared_direction_split_sums_to_the_score_and_centering_keeps_its_second_part(engine):
    for pooling in ("mean", "model"):
        scorer = scorer_of(engine, pooling)
        found = explain_pair(scorer, PAIR)
        assert abs(found.shared + found.specific - found.score) < 1e-6
        centred = scorer_of(engine, pooling, post="center").score([PAIR])[0]
        assert np.sign(found.specific) == np.sign(centred)  # centering keeps only "these sentences"
    raw_mean = explain_pair(scorer_of(engine, "mean", "0"), PAIR)  # word embeddings: the shared direction dominates
    assert raw_mean.shared > abs(raw_mean.specific)


def test_exact_explanation_needs_no_model_pass_beyond_the_score(packaged_model):
    fresh = Encoder(packaged_model)
    scorer = scorer_of(fresh, "mean")
    fresh.post_transform(replace(scorer.spec, post="center"))  # the split's corpus fit, as the page has it already
    scorer.score([PAIR])
    passes = fresh.forward_passes
    explain_pair(scorer, PAIR)
    assert fresh.forward_passes == passes
    # explained first, the score that follows is a cache hit: one pass for both
    explain_pair(scorer, CLOSE)
    scorer.score([CLOSE])
    assert fresh.forward_passes == passes + 1


def test_integrated_gradients_completeness_on_the_bundled_pairs_tiny_model(tiny_model_dir, tiny_st_dir):
    raw_max = open_scorer(str(tiny_model_dir), EmbedSpec(str(tiny_model_dir), "max", "-1"))
    own_cls = open_scorer(str(tiny_st_dir))  # a pipeline of CLS pooling + Normalize: no exact sum
    for scorer in (raw_max, own_cls):
        assert not explains_exactly(scorer)
        for pair in bundled_pairs(every=13):  # 6 pairs of every kind (paraphrase, negation, ...)
            found = explain_pair(scorer, pair)
            assert found.method == "integrated-gradients" and found.steps == DEFAULT_STEPS
            assert found.completeness_error <= 0.01, (pair, found.completeness_error)
            assert abs(found.score - scorer.score([pair])[0]) < 1e-6
            assert "[CLS]" not in found.tokens[0]  # the reference keeps the special tokens: they get nothing
    coarse = explain_pair(raw_max, CLOSE, steps=2)
    fine = explain_pair(raw_max, CLOSE, steps=32)
    assert fine.completeness_error < coarse.completeness_error


def test_integrated_gradients_completeness_packaged_model(engine):
    scorer = scorer_of(engine, "cls")
    found = explain_pair(scorer, bundled_pairs()[3])
    assert found.completeness_error <= 0.01
    assert found.passes == 2 * (min(map(len, found.tokens)) + 2) * DEFAULT_STEPS + 4  # + [CLS], [SEP]


def test_bad_inputs_are_refused_in_words(engine, service):
    with pytest.raises(EmbedLabError, match="Sentence 2 is empty"):
        explain_pair(scorer_of(engine, "mean"), ("A sentence.", "  "))
    long = " ".join(["word"] * 600)
    found = explain_pair(scorer_of(engine, "mean"), (long, "A short one."))
    assert found.truncated == (True, False) and len(found.tokens[0]) == engine.model.facts.max_seq_length
    with pytest.raises(EmbedLabError, match=f"at most {MAX_IG_TOKENS}"):
        explain_pair(scorer_of(engine, "cls"), (long, "A short one."))
    with pytest.raises(EmbedLabError, match="no tokens"):
        explain_pair(open_scorer(service.ref()), PAIR)


def test_score_explain_json(tmp_path, tiny_model_dir, service, capsys):
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("sentence1,sentence2\n" + "\n".join(f'"{a}","{b}"' for a, b in (PAIR, CLOSE)) + "\n")
    assert cli.main(["score", str(pairs), "--model", PACKAGED, "--explain", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    for pair in report["pairs"]:
        explained = pair["explain"]
        assert explained["method"] == "exact" and explained["completeness_error"] < 1e-5
        assert len(explained["matrix"]) == len(explained["tokens1"])
        assert abs(np.sum(explained["matrix"]) - pair["cosine"]) < 1e-5
    model = str(tiny_model_dir)
    assert (
        cli.main(["score", str(pairs), "--model", model, "--pooling", "cls", "--explain", "--steps", "8", "--json"])
        == 0
    )
    explained = json.loads(capsys.readouterr().out)["pairs"][0]["explain"]
    assert explained["method"] == "integrated-gradients" and explained["steps"] == 8
    assert explained["completeness_error"] >= 0
    assert cli.main(["score", str(pairs), "--model", service.ref(), "--explain"]) == 2
    assert "no tokens" in one_line_error(capsys)


def test_the_lesson_step_says_the_split_of_the_unrelated_pair(engine):
    from embedlab.tasks.lesson import UNRELATED, _f, why_spec, why_text

    scorer = scorer_of(engine, "mean")
    assert why_spec(PACKAGED) == scorer.spec
    found = explain_pair(scorer, UNRELATED)
    text = why_text(found)
    assert f"score **{_f(found.score)}**" in text
    assert f"**{_f(found.shared)}** comes from the direction every sentence" in text
