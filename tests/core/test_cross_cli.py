"""The command line with a cross-encoder folder (recognised by its files, no flag): score, negtest and eval give
CrossEncoder(dir).predict's scores to 1e-5 with "kind": "cross-encoder"; options that need sentence vectors or
hidden states exit 2 with one line, before the model loads."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import spearmanr

from embedlab import cli
from embedlab.models.cross import CROSS_BASELINE_PAIRS
from tests.core.test_cli import SUBPROCESS_TIMEOUT_S, run_module
from tests.helpers import one_line_error, write

PAIRS_CSV = (
    "sentence1,sentence2,label\n"
    "What is your age?,How old are you?,1\n"
    "A man is playing a guitar.,A person plays the guitar.,1\n"
    "The cat chased the dog.,The dog chased the cat.,0\n"
    "I like this movie.,I do not like this movie.,0\n"
    "A man is playing a guitar.,The volcano erupted overnight.,0\n"
)
STS_CSV = (
    "sentence1,sentence2,score\n"
    "What is your age?,How old are you?,5\n"
    "A man is playing a guitar.,A person plays the guitar.,4\n"
    "A man is playing a guitar.,A man plays a flute.,2\n"
    "A woman is slicing an onion.,A woman is cutting an onion.,4.5\n"
    "The cat sat on the mat.,Stock prices fell sharply today.,0\n"
)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("cross-cli")
    texts = {"pairs": PAIRS_CSV, "sts": STS_CSV, "fit": "One sentence.\nAnother one.\n"}
    return {name: write(folder, f"{name}.csv", text) for name, text in texts.items()}


@pytest.fixture(scope="module")
def predict(cross_dir):
    """CrossEncoder(dir).predict of the folder, loaded independently of the app."""
    from sentence_transformers import CrossEncoder

    model = CrossEncoder(str(cross_dir), device="cpu")
    return lambda pairs: model.predict(list(pairs), show_progress_bar=False)


@pytest.fixture(scope="module")
def scorer(cross_dir):
    """One CrossScorer for the in-process runs (its pair cache spares the 500-pair baseline after the first)."""
    from embedlab.models.cross import CrossScorer

    return CrossScorer(cross_dir, str(cross_dir))


@pytest.fixture
def shared_scorer(scorer, monkeypatch):
    """In-process runs reuse the module's scorer instead of loading their own (the real load is the subprocess's)."""
    monkeypatch.setattr(cli.common, "load_engine", lambda kind, model_id: scorer)
    return scorer


def rows(report: dict) -> list[tuple[str, str]]:
    return [(pair["sentence1"], pair["sentence2"]) for pair in report["pairs"]]


def test_eval_through_the_real_command_equals_predict(cross_dir, files, predict):
    process = run_module("eval", str(files["sts"]), "--model", str(cross_dir), "--json")
    stdout, stderr = process.communicate(timeout=SUBPROCESS_TIMEOUT_S)
    assert process.returncode == 0 and stderr == "", stderr  # no loading bars or reports on stderr
    report = json.loads(stdout)
    assert report["kind"] == "cross-encoder" and report["model"] == str(cross_dir) and report["n_pairs"] == 5
    frame = [line.split(",") for line in STS_CSV.splitlines()[1:]]
    expected = spearmanr(predict([(a, b) for a, b, _ in frame]), [float(gold) for _, _, gold in frame]).statistic
    (result,) = report["results"]
    assert result["pooling"] == "cross-encoder" and "layers" not in result
    assert result["spearman"] == pytest.approx(100 * expected, abs=1e-3)
    assert report["pairs_scored"] == 5  # one forward pass per distinct pair, no baseline in eval


def test_score_and_negtest_equal_predict(cross_dir, files, predict, shared_scorer, capsys):
    assert cli.main(["score", str(files["pairs"]), "--model", str(cross_dir), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["kind"] == "cross-encoder" and report["model"] == str(cross_dir)
    assert all("cosine" not in pair for pair in report["pairs"])  # its score is not a cosine
    np.testing.assert_allclose([p["score"] for p in report["pairs"]], predict(rows(report)), atol=1e-5)
    assert 0 <= report["baseline"]["mean"] <= report["baseline"]["p95"] <= 1  # a sigmoid's scores
    distinct = len(set(rows(report)))
    assert distinct < report["pairs_scored"] <= distinct + CROSS_BASELINE_PAIRS  # a pass per pair, baseline too
    assert "pooling" not in report and "layers" not in report

    code = cli.main(["negtest", str(files["pairs"]), "--model", str(cross_dir), "--json"])
    report = json.loads(capsys.readouterr().out)
    assert report["kind"] == "cross-encoder"
    scores = [pair["score"] for pair in report["pairs"]]
    np.testing.assert_allclose(scores, predict(rows(report)), atol=1e-5)
    failed = [pair["failed"] for pair in report["pairs"]]
    assert code == (1 if any(failed) else 0)
    # the failures follow the threshold on its scores: negatives at or above it, positives below it
    expected = [
        (pair["label"] == 0 and pair["score"] >= report["threshold"])
        or (pair["label"] == 1 and pair["score"] < report["threshold"])
        for pair in report["pairs"]
    ]
    assert failed == expected


def test_text_output_names_a_score_not_a_cosine(cross_dir, files, shared_scorer, capsys):
    assert cli.main(["score", str(files["pairs"]), "--model", str(cross_dir)]) == 0
    out = capsys.readouterr().out
    assert "cross-encoder score, not a cosine" in out and "random-pair baseline" in out
    assert len(out.splitlines()) == 1 + 5
    cli.main(["eval", str(files["sts"]), "--model", str(cross_dir)])
    out = capsys.readouterr().out
    assert "cross-encoder score (pair by pair)" in out and "5 forward passes" in out


@pytest.mark.parametrize(
    ("command", "options", "named"),
    [
        ("score", ["--pooling", "cls"], "--pooling cls"),
        ("score", ["--layers", "2"], "--layers 2"),
        ("score", ["--post", "center"], "--post center"),
        ("score", ["--code"], "--code"),
        ("negtest", ["--post", "whiten", "--post-dims", "4"], "--post whiten, --post-dims"),
        ("negtest", ["--skip-unreadable"], "--skip-unreadable"),
        ("eval", ["--grid"], "--grid"),
        ("eval", ["--fit", "FIT"], "--fit"),
        ("eval", ["--pooling", "mean", "--layers", "first-last"], "--pooling mean, --layers first-last"),
    ],
)
def test_options_that_do_not_apply_are_refused_before_loading(
    cross_dir, files, capsys, monkeypatch, command, options, named
):
    def must_not_load(*args):
        raise AssertionError("the cross-encoder was loaded before its options were checked")

    monkeypatch.setattr(cli.common, "load_engine", must_not_load)
    file = files["sts"] if command == "eval" else files["pairs"]
    options = [str(files["fit"]) if option == "FIT" else option for option in options]
    assert cli.main([command, str(file), "--model", str(cross_dir), *options]) == 2
    err = one_line_error(capsys)
    assert named in err and "is a cross-encoder" in err and "no sentence vector" in err


def test_a_vectors_model_still_refuses_its_options_and_now_fit_too(files, capsys):
    ref = "http://127.0.0.1:9/v1#nothing-listens"  # refused before any request is made
    assert cli.main(["eval", str(files["sts"]), "--model", ref, "--fit", str(files["fit"])]) == 2
    assert "--fit" in one_line_error(capsys)
