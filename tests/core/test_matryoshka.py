"""The ``matryoshka`` method: MatryoshkaLoss around CoSENT, measured before and after at each width it trains (the
STS Spearman of the first k dimensions), on the tiny model for a few steps, through the runner and the command."""

from __future__ import annotations

import json

import numpy as np
import pytest

from embedlab.training.compose import Composition
from embedlab.training.data import read_training_file
from embedlab.training.report import score_rows
from embedlab.training.run import TrainSettings, matryoshka_dims, train
from tests.helpers import write

ROWS = [
    ("A man is playing a guitar.", "A man plays the guitar.", 4.8),
    ("A woman is slicing onions.", "A woman cuts an onion.", 4.2),
    ("A dog runs in the park.", "A cat sleeps on the sofa.", 0.6),
    ("The stock market fell today.", "Shares dropped sharply today.", 3.9),
    ("Kids are playing football.", "Children play soccer outside.", 4.0),
    ("A plane is taking off.", "A man is eating pasta.", 0.2),
    ("He reads a book.", "He is reading a novel.", 4.1),
    ("The sun is shining.", "It is raining heavily.", 1.0),
]
FAST = TrainSettings(max_steps=3, batch_size=4, learning_rate=1e-3, warmup_ratio=0.0)


def scored_csv(folder):
    lines = ["sentence1,sentence2,score", *(f'"{a}","{b}",{s}' for a, b, s in ROWS)]
    return write(folder, "scored.csv", "\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def tiny(tiny_model_dir):
    """The tiny random model (hidden size 32), loaded once for this module."""
    from embedlab.models.loading import load_model

    return load_model(str(tiny_model_dir))


@pytest.fixture(scope="module")
def run(tiny, tmp_path_factory):
    from embedlab.tasks.sts import read_scored_pairs

    folder = tmp_path_factory.mktemp("matryoshka")
    path = scored_csv(folder)
    data = read_training_file(path, "matryoshka")
    spec = Composition(tiny.facts.ref, pooling="mean", normalize=True)
    return train(spec, data, FAST, loaded=tiny, eval_pairs=read_scored_pairs(path))


def test_the_widths_are_the_full_one_and_up_to_three_below_it():
    class Width:
        def __init__(self, width):
            self.width = width

        def get_embedding_dimension(self):
            return self.width

    assert matryoshka_dims(Width(384)) == (384, 256, 128, 64)
    assert matryoshka_dims(Width(768)) == (768, 512, 256, 128)
    assert matryoshka_dims(Width(32)) == (32, 16)


def test_a_matryoshka_run_trains_and_reports_spearman_per_width_before_and_after(run):
    from sentence_transformers.sentence_transformer.losses import MatryoshkaLoss

    from embedlab.training.run import make_loss

    assert run.steps == 3 and all(np.isfinite(loss) for _, loss in run.losses)
    assert isinstance(make_loss("matryoshka", run.model), MatryoshkaLoss)
    for scores in (run.before, run.after):
        assert [k for k, _ in scores.by_dims] == [32, 16]
        assert dict(scores.by_dims)[32] == pytest.approx(scores.spearman)  # the full width is the plain number
    assert run.before.by_dims != run.after.by_dims  # trained: the truncations' numbers moved
    rows = score_rows(run.before, run.after)
    assert rows[1][0] == "STS Spearman x 100, first 16 dimensions"
    assert rows[1][1:] == tuple(f"{dict(s.by_dims)[16]:.1f}" for s in (run.before, run.after))
    assert json.loads(json.dumps(run.after.as_dict()))["by_dims"].keys() == {"32", "16"}


def test_train_command_prints_each_width_before_and_after(tiny_model_dir, tmp_path, capsys):
    from embedlab.cli import main

    path = scored_csv(tmp_path)
    argv = ["train", str(path), "--model", str(tiny_model_dir), "--method", "matryoshka", "--pooling", "mean"]
    argv += ["--max-steps", "2", "--batch-size", "4", "--eval", str(path), "--out", str(tmp_path / "m"), "--json"]
    assert main(argv) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["method"] == "matryoshka"
    assert payload["before"]["by_dims"].keys() == payload["after"]["by_dims"].keys() == {"32", "16"}
    facts = json.loads((tmp_path / "m" / "training.json").read_text(encoding="utf-8"))
    assert "by_dims" in json.dumps(facts)
