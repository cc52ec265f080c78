"""Negative testing: AUC and threshold against scikit-learn, failures, validation, and the `negtest` command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score, roc_curve

from embedlab import cli
from embedlab.embedding.encoder import Encoder
from embedlab.embedding.scoring import Baseline, pair_cosines, random_pair_baseline
from embedlab.embedding.specs import EmbedSpec
from embedlab.errors import EmbedLabError
from embedlab.tasks.negtest import (
    BEST,
    USER,
    best_threshold,
    bundled_suite,
    check_labelled,
    clean_labelled,
    failure_table,
    judge,
    parse_labelled_text,
    read_labelled_pairs,
    require_both_labels,
    roc_auc,
    run_negtest,
    summary_table,
)
from tools.offline import offline_environment

REPO_ROOT = Path(__file__).resolve().parents[2]
M = "all-MiniLM-L6-v2"
JSON_KEYS = {"auc", "threshold", "baseline", "pairs", "unreadable_pairs", "left_out"}
PAIR_KEYS = {"sentence1", "sentence2", "label", "cosine", "failed", "unknown_tokens", "truncated", "note"}
EASY = (  # the packaged model separates these at 0.3: paraphrases high, unrelated low
    "sentence1,sentence2,label\n"
    "What is your age?,How old are you?,1\n"
    "How do I reset my password?,Volcanoes form where tectonic plates meet.,0\n"
    "A man is playing a guitar.,A person plays the guitar.,1\n"
    "The stock market fell sharply today.,Two dogs are running through the snow.,0\n"
)
HARD = EASY + "The cat chased the dog.,The dog chased the cat.,0\n"  # a role reversal: scores ~1, should not


def sklearn_best_threshold(labels, scores) -> float:
    """The highest finite threshold maximising TPR - FPR on sklearn's full ROC curve."""
    fpr, tpr, thresholds = roc_curve(labels, scores, drop_intermediate=False)
    finite = np.isfinite(thresholds)
    return float(thresholds[finite][np.argmax((tpr - fpr)[finite])])


def labelled(scores: list[float], labels: list[int]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "sentence1": [f"a{i}" for i in range(len(labels))],
            "sentence2": [f"b{i}" for i in range(len(labels))],
            "label": labels,
            "category": ["x"] * len(labels),
        }
    )


NO_BASELINE = Baseline(0.0, 0.2, 0)


# ---------------------------------------------------------------- statistics against scikit-learn


@pytest.mark.parametrize("seed", range(6))
def test_auc_and_threshold_match_sklearn_on_random_scores_with_ties(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(6, 80))
    labels = rng.integers(0, 2, n)
    labels[:2] = [0, 1]
    scores = np.round(rng.normal(size=n) + labels * rng.uniform(0, 2), 1)  # rounding makes ties
    assert roc_auc(labels, scores) == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)
    assert best_threshold(labels, scores) == sklearn_best_threshold(labels, scores)


def test_auc_and_threshold_match_sklearn_on_real_scores(shared_encoder):
    pairs = bundled_suite()
    scores = pair_cosines(shared_encoder, list(zip(pairs.sentence1, pairs.sentence2, strict=True)), EmbedSpec(M))
    labels = pairs["label"].to_numpy()
    result = judge(EmbedSpec(M), pairs, scores, None, NO_BASELINE)
    assert result.auc == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)
    assert result.threshold == sklearn_best_threshold(labels, scores)
    assert result.threshold_how == BEST
    # Youden's J at the chosen threshold is the best any threshold reaches
    fpr, tpr, _ = roc_curve(labels, scores)
    j = ((scores >= result.threshold) & (labels == 1)).sum() / result.n_positive - (
        (scores >= result.threshold) & (labels == 0)
    ).sum() / result.n_negative
    assert j == pytest.approx((tpr - fpr).max(), abs=1e-12)


def test_auc_edge_cases():
    assert roc_auc([0, 1], [0.2, 0.9]) == 1.0
    assert roc_auc([0, 1], [0.9, 0.2]) == 0.0
    assert roc_auc([0, 1, 0, 1], [0.5] * 4) == 0.5
    with pytest.raises(EmbedLabError, match="at least one pair of each label"):
        roc_auc([1, 1], [0.1, 0.2])


def test_auc_of_float32_noise_is_undefined_with_the_reason():
    """Scores that differ only by rounding (CLS at an early layer) rank nothing: no AUC, a verdict that says so."""
    labels = [1, 1, 0, 0]
    scores = [0.999991, 0.999993, 0.999992, 0.999990]  # spread ~1e-6, below NOISE_STD
    result = judge(EmbedSpec(M, "cls", "1"), labelled(scores, labels), scores, None, NO_BASELINE)
    assert np.isnan(result.auc) and "float32 rounding noise" in result.auc_reason
    assert "cannot tell the pairs apart" in result.verdict() and "ROC AUC 0." not in result.verdict()
    assert np.isnan(summary_table([result]).iloc[0].auc)
    spread_out = [0.9, 0.5, 0.2, 0.1]
    assert judge(EmbedSpec(M), labelled(spread_out, labels), spread_out, None, NO_BASELINE).auc_reason is None


def test_cli_json_reports_an_undefined_auc_with_its_reason(tmp_path, session_encoder, capsys):
    path = write(tmp_path, HARD)
    cli.main(["negtest", str(path), "--model", M, "--pooling", "cls", "--layers", "0", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert report["auc"] is None and report["auc_reason"].startswith("undefined: every pair scores exactly the same")


# ---------------------------------------------------------------- failures


def test_failures_are_the_pairs_on_the_wrong_side_worst_first():
    scores = [0.9, 0.2, 0.55, 0.5, 0.8, 0.1, 0.49, 0.7]
    labels = [1, 1, 0, 0, 0, 0, 1, 1]
    pairs = labelled(scores, labels)
    table = failure_table(pairs, scores, 0.5, NO_BASELINE)
    expected = {i for i, (s, y) in enumerate(zip(scores, labels, strict=True)) if (y == 0) == (s >= 0.5)}
    assert set(table["row"]) == expected == {1, 2, 3, 4, 6}
    assert list(table["row"]) == [4, 1, 2, 6, 3]  # margins 0.3, 0.3, 0.05, 0.01, 0.0; ties by row
    np.testing.assert_allclose(table["margin"], [0.3, 0.3, 0.05, 0.01, 0.0], atol=1e-12)
    assert list(table["kind"]) == [
        "should not match, scores high",
        "should match, scores low",
        "should not match, scores high",
        "should match, scores low",
        "should not match, scores high",  # exactly at the threshold counts as a match
    ]
    assert table.loc[0, "sentence1"] == "a4" and table.loc[0, "cosine"] == 0.8


def test_failures_name_rows_by_the_pairs_index():
    scores = [0.9, 0.2, 0.55, 0.1]
    pairs = labelled(scores, [1, 1, 0, 0]).set_axis([1, 2, 4, 9])  # e.g. the editor after deleting row 3
    result = judge(EmbedSpec(M), pairs, scores, 0.5, NO_BASELINE)
    assert list(result.failures["row"]) == [2, 4]
    assert result.failed.tolist() == [False, True, True, False]
    assert result.category_table().to_dict("records")[0]["failed"] == 2


def test_user_threshold_result_and_words():
    scores = [0.9, 0.2, 0.55, 0.1]
    pairs = labelled(scores, [1, 1, 0, 0])
    result = judge(EmbedSpec(M, "cls", "-1"), pairs, scores, 0.5, Baseline(0.3, 0.6, 10))
    assert result.threshold == 0.5 and result.threshold_how == USER
    assert (result.false_matches, result.missed, result.accuracy) == (1, 1, 0.5)
    assert result.failed.tolist() == [False, True, True, False]
    words = result.verdict()
    assert words.startswith(f"{M} · cls · layers -1 ")
    assert "ROC AUC 0.75" in words and "your threshold, 0.50" in words
    assert "1 of 2 pairs that should not match score too high and 1 of 2" in words
    assert "not above what 5% of random, unrelated pairs reach (0.60)" in words  # 0.5 <= p95
    row = summary_table([result]).iloc[0]
    assert (row.failures, row.false_matches, row.missed, row.threshold_how) == (2, 1, 1, "set by you")
    assert row.baseline_p95 == 0.6
    categories = result.category_table()
    assert categories.to_dict("records") == [{"category": "x", "pairs": 4, "failed": 2, "mean_cosine": 0.4375}]


# ---------------------------------------------------------------- input validation


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("sentence1,sentence2\na,b\n", "no label column"),
        ("sentence1,sentence2,label\na,b,1\nc,d,2\n", "row 2: label '2' is not 0 or 1"),
        ("sentence1,sentence2,label\na,b,3\nc,d,2\ne,,0\n", "row 1: label '3' .* the label of row 2 is not"),
        ("sentence1,sentence2,label\na,b,1\nc,,0\ne,f,\n", "row 2: sentence2 is empty.* row 3 is incomplete too"),
        ("sentence1,sentence2,label\na,b,yes\nc,d,0\n", "row 1: label 'yes' is not 0 or 1"),
        ("sentence1,sentence2,label\na,b,\nc,d,0\n", "row 1: the label is missing"),
        ("sentence1,sentence2,label\na,b,1\nc,d,1\n", "no pair that should not be similar"),
        ("sentence1,sentence2,label\na,b,0\n", "no pair that should be similar"),
        ("sentence1,sentence2,label\n,b,0\nc,d,1\n", "row 1: sentence1 is empty"),
        ("sentence1,sentence2,label\n", "has a header but no rows"),
    ],
)
def test_bad_labelled_input_is_refused_with_a_clear_message(text, message):
    with pytest.raises(EmbedLabError, match=message):
        parse_labelled_text(text.encode(), "pairs.csv")


def test_labels_and_categories_are_read(tmp_path):
    path = tmp_path / "pairs.tsv"
    path.write_text("sentence1\tsentence2\tlabel\tcategory\nA\tB\t1.0\tp\nC\tD\t0\tn\n", encoding="utf-8")
    frame = read_labelled_pairs(path)
    assert frame.to_dict("list") == {
        "sentence1": ["A", "C"],
        "sentence2": ["B", "D"],
        "label": [1, 0],
        "category": ["p", "n"],
    }
    assert list(clean_labelled(frame.drop(columns="category"))["category"]) == ["", ""]
    assert list(frame.index) == [1, 2]  # data rows from 1, as the messages count them


def test_check_labelled_sets_incomplete_rows_aside_under_their_own_labels():
    frame = pd.DataFrame(
        {
            "sentence1": ["a", "b", "  ", "d", None, "f"],
            "sentence2": ["x", "y", "z", None, "w", "v"],
            "label": [1, pd.NA, 0, 0, None, 0.0],
        },
        index=[1, 2, 4, 5, 7, 8],  # an edited table: row 3 and 6 deleted
    )
    check = check_labelled(frame, "The table")
    assert check.incomplete == {2: ("label",), 4: ("sentence1",), 5: ("sentence2",), 7: ("sentence1", "label")}
    assert list(check.pairs.index) == [1, 8]
    assert check.pairs.to_dict("list") == {
        "sentence1": ["a", "f"],
        "sentence2": ["x", "v"],
        "label": [1, 0],
        "category": ["", ""],
    }
    require_both_labels(check.pairs, "The table", skipped=len(check.incomplete))
    with pytest.raises(EmbedLabError, match="The table has no complete pair that should be similar"):
        require_both_labels(check.pairs.loc[[8]], "The table", skipped=1)
    with pytest.raises(EmbedLabError, match="The table has no complete pairs"):
        require_both_labels(check.pairs.iloc[:0], "The table", skipped=3)
    with pytest.raises(EmbedLabError, match="The table row 5: label '7' is not 0 or 1"):
        labels = pd.array([1, None, 0, 7, 1, 0], dtype="Int64")  # as the page's table holds them
        check_labelled(frame.assign(label=labels), "The table")  # even where a sentence is empty


def test_bundled_suite_has_the_promised_variety():
    suite = bundled_suite()
    assert len(suite) >= 60
    assert {"paraphrase", "negation", "role_reversal", "antonym", "polysemy", "unrelated", "chinese"} <= set(
        suite["category"]
    )
    assert set(suite["label"]) == {0, 1}


# ---------------------------------------------------------------- the command


@pytest.fixture(scope="module")
def shared_encoder(packaged_model) -> Encoder:
    return Encoder(packaged_model)


@pytest.fixture
def session_encoder(shared_encoder, monkeypatch):
    """In-process runs reuse one encoder instead of loading the model each time."""
    monkeypatch.setattr(cli.common, "load_engine", lambda kind, model_id: shared_encoder)


def run_cli(argv: list[str]) -> int:
    """cli.main's exit status, also when argparse exits (bad option values)."""
    try:
        return cli.main(argv)
    except SystemExit as exit_:
        return int(exit_.code)


def write(tmp_path: Path, text: str, name: str = "pairs.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_exit_0_when_nothing_fails(tmp_path, session_encoder, capsys):
    code = cli.main(["negtest", str(write(tmp_path, EASY)), "--model", M, "--threshold", "0.3"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "ROC AUC 1.000" in out and "threshold 0.3000 (set by you)" in out and "0 of 4 pairs failed." in out


def test_exit_1_when_a_pair_fails_and_failures_are_listed(tmp_path, session_encoder, capsys):
    code = cli.main(["negtest", str(write(tmp_path, HARD)), "--model", M, "--threshold", "0.3"])
    out = capsys.readouterr().out
    assert code == 1
    assert "1 of 5 pairs failed, worst first:" in out
    assert "should not match, scores high:  The cat chased the dog.  |  The dog chased the cat." in out


def test_json_shape_order_and_failed_flags(tmp_path, session_encoder, shared_encoder, capsys):
    path = write(tmp_path, HARD)
    code = cli.main(["negtest", str(path), "--model", M, "--pooling", "mean", "--post", "center", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert set(report) == JSON_KEYS and set(report["baseline"]) == {"mean", "p95"}
    assert all(set(pair) == PAIR_KEYS for pair in report["pairs"])
    spec = EmbedSpec(M, "mean", "-1", post="center")
    pairs = read_labelled_pairs(path)
    expected = run_negtest(shared_encoder, spec, pairs)
    assert [(p["sentence1"], p["sentence2"], p["label"]) for p in report["pairs"]] == list(
        zip(pairs.sentence1, pairs.sentence2, pairs.label.tolist(), strict=True)
    )
    np.testing.assert_allclose([p["cosine"] for p in report["pairs"]], expected.scores, atol=1e-6)
    assert report["auc"] == pytest.approx(expected.auc, abs=1e-6)
    assert report["threshold"] == pytest.approx(expected.threshold, abs=1e-6)
    assert report["baseline"]["mean"] == pytest.approx(random_pair_baseline(shared_encoder, spec).mean, abs=1e-6)
    assert [p["failed"] for p in report["pairs"]] == expected.failed.tolist()
    assert code == (1 if expected.failed.any() else 0)


@pytest.mark.parametrize(
    ("text", "extra", "message"),
    [
        ("sentence1,sentence2\na,b\n", [], "no label column"),
        ("sentence1,sentence2,label\na,b,1\nc,d,5\n", [], "pairs.csv row 2: label '5' is not 0 or 1"),
        ("sentence1,sentence2,label\na,b,1\nc,d,\ne,f,0\n", [], "pairs.csv row 2: the label is missing"),
        ("sentence1,sentence2,label\na,b,1\nc,d,1\n", [], "ROC AUC needs at least one pair of each label"),
        (EASY, ["--post", "whiten", "--fit", "missing.txt"], "Fitting corpus 'missing.txt' not found"),
        (EASY, ["--post", "sphere"], "invalid choice: 'sphere'"),
        (EASY, ["--threshold", "nan"], "--threshold must be a number"),
        (EASY, ["--pooling", "cls", "--layers", "9"], "Layer 9 does not exist"),
    ],
)
def test_exit_2_on_bad_input_with_one_line(tmp_path, session_encoder, capsys, text, extra, message):
    assert run_cli(["negtest", str(write(tmp_path, text)), "--model", M, *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_missing_file_exits_2(tmp_path, session_encoder, capsys):
    assert cli.main(["negtest", str(tmp_path / "nope.csv"), "--model", M]) == 2
    assert "not found" in capsys.readouterr().err


def test_own_fitting_corpus_from_a_file(tmp_path, session_encoder, shared_encoder, capsys):
    sentences = [f"Sentence {i} talks about {w}." for i, w in enumerate(["rain", "tax", "cats", "jazz"] * 15)]
    corpus = write(tmp_path, "\n".join(sentences), "corpus.txt")
    pairs = write(tmp_path, EASY)
    code = cli.main(["negtest", str(pairs), "--model", M, "--post", "center", "--fit", str(corpus), "--json"])
    report = json.loads(capsys.readouterr().out)
    spec = EmbedSpec(M, post="center", post_corpus=sentences)
    expected = run_negtest(shared_encoder, spec, read_labelled_pairs(pairs))
    np.testing.assert_allclose([p["cosine"] for p in report["pairs"]], expected.scores, atol=1e-6)
    flagged = [p["failed"] for p in report["pairs"]]
    assert len(expected.failures) == sum(flagged)  # the CLI flags the pairs the engine finds failing
    assert code == (1 if any(flagged) else 0)  # and exits 1 exactly when a pair failed


def test_real_process_round_trip(tmp_path, shared_encoder):
    path = write(tmp_path, HARD)
    done = subprocess.run(
        [sys.executable, "-m", "embedlab", "negtest", str(path), "--model", M, "--threshold", "0.3", "--json"],
        cwd=REPO_ROOT,
        env=offline_environment(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 1, done.stderr
    assert done.stderr == ""
    report = json.loads(done.stdout)
    assert set(report) == JSON_KEYS
    expected = run_negtest(shared_encoder, EmbedSpec(M), read_labelled_pairs(path), threshold=0.3)
    np.testing.assert_allclose([p["cosine"] for p in report["pairs"]], expected.scores, atol=1e-5)
    assert [p["failed"] for p in report["pairs"]] == [False, False, False, False, True]


def test_bundled_suite_is_read_once_and_each_caller_gets_its_own_copy(tmp_path, monkeypatch):
    import embedlab.tasks.negtest as negtest

    suite_file = tmp_path / "suite.csv"
    suite_file.write_text(negtest.NEGTEST_FILE.read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.setattr(negtest, "NEGTEST_FILE", suite_file)
    reads: list[str] = []
    original = negtest.read_labelled_pairs
    monkeypatch.setattr(negtest, "read_labelled_pairs", lambda path: reads.append(path) or original(path))
    first = bundled_suite()
    first.loc[first.index[0], "sentence1"] = "changed by one session"
    second = bundled_suite()
    assert len(reads) == 1  # not from disk again for every session that opens a page
    assert second.sentence1.iloc[0] != "changed by one session"
    changed = "sentence1,sentence2,label\nA cat sat.,A cat was sitting.,1\nA cat sat.,Rain fell.,0\n"
    suite_file.write_text(changed, encoding="utf-8")
    os.utime(suite_file, ns=(suite_file.stat().st_atime_ns, suite_file.stat().st_mtime_ns + 10**9))
    assert bundled_suite().sentence2.tolist() == ["A cat was sitting.", "Rain fell."]  # the file changed: read again
