"""A kind registered by a test alone (``tests/toykind.py``: ``toy:NAME``, hashed character trigrams) is recognised,
declares what it can do, refuses what it cannot in the one message, and works in ``score``, ``negtest`` and
``eval``: adding a kind is one module plus ``register``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import spearmanr

from embedlab import cli
from embedlab.embedding.specs import EmbedSpec
from embedlab.errors import EmbedLabError
from embedlab.models.identity import resolve_model
from embedlab.scorers.registry import kind_of, kinds, open_scorer, register, unregister
from tests.helpers import one_line_error
from tests.toykind import ToyScorer, trigram_vector

REF = "toy:trigrams"
PAIRS = [
    ("How old are you?", "How old are you now?"),
    ("The cat sat on the mat.", "The cat sat on a mat."),
    ("Volcanoes erupt at night.", "The night is dark and cold."),
    ("A man plays a guitar.", "A man sells his old car."),
]


@pytest.fixture
def toy_kind():
    register(ToyScorer)
    yield ToyScorer
    unregister(ToyScorer)


def hand_cosine(first: str, second: str) -> float:
    return float(np.dot(trigram_vector(first), trigram_vector(second)))


def write_rows(path: Path, header: str, rows: list[tuple]) -> Path:
    lines = [header] + [",".join(f'"{cell}"' if isinstance(cell, str) else str(cell) for cell in row) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_the_toy_is_unknown_until_registered_and_after(toy_kind):
    assert kinds()[0] is ToyScorer and kind_of(REF) is ToyScorer
    unregister(ToyScorer)
    with pytest.raises(EmbedLabError, match="not a model reference"):
        resolve_model(REF)
    register(ToyScorer)
    assert resolve_model(f" {REF} ").key == REF


def test_the_toy_scores_cosines_of_its_own_vectors(toy_kind):
    scorer = open_scorer(REF)
    assert scorer.can("vectors") and not scorer.can("layers") and not scorer.can("training")
    assert scorer.score_name == "cosine" and scorer.label == f"{REF} · own pipeline"
    np.testing.assert_allclose(scorer.score(PAIRS), [hand_cosine(*pair) for pair in PAIRS], atol=1e-6)
    np.testing.assert_allclose(scorer.encode(["abc"])[0], trigram_vector("abc"), atol=1e-7)
    baseline = scorer.random_pair_baseline(["one two", "three four", "five six", "seven eight"])
    assert baseline.n_pairs == 2000 and 0 <= baseline.mean <= baseline.p95 <= 1
    with pytest.raises(EmbedLabError, match="toy of hashed trigrams .* the token view"):
        scorer.require("tokens", "the token view")


def test_options_the_toy_cannot_honour_are_refused_before_loading(toy_kind, monkeypatch):
    monkeypatch.setattr(ToyScorer, "load_engine", classmethod(lambda cls, *a, **k: pytest.fail("loaded")))
    with pytest.raises(EmbedLabError, match=f"{REF} is a toy of hashed trigrams and has no tokens, no layers, so "):
        open_scorer(REF, EmbedSpec(REF, pooling="cls"))


def test_score_negtest_and_eval_take_the_toy(toy_kind, tmp_path, capsys):
    pairs_file = write_rows(tmp_path / "pairs.csv", "sentence1,sentence2", PAIRS)
    assert cli.main(["score", str(pairs_file), "--model", REF, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    cosines = [pair["cosine"] for pair in report["pairs"]]
    np.testing.assert_allclose(cosines, [hand_cosine(*pair) for pair in PAIRS], atol=1e-6)
    assert report["baseline"]["mean"] is not None

    labelled = write_rows(
        tmp_path / "labelled.csv", "sentence1,sentence2,label", [(*p, int(i < 2)) for i, p in enumerate(PAIRS)]
    )
    status = cli.main(["negtest", str(labelled), "--model", REF, "--json"])
    report = json.loads(capsys.readouterr().out)
    assert status == 0 and report["auc"] == 1.0  # the two near-copies score above the two unrelated pairs
    assert [pair["cosine"] for pair in report["pairs"]] == pytest.approx(cosines, abs=1e-6)

    gold = [4.8, 4.5, 0.2, 1.0]
    sts_file = write_rows(
        tmp_path / "sts.csv", "sentence1,sentence2,score", [(*p, g) for p, g in zip(PAIRS, gold, strict=True)]
    )
    assert cli.main(["eval", str(sts_file), "--model", REF, "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)["results"]
    assert row["pooling"] == "model"
    assert row["spearman"] == pytest.approx(100 * spearmanr(cosines, gold).statistic, abs=1e-4)

    assert cli.main(["score", str(pairs_file), "--model", REF, "--pooling", "mean"]) == 2
    assert "toy of hashed trigrams" in one_line_error(capsys)
