"""The canary: a model whose scores carry no signal is flagged (untrained control, a cross-encoder's random head,
NaN or constant scores), the packaged model is not; `negtest --canary` exits 3 or 0 and says what it saw."""

from __future__ import annotations

import json

import numpy as np
import pytest

from embedlab import cli
from embedlab.embedding.baseline import Baseline
from embedlab.embedding.encoder import Encoder
from embedlab.models.loading import PACKAGED, UNTRAINED
from embedlab.scorers.registry import open_scorer
from embedlab.tasks.canary import MIN_PARAPHRASE_AUC, judge_canary, paraphrase_pairs, run_canary

EASY = (
    "sentence1,sentence2,label\n"
    "What is your age?,How old are you?,1\n"
    "How do I reset my password?,Volcanoes form where tectonic plates meet.,0\n"
)


def baseline_of(scores) -> Baseline:
    values = np.sort(np.asarray(scores, dtype=np.float64))
    return Baseline(float(np.mean(values)), float(np.percentile(values, 95)), len(values), values)


@pytest.fixture(scope="module")
def engines(packaged_model, untrained_model) -> dict[str, Encoder]:
    return {PACKAGED: Encoder(packaged_model), UNTRAINED: Encoder(untrained_model)}


@pytest.fixture
def shared_engines(engines, monkeypatch):
    """In-process commands reuse the module's encoders (their caches spare the random pairs after the first run)."""
    monkeypatch.setattr(cli.common, "load_engine", lambda kind, model_id: engines[model_id.key])


def run_cli(argv: list[str]) -> int:
    try:
        return cli.main(argv)
    except SystemExit as exit_:
        return int(exit_.code)


# ---------------------------------------------------------------- the verdict on given scores


def test_nan_constant_and_noise_scores_are_flagged():
    random_scores = np.linspace(0.0, 0.3, 50)
    nan = judge_canary("m", "cosine", [0.8, np.nan, 0.9], baseline_of(random_scores))
    assert not nan.passed and nan.saw.startswith("no signal: 1 of its 53 scores") and "NaN" in nan.saw
    constant = judge_canary("m", "score", [0.5, 0.5], baseline_of(np.full(40, 0.5)))
    assert not constant.passed and "every pair scores exactly the same" in constant.saw
    noise = judge_canary("m", "cosine", [0.999991, 0.999992], baseline_of(0.99999 + np.linspace(0, 2e-6, 40)))
    assert not noise.passed and "rounding noise" in noise.saw
    assert np.isnan(nan.auc) and nan.as_dict()["auc"] is None


def test_paraphrases_must_beat_nearly_all_random_pairs():
    random_scores = np.linspace(0.0, 1.0, 101)
    good = judge_canary("m", "cosine", [0.995, 0.999], baseline_of(random_scores))
    assert good.passed and good.auc >= MIN_PARAPHRASE_AUC and good.saw.startswith("signal: ")
    weak = judge_canary("m", "cosine", [0.6, 0.7], baseline_of(random_scores))  # beat about 65% of random pairs
    assert not weak.passed and "beat only 65% of its random pairs" in weak.saw
    assert weak.as_dict()["passed"] is False and weak.as_dict()["auc"] == pytest.approx(weak.auc, abs=1e-4)


def test_paraphrase_pairs_come_from_the_bundled_suite():
    pairs = paraphrase_pairs()
    assert len(pairs) >= 10 and ("What is your age?", "How old are you?") not in pairs
    assert all(first != second for first, second in pairs)


# ---------------------------------------------------------------- real models, through the scorer interface


def test_the_canary_separates_the_untrained_control_from_the_packaged_model(engines):
    trained = run_canary(open_scorer(PACKAGED, engine=lambda kind, model_id: engines[PACKAGED]))
    control = run_canary(open_scorer(UNTRAINED, engine=lambda kind, model_id: engines[UNTRAINED]))
    assert trained.passed and trained.auc > 0.99
    assert not control.passed and control.auc < MIN_PARAPHRASE_AUC
    assert "its paraphrase pairs beat only" in control.saw
    # the control's random pairs score high: everything looks alike to it
    assert control.baseline.mean > 0.8 > trained.baseline.mean


# ---------------------------------------------------------------- negtest --canary


def test_negtest_canary_exits_3_for_the_control_and_names_what_it_saw(shared_engines, capsys):
    assert run_cli(["negtest", "--canary", "--model", UNTRAINED]) == 3
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    assert out.startswith(f"canary: {UNTRAINED}") and "no signal: its paraphrase pairs beat only" in out
    assert run_cli(["negtest", "--canary", "--model", UNTRAINED, "--json"]) == 3
    report = json.loads(capsys.readouterr().out)["canary"]
    assert report["passed"] is False and report["random_mean"] > 0.8


def test_negtest_canary_exits_0_for_the_packaged_model_and_goes_on_to_the_file(shared_engines, tmp_path, capsys):
    assert run_cli(["negtest", "--canary", "--model", PACKAGED]) == 0
    assert "signal: its paraphrase pairs beat" in capsys.readouterr().out
    pairs = tmp_path / "pairs.csv"
    pairs.write_text(EASY, encoding="utf-8")
    assert run_cli(["negtest", str(pairs), "--canary", "--model", PACKAGED, "--json"]) == 0
    captured = capsys.readouterr()
    result = json.loads(captured.out)
    assert result["canary"]["passed"] is True and len(result["pairs"]) == 2
    assert captured.err.startswith("canary: signal")


def test_negtest_without_file_or_canary_exits_2(capsys):
    assert run_cli(["negtest", "--model", PACKAGED]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "needs FILE" in err
