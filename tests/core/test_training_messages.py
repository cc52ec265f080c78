"""What the training engine, its command and the Train page say: each message names the real problem, numbers
follow one rounding rule (Spearman x 100 with one decimal, cosines with the same digits in text and metric, counts
as integers)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from embedlab import cli
from embedlab.embedding.scoring import Baseline
from embedlab.embedding.specs import EmbedSpec
from embedlab.errors import EmbedLabError
from embedlab.models.names import UNTRAINED
from embedlab.training.data import read_training_file
from embedlab.training.run import Scores, TrainSettings
from embedlab.training.save import FACTS_FILE, read_training_facts
from tests.helpers import one_line_error, write

SENTENCES = "\n".join(f"Sentence number {i} is about topic {i % 3}." for i in range(6))


@pytest.mark.parametrize(
    ("text", "method"),
    [
        ("sentence1,sentence2,score\nA cat sleeps.,A kitten naps.,4.5\n", "cosine"),
        ("sentence1,sentence2,score\nA cat sleeps.,A kitten naps.,4.5\n", "cosent"),
        ("sentence1,sentence2\nA cat sleeps.,A kitten naps.\n", "mnrl"),
    ],
)
def test_a_one_row_training_file_says_what_training_needs(text, method, tmp_path):
    with pytest.raises(EmbedLabError) as error:
        read_training_file(write(tmp_path, "one.csv", text), method)
    assert "training needs at least 2" in str(error.value) and "correlation" not in str(error.value)


def test_a_folder_given_as_training_data_is_called_a_folder(tmp_path, capsys):
    with pytest.raises(EmbedLabError, match="is a folder: give the path of a file in it"):
        read_training_file(tmp_path, "simcse")
    data = tmp_path / "data"
    data.mkdir()
    args = ["train", str(data), "--model", UNTRAINED, "--method", "simcse", "--out", str(tmp_path / "out")]
    assert cli.main(args) == 2
    assert "is a folder" in one_line_error(capsys)


@pytest.mark.parametrize("option", [["--lr", "-1e-5"], ["--lr=-1e-5"], ["--lr", "-0.001"]])
def test_a_negative_learning_rate_parses_and_is_refused_with_a_reason(option, tmp_path, capsys):
    text = write(tmp_path, "s.txt", SENTENCES)
    args = ["train", str(text), "--model", UNTRAINED, "--method", "simcse", "--out", str(tmp_path / "o"), *option]
    assert cli.main(args) == 2
    assert "learning rate must be positive" in one_line_error(capsys)
    with pytest.raises(EmbedLabError, match="learning rate must be positive"):
        TrainSettings(learning_rate=0.0)


def test_negative_test_failures_are_shown_as_whole_numbers_beside_decimals():
    from components.train.train_results import before_after_table

    table = before_after_table(Scores(79.73, 0.51, 0.62, 0.81, 39, 78), Scores(85.04, 0.3, 0.4, 0.9, 38, 78))
    failures = table[table["measure"].str.startswith("negative-test failures")].iloc[0]
    assert (failures["before"], failures["after"]) == ("39", "38")
    spearman = table[table["measure"] == "STS Spearman x 100"].iloc[0]
    assert (spearman["before"], spearman["after"]) == ("79.7", "85.0")


def test_a_saved_models_spearman_is_read_with_one_decimal(tmp_path):
    older = {"before": {"spearman": 79.7328}, "after": {"spearman": 85.0449}, "method": "cosine"}
    write(tmp_path, FACTS_FILE, json.dumps(older))
    facts = read_training_facts(tmp_path)
    assert facts["before"]["spearman"] == 79.7 and facts["after"]["spearman"] == 85.0
    write(tmp_path, FACTS_FILE, "[1, 2]")  # not a facts object: not a model saved here
    assert read_training_facts(tmp_path) is None


def test_the_lessons_text_gives_a_cosine_with_the_digits_of_its_metric():
    from embedlab.tasks.lesson import PairScores, cls_text

    cosines = np.linspace(0.55, 0.75, 200)
    random_pairs = Baseline(float(cosines.mean()), float(np.percentile(cosines, 95)), len(cosines), np.sort(cosines))
    scores = PairScores(EmbedSpec(UNTRAINED, "cls", "-1"), 0.9991, 0.9947, random_pairs)
    text = cls_text(scores)
    shown_metric = f"{scores.unrelated:.3f}"  # components/lesson/lesson_view.py's metric
    assert shown_metric == "0.995" and f"unrelated {shown_metric}" in text
    assert "unrelated 0.99)" not in text and "Both pairs score at least 0.994" in text
