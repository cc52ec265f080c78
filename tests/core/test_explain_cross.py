"""Why this score for a cross-encoder (embedlab.tasks.explain.explain_joint): per-token integrated gradients over
the joint input, checked against captum on plain transformers; completeness at the default steps; the JSON; the
refusals."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from embedlab import cli
from embedlab.errors import EmbedLabError
from embedlab.limits import MAX_IG_TOKENS
from embedlab.models.loading import PACKAGED
from embedlab.scorers.registry import open_scorer
from embedlab.tasks.explain import DEFAULT_STEPS, NO_PAIR_MATRIX, explain_pair
from tests.core.test_explain import CLOSE, PAIR, bundled_pairs

HEAD_SCALE = 30.0  # a random head this sharp moves the score by up to ~0.3 between a pair and its reference


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def sharp_cross_dir(cross_dir, tmp_path_factory) -> Path:
    """The tiny random cross-encoder with its head's weights scaled: scores that differ from pair to pair (a head
    as random as ``cross_dir``'s scores every pair about 0.5, and completeness would hold trivially)."""
    from sentence_transformers import CrossEncoder

    model = CrossEncoder(str(cross_dir), device="cpu")
    with torch.no_grad():
        for name, parameter in model.model.named_parameters():
            if name.startswith("classifier.") and name.endswith("weight"):
                parameter.mul_(HEAD_SCALE)
    folder = tmp_path_factory.mktemp("sharp-cross")
    model.save(str(folder))
    return folder


@pytest.fixture(scope="module")
def cross(sharp_cross_dir):
    return open_scorer(str(sharp_cross_dir))


def test_only_the_cross_encoder_declares_a_joint_input(cross, service):
    assert cross.can("joint_tokens") and not cross.can("tokens")
    assert not open_scorer(PACKAGED).can("joint_tokens")
    with pytest.raises(EmbedLabError, match="no tokens"):
        explain_pair(open_scorer(service.ref()), PAIR)


def test_attributions_sum_to_score_minus_reference_on_the_bundled_pairs(cross):
    moved = []
    for pair in bundled_pairs(every=13):  # 6 pairs of every kind (paraphrase, negation, ...)
        found = explain_pair(cross, pair)
        assert found.method == "integrated-gradients" and found.steps == DEFAULT_STEPS and not found.has_pairs
        assert found.completeness_error <= 0.01, (pair, found.completeness_error)
        assert abs(found.score - cross.score([pair])[0]) < 1e-6  # the score the app shows (head + sigmoid)
        first, second = found.token_totals
        assert abs(first.sum() + second.sum() - (found.score - found.reference)) == pytest.approx(
            found.completeness_error, abs=1e-9
        )
        tokenizer = cross.engine.model.tokenizer
        for text, tokens in zip(pair, found.tokens, strict=True):  # each sentence's own tokens, no special ones
            assert list(tokens) == tokenizer.tokenize(text)
        moved.append(abs(found.score - found.reference))
    assert max(moved) > 0.1  # the scores really move: completeness is not met by a flat head
    coarse, fine = explain_pair(cross, CLOSE, steps=4), explain_pair(cross, CLOSE, steps=DEFAULT_STEPS)
    assert fine.completeness_error < coarse.completeness_error
    assert fine.passes == DEFAULT_STEPS + 2


def test_attributions_equal_captum_on_plain_transformers(cross, sharp_cross_dir):
    """The same integral computed from plain transformers: IntegratedGradients on the input word embeddings of
    sigmoid(logit), the reference being every content token replaced by [PAD]."""
    from captum.attr import IntegratedGradients
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(sharp_cross_dir))
    model = AutoModelForSequenceClassification.from_pretrained(str(sharp_cross_dir)).eval()
    inputs = tokenizer(*PAIR, return_tensors="pt")
    ids = inputs["input_ids"]
    special = torch.tensor(tokenizer.get_special_tokens_mask(ids[0].tolist(), already_has_special_tokens=True))
    reference_ids = torch.where(special.bool()[None], ids, torch.full_like(ids, tokenizer.pad_token_id))
    words = model.get_input_embeddings()

    def forward(embeds):
        rest = {name: value.expand(len(embeds), -1) for name, value in inputs.items() if name != "input_ids"}
        return torch.sigmoid(model(inputs_embeds=embeds, **rest).logits[:, 0])

    with torch.no_grad():
        embeds, baseline = words(ids), words(reference_ids)
    expected = IntegratedGradients(forward).attribute(
        embeds, baselines=baseline, n_steps=DEFAULT_STEPS, method="gausslegendre"
    )
    expected = expected.sum(-1)[0][~special.bool()].double().numpy()
    found = explain_pair(cross, PAIR)
    np.testing.assert_allclose(np.concatenate(found.token_totals), expected, atol=1e-5)
    with torch.no_grad():
        assert found.reference == pytest.approx(float(forward(baseline)[0]), abs=1e-6)


def test_bad_inputs_are_refused_in_words(cross):
    with pytest.raises(EmbedLabError, match="Sentence 1 is empty"):
        explain_pair(cross, (" ", "A short one."))
    long = " ".join(["word"] * 600)
    with pytest.raises(EmbedLabError, match=f"Sentence 2 has more than .* at most {MAX_IG_TOKENS}"):
        explain_pair(cross, ("A short one.", long))
    with pytest.raises(EmbedLabError, match=f"Sentence 1 has {MAX_IG_TOKENS + 1} tokens"):
        explain_pair(cross, (" ".join(["word"] * (MAX_IG_TOKENS + 1)), "A short one."))


def test_score_explain_json_for_a_cross_encoder(tmp_path, cross, sharp_cross_dir, capsys):
    pairs = tmp_path / "pairs.csv"
    long = " ".join(["word"] * 600)
    pairs.write_text("sentence1,sentence2\n" + "\n".join(f'"{a}","{b}"' for a, b in (PAIR, (long, "Short."))) + "\n")
    assert cli.main(["score", str(pairs), "--model", str(sharp_cross_dir), "--explain", "--json"]) == 0
    first, too_long = json.loads(capsys.readouterr().out)["pairs"]
    explained = first["explain"]
    assert explained["method"] == "integrated-gradients" and explained["steps"] == DEFAULT_STEPS
    assert explained["matrix"] is None and explained["no_matrix"] == NO_PAIR_MATRIX
    assert (
        len(explained["attributions1"])
        == len(explained["tokens1"])
        == len(cross.engine.model.tokenizer.tokenize(PAIR[0]))
    )
    assert len(explained["attributions2"]) == len(explained["tokens2"])
    assert explained["completeness_error"] <= 0.01 and explained["passes"] == DEFAULT_STEPS + 2
    covered = sum(explained["attributions1"]) + sum(explained["attributions2"])
    assert abs(covered - (first["score"] - explained["reference"])) <= explained["completeness_error"] + 1e-5
    assert too_long["explain"] is None and f"at most {MAX_IG_TOKENS}" in too_long["explain_note"]
