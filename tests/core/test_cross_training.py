"""Training a cross-encoder (the pair classifier on [CLS]): the library's trainer, a folder CrossEncoder(dir) loads,
and scores in the app equal to its predict."""

from __future__ import annotations

import json
import math
import threading

import numpy as np
import pytest

from embedlab.errors import EmbedLabError
from embedlab.models.cross import CrossScorer, is_cross_encoder_folder
from embedlab.tasks.sts import bundled_pairs
from embedlab.training.cross import pair_columns, save_cross, train_cross_encoder
from embedlab.training.data import from_scored, from_sentences
from embedlab.training.run import TrainSettings

PAIRS = [("How old are you?", "What is your age?"), ("A man plays a guitar.", "The volcano erupted overnight.")]


@pytest.fixture(scope="module")
def scored():
    pairs = bundled_pairs()
    return from_scored(pairs.sentence1, pairs.sentence2, pairs.gold, "cosine", "bundled")


def test_a_short_run_saves_a_folder_crossencoder_loads_and_the_app_scores_alike(tiny_model_dir, scored, tmp_path):
    from sentence_transformers import CrossEncoder

    reports = []
    result = train_cross_encoder(
        "tiny",
        scored,
        TrainSettings(max_steps=3, batch_size=4, precision="fp32"),
        progress=reports.append,
        measure_before_after=False,
        start_folder=str(tiny_model_dir),
    )
    assert result.steps == 3 and not result.stopped and [r.step for r in reports][-1] == 3
    assert [step for step, _ in result.losses] == [1, 2, 3]
    folder = save_cross(result, tmp_path / "ce")
    assert is_cross_encoder_folder(folder) and (folder / "training.json").is_file()
    assert json.loads((folder / "training.json").read_text())["method"] == "cross-encoder"
    expected = CrossEncoder(str(folder), device="cpu").predict(PAIRS)
    np.testing.assert_allclose(CrossScorer(folder).score(PAIRS), expected, atol=1e-5)
    with pytest.raises(EmbedLabError, match="already exists"):
        save_cross(result, folder)


def test_stop_ends_the_run_after_the_current_step(tiny_model_dir, scored):
    stop = threading.Event()

    def progress(report):
        if report.step >= 1:
            stop.set()

    result = train_cross_encoder(
        "tiny",
        scored,
        TrainSettings(max_steps=50, batch_size=2, precision="fp32"),
        progress=progress,
        stop=stop,
        measure_before_after=False,
        start_folder=str(tiny_model_dir),
    )
    assert result.stopped and result.steps < 50


def test_before_and_after_are_measured_from_scores(tiny_model_dir, scored):
    result = train_cross_encoder(
        "tiny",
        scored,
        TrainSettings(max_steps=2, batch_size=4, precision="fp32"),
        eval_pairs=bundled_pairs(),
        start_folder=str(tiny_model_dir),
    )
    for scores in (result.before, result.after):
        assert scores.spearman is None or -100 <= scores.spearman <= 100
        assert 0 <= scores.baseline_mean <= 1 and scores.baseline_mean <= scores.baseline_p95 <= 1  # sigmoid scores
        # a random tiny head scores every pair about 0.5: float32 noise, so its AUC is undefined (NaN), not a number
        assert (math.isnan(scores.negtest_auc) or 0 <= scores.negtest_auc <= 1) and scores.negtest_pairs > 0


def test_plain_sentences_cannot_train_a_cross_encoder():
    data = from_sentences(["One sentence.", "Another one.", "A third."], "simcse", "typed")
    with pytest.raises(EmbedLabError, match="score per pair"):
        pair_columns(data)


def test_the_train_command_trains_and_saves_a_cross_encoder(tiny_model_dir, tmp_path, capsys):
    from sentence_transformers import CrossEncoder

    from embedlab import cli
    from tests.helpers import write

    rows = "\n".join(f"A sentence {i}.\tAnother sentence {i % 3}.\t{i % 6}" for i in range(12))
    data = write(tmp_path, "pairs.tsv", "sentence1\tsentence2\tscore\n" + rows + "\n")
    out = tmp_path / "ce-out"
    argv = ["train", str(data), "--model", str(tiny_model_dir), "--method", "cross-encoder", "--max-steps", "2"]
    assert cli.main([*argv, "--batch-size", "4", "--out", str(out), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["kind"] == "cross-encoder" and printed["steps"] == 2 and printed["examples"] == 12
    assert is_cross_encoder_folder(out)
    np.testing.assert_allclose(
        CrossScorer(out).score(PAIRS), CrossEncoder(str(out), device="cpu").predict(PAIRS), atol=1e-5
    )


@pytest.mark.parametrize(
    ("extra", "expected"),
    [(["--pooling", "mean"], "pooling mean cannot apply"), (["--dense", "8"], "a Dense layer cannot"), ([], "bundled")],
)
def test_the_train_command_refuses_what_a_cross_encoder_cannot_use(extra, expected, tmp_path, capsys):
    from embedlab import cli
    from tests.helpers import one_line_error

    argv = [
        "train",
        "bundled",
        "--model",
        "all-MiniLM-L6-v2",
        "--method",
        "cross-encoder",
        "--out",
        str(tmp_path / "x"),
    ]
    assert cli.main([*argv, *extra]) == 2
    assert expected in one_line_error(capsys)
