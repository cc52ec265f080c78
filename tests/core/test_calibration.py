"""Calibration: P(same meaning | score) fitted on one set and judged on another; the metrics against scikit-learn and
by hand; bad input; the packaged model on STS; the `calibrate` command and `score --calibration`."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from sklearn.calibration import calibration_curve
from sklearn.metrics import precision_score

from embedlab import cli
from embedlab.embedding.encoder import Encoder
from embedlab.embedding.specs import EmbedSpec
from embedlab.errors import EmbedLabError
from embedlab.scorers.registry import open_scorer
from embedlab.tasks import calibration
from embedlab.tasks.calibration import (
    LabelledPairs,
    bundled_labelled,
    cached_calibration,
    cached_report,
    calibrate,
    calibrate_scores,
    check_labels,
    check_scores,
    chosen_method,
    from_scored,
    held_out,
    parse_labelled_data,
    precision_threshold,
    read_labelled_data,
    reliability,
    threshold_for_precision,
)
from embedlab.tasks.sts import read_scored_pairs

M = "all-MiniLM-L6-v2"
LABELLED_CSV = (
    "sentence1,sentence2,label\n"
    "A man is playing a guitar.,A man plays the guitar.,1\n"
    "A woman is slicing an onion.,A woman cuts an onion.,1\n"
    "The cat sits on the mat.,A cat is sitting on a mat.,1\n"
    "Kids are playing in the park.,Children play in a park.,1\n"
    "The sun is shining brightly.,It is a bright and sunny day.,1\n"
    "A man is playing a guitar.,A chef is cooking pasta.,0\n"
    "The cat sits on the mat.,Stock markets fell sharply today.,0\n"
    "A woman is slicing an onion.,The train leaves at noon.,0\n"
    "Kids are playing in the park.,He repaired the old bicycle.,0\n"
    "The sun is shining brightly.,She forgot her umbrella at work.,0\n"
)


def synthetic(n: int, seed: int, squash: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Scores in [0, 1] and labels drawn with P(label 1) = score ** squash (squash 1: the score IS the probability)."""
    rng = np.random.default_rng(seed)
    scores = rng.uniform(0.0, 1.0, n)
    labels = (rng.uniform(0.0, 1.0, n) < scores**squash).astype(int)
    return scores, labels


# ---------------------------------------------------------------- metrics


def test_reliability_bins_match_scikit_learn_and_ece_is_their_weighted_gap():
    scores, labels = synthetic(800, 1, squash=3.0)
    judged = reliability(labels, scores)
    fraction, mean = calibration_curve(labels, scores, n_bins=10, strategy="uniform")
    assert judged.fraction_positive == pytest.approx(tuple(fraction))
    assert judged.mean_probability == pytest.approx(tuple(mean))
    assert sum(judged.counts) == 800
    # ECE by hand: bin each pair by floor(p * 10) (p = 1 in the last bin), weighted |observed - predicted|
    bins = np.minimum((scores * 10).astype(int), 9)
    by_hand = sum(
        np.mean(bins == b) * abs(labels[bins == b].mean() - scores[bins == b].mean())
        for b in range(10)
        if np.any(bins == b)
    )
    assert judged.ece == pytest.approx(by_hand)
    assert judged.brier == pytest.approx(np.mean((scores - labels) ** 2))


def test_calibrated_probabilities_have_small_ece_and_miscalibrated_ones_large():
    scores, labels = synthetic(4000, 2)
    assert reliability(labels, scores).ece < 0.03  # the score is the probability: calibrated already
    assert reliability(labels, np.clip(scores + 0.3, 0, 1)).ece > 0.2  # 0.3 too confident: the ECE shows it


@pytest.mark.parametrize("method", ["isotonic", "platt"])
def test_fitting_on_one_set_calibrates_another(method):
    fit_scores, fit_labels = synthetic(3000, 3, squash=4.0)  # P(same) = score ** 4: a cosine of 0.8 means 41 %
    held_scores, held_labels = synthetic(2000, 4, squash=4.0)
    report = calibrate_scores(fit_scores, fit_labels, held_scores, held_labels, method)
    assert report.method == method
    assert report.after.ece < 0.04 < 0.1 < report.before.ece
    assert report.after.brier < report.before.brier
    probabilities = report.probability(np.linspace(0, 1, 21))
    assert np.all(np.diff(probabilities) >= -1e-12)  # monotone: ranking is unchanged
    assert report.probability([0.8])[0] == pytest.approx(0.8**4, abs=0.08)
    assert math.isnan(report.probability([np.nan])[0])  # a pair not scored gets no probability


def test_scores_that_rank_backwards_get_the_base_rate_not_a_reversed_curve():
    scores, labels = synthetic(200, 10)
    report = calibrate_scores(1 - scores, labels, 1 - scores, labels, "platt")
    assert report.calibrator.flat and "no usable signal" in report.method_why
    assert np.allclose(report.probability([0.0, 0.5, 1.0]), np.mean(labels))
    isotonic = calibrate_scores(1 - scores, labels, 1 - scores, labels, "isotonic")
    assert np.all(np.diff(isotonic.probability(np.linspace(0, 1, 11))) >= 0)


def test_auto_takes_isotonic_for_many_pairs_and_platt_for_few():
    assert chosen_method("auto", calibration.ISOTONIC_MIN_PAIRS) == "isotonic"
    assert chosen_method("auto", calibration.ISOTONIC_MIN_PAIRS - 1) == "platt"
    assert chosen_method("platt", 5000) == "platt"
    scores, labels = synthetic(100, 5)
    report = calibrate_scores(scores[:60], labels[:60], scores[60:], labels[60:])
    assert report.method == "platt" and "too few" in report.method_why
    with pytest.raises(EmbedLabError, match="auto, isotonic, platt"):
        chosen_method("sigmoid", 10)


def test_threshold_reaches_the_precision_and_the_next_lower_score_does_not():
    scores, labels = synthetic(600, 6, squash=2.0)
    threshold = threshold_for_precision(labels, scores, 0.9)
    assert threshold is not None
    assert precision_score(labels, scores >= threshold) >= 0.9
    lower = scores[scores < threshold]
    assert precision_score(labels, scores >= lower.max()) < 0.9 or lower.size == 0  # the lowest that reaches it
    found = precision_threshold(labels, scores, 0.9, resamples=200)
    assert found.threshold == threshold and found.achieved >= 0.9 and 0 < found.recall < 1
    assert found.low <= threshold <= found.high and found.reached <= 200
    assert precision_threshold(labels, scores, 0.9, resamples=200) == found  # seeded: the same every run


def test_a_precision_no_threshold_reaches_is_said():
    labels = np.array([0, 0, 1, 1, 0, 1])
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.95, 0.5])  # the highest scores are all negatives
    found = precision_threshold(labels, scores, 0.99, resamples=50)
    assert found.threshold is None and math.isnan(found.achieved)
    assert "no threshold reaches it" in calibration.threshold_text(found)


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        ([], "has no pairs"),
        ([1], "has 1 pair:"),
        ([1, 1, 1, 1, 1, 1], "0 pairs of not the same meaning"),
        ([0, 0, 0, 0, 0, 1], "1 pair of same meaning"),
    ],
)
def test_too_few_pairs_or_one_label_only_are_refused(labels, message):
    with pytest.raises(EmbedLabError, match=message):
        check_labels(labels, "the pairs")
    scores = np.linspace(0, 1, len(labels))
    good_scores, good_labels = synthetic(50, 7)
    with pytest.raises(EmbedLabError, match=message):
        calibrate_scores(good_scores, good_labels, scores, labels, names=("fit", "the pairs"))


def test_nan_scores_are_refused_naming_their_rows():
    with pytest.raises(EmbedLabError, match=r"rows 2 and 4 scored no number \(NaN\)"):
        check_scores([0.1, np.nan, 0.3, np.nan], "pairs.csv")
    scores, labels = synthetic(40, 8)
    scores[3] = np.nan
    with pytest.raises(EmbedLabError, match="row 4 scored no number"):
        calibrate_scores(scores, labels, *synthetic(40, 9))


def test_a_file_without_a_label_column_is_refused(tmp_path):
    path = tmp_path / "pairs.csv"
    path.write_text("sentence1,sentence2\nA cat.,A dog.\n", encoding="utf-8")
    with pytest.raises(EmbedLabError, match="pairs.csv has no label column"):
        read_labelled_data(path)


def test_labels_and_scores_are_read_and_scores_binarised_at_4():
    labelled = parse_labelled_data(LABELLED_CSV.encode(), "mine.csv")
    assert len(labelled) == 10 and labelled.labels.count(1) == 5 and labelled.how == "label column"
    scored = parse_labelled_data(b"sentence1,sentence2,score\na,b,4.0\nc,d,3.9\ne,f,5\ng,h,0.2\n", "s.csv")
    assert scored.labels == (1, 0, 1, 0) and "4" in scored.how
    sts_line = "main-captions\tMSRvid\t2012test\t0001\t{}\tA cat.\tA dog.\n"
    sts = parse_labelled_data("".join(sts_line.format(s) for s in (4.2, 1.0, 3.99)).encode(), "sts.csv")
    assert sts.labels == (1, 0, 0)


def test_held_out_split_is_stratified_disjoint_and_seeded():
    labels = [1] * 20 + [0] * 40
    pairs = LabelledPairs("set", tuple(f"a{i}" for i in range(60)), tuple(f"b{i}" for i in range(60)), tuple(labels))
    fit, held = held_out(pairs)
    assert len(fit) + len(held) == 60 and not set(fit.sentence1) & set(held.sentence1)
    assert held.labels.count(1) == 6 and held.labels.count(0) == 12  # 30 %, in the same proportion
    assert held_out(pairs)[1] == held
    with pytest.raises(EmbedLabError, match="too small to hold pairs out"):
        held_out(pairs.subset([0, 1, 2, 20, 21, 22], "tiny"))


def test_without_the_sts_splits_the_default_is_the_bundled_suite_and_says_so(monkeypatch):
    monkeypatch.setattr(calibration.corpora, "sts_splits", lambda: {})
    sets = calibration.default_sets()
    assert not sets.sts and "not here" in sets.note and "bundled negative-test suite" in sets.note
    assert len(sets.fit) + len(sets.held) == len(bundled_labelled())
    assert 0 < len(sets.held) < len(sets.fit) and set(sets.held.labels) == {0, 1}  # 30 % held out, both labels


# ---------------------------------------------------------------- real models


def test_a_fit_is_cached_per_configuration_and_data(packaged_model):
    engine = Encoder(packaged_model)
    scorer = open_scorer(M, engine=lambda kind, model_id: engine)
    data = parse_labelled_data(LABELLED_CSV.encode(), "mine.csv")
    other = parse_labelled_data(LABELLED_CSV.replace("guitar.,A chef", "guitar.,A cook").encode(), "other.csv")
    first = cached_calibration(scorer, data, data, "platt")
    passes = engine.texts_encoded
    assert cached_calibration(scorer, data, data, "platt") is first and engine.texts_encoded == passes
    cls = open_scorer(M, EmbedSpec(M, "cls", "-1"), engine=lambda kind, model_id: engine)
    assert cached_report(cls, data, data, "platt", 0.9) is None  # another configuration: not this fit
    assert cached_report(scorer, other, data, "platt", 0.9) is None  # other pairs: not this fit
    assert cached_calibration(cls, data, data, "platt").label != first.label


def test_packaged_model_on_sts_is_calibrated_to_ece_at_most_006(packaged_model, sts_train, sts_dev):
    """The issue's target on seeded samples of the two splits (docs/benchmarks.md quotes the full splits)."""
    rng = np.random.default_rng(0)
    train, dev = from_scored(read_scored_pairs(sts_train)), from_scored(read_scored_pairs(sts_dev))
    train = train.subset(sorted(rng.choice(len(train), 1000, replace=False)), "sts-train sample")
    dev = dev.subset(sorted(rng.choice(len(dev), 500, replace=False)), "sts-dev sample")
    scorer = open_scorer(M, engine=lambda kind, model_id: Encoder(packaged_model))
    seen = []
    report = cached_calibration(scorer, train, dev, progress=lambda *args: seen.append(args))
    assert report.method == "isotonic" and report.n_fit == 1000 and report.n_held == 500
    assert report.after.ece <= 0.06 < report.before.ece
    assert report.after.brier < report.before.brier
    stages = [stage for stage, _, _ in seen]
    assert stages.index("held out") > stages.index("fit") and seen[-1][1] == seen[-1][2]  # fit, then held out
    threshold = report.threshold
    assert threshold.low <= threshold.threshold <= threshold.high and threshold.achieved >= 0.9
    passes = scorer.work_done
    assert cached_calibration(scorer, train, dev) is report and scorer.work_done == passes  # cached: not refitted
    assert cached_report(scorer, train, dev, "auto", 0.9) is report
    assert cached_report(scorer, train, dev, "platt", 0.9) is None


def test_a_cross_encoder_calibrates_the_same_way(cross_dir):
    from embedlab.models.cross import CrossScorer

    engine = CrossScorer(cross_dir, str(cross_dir))
    scorer = open_scorer(str(cross_dir), engine=lambda kind, model_id: engine)
    data = parse_labelled_data(LABELLED_CSV.encode(), "mine.csv")
    report = calibrate(scorer, data, data, "platt")
    assert report.score_name == scorer.score_name != "cosine"
    assert report.n_fit == 10 and sum(report.after.counts) == 10
    scores = scorer.score(data.pairs)
    probabilities = report.probability(scores)
    order = np.argsort(scores)
    assert np.all(np.diff(probabilities[order]) >= -1e-12)  # monotone in its own score, never reversed


# ---------------------------------------------------------------- command line


@pytest.fixture
def session_encoder(packaged_model, monkeypatch):
    monkeypatch.setattr(cli.common, "load_engine", lambda kind, model_id: Encoder(packaged_model))


@pytest.fixture
def labelled_file(tmp_path):
    path = tmp_path / "mine.csv"
    path.write_text(LABELLED_CSV, encoding="utf-8")
    return path


def one_line_error(capsys) -> str:
    out, err = capsys.readouterr()
    assert out == "" and len(err.strip().splitlines()) == 1, err
    return err


def test_calibrate_json_reports_before_after_and_threshold(session_encoder, labelled_file, tmp_path, capsys):
    held = tmp_path / "held.csv"
    held.write_text(LABELLED_CSV, encoding="utf-8")
    argv = ["calibrate", "--model", M, "--data", str(labelled_file), "--held-out", str(held), "--json"]
    assert cli.main([*argv, "--precision", "0.8"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["method"] == "platt" and report["fit"]["pairs"] == report["held_out"]["pairs"] == 10
    assert report["after"]["brier"] < report["before"]["brier"]
    assert sum(b["pairs"] for b in report["after"]["bins"]) == 10
    assert report["threshold"]["precision"] == 0.8 and report["threshold"]["achieved_precision"] >= 0.8


def test_calibrate_text_holds_pairs_out_of_one_file(session_encoder, tmp_path, capsys):
    path = tmp_path / "big.csv"
    path.write_text(LABELLED_CSV + "".join(LABELLED_CSV.splitlines(keepends=True)[1:]), encoding="utf-8")
    assert cli.main(["calibrate", "--model", M, "--data", str(path)]) == 0
    out = capsys.readouterr().out
    assert "30% held out" in out and "Brier" in out and "ECE" in out and "-> " in out


@pytest.mark.parametrize(
    ("content", "extra", "message"),
    [
        ("sentence1,sentence2\nA.,B.\n", [], "has no label column"),
        ("sentence1,sentence2,label\n", [], "has a header but no rows"),
        ("sentence1,sentence2,label\nA.,B.,1\n", ["--held-out", "SELF"], "has 1 pair"),
        ("sentence1,sentence2,label\nA.,B.,1\nC.,D.,1\nE.,F.,1\nG.,H.,1\n", ["--held-out", "SELF"], "every label"),
        (LABELLED_CSV, ["--precision", "1.5"], "--precision must be above 0"),
        (LABELLED_CSV, ["--method", "sigmoid"], "Unknown calibration method"),
    ],
)
def test_calibrate_bad_input_exits_2_with_one_line(tmp_path, capsys, content, extra, message):
    path = tmp_path / "bad.csv"
    path.write_text(content, encoding="utf-8")
    extra = [str(path) if part == "SELF" else part for part in extra]
    assert cli.main(["calibrate", "--model", M, "--data", str(path), *extra]) == 2  # before any model loads
    assert message in one_line_error(capsys)


def test_score_with_calibration_adds_a_probability_per_pair(session_encoder, labelled_file, capsys):
    assert cli.main(["score", str(labelled_file), "--model", M, "--json", "--calibration", str(labelled_file)]) == 0
    pairs = json.loads(capsys.readouterr().out)["pairs"]
    assert all(0.0 <= pair["probability"] <= 1.0 for pair in pairs)
    by_cosine = sorted(pairs, key=lambda pair: pair["cosine"])
    assert [p["probability"] for p in by_cosine] == sorted(p["probability"] for p in by_cosine)
    assert by_cosine[-1]["probability"] > by_cosine[0]["probability"]
    assert cli.main(["score", str(labelled_file), "--model", M, "--json"]) == 0
    assert "probability" not in json.loads(capsys.readouterr().out)["pairs"][0]


def test_score_with_a_calibration_file_without_labels_exits_2(labelled_file, tmp_path, capsys):
    unlabelled = tmp_path / "unlabelled.csv"
    unlabelled.write_text("sentence1,sentence2\nA.,B.\n", encoding="utf-8")
    assert cli.main(["score", str(labelled_file), "--model", M, "--calibration", str(unlabelled)]) == 2
    assert "unlabelled.csv has no label column" in one_line_error(capsys)
