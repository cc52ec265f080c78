"""Matryoshka as a wrapper over the chosen loss (``embedlab.training.matryoshka``): MatryoshkaLoss around cosine,
CoSENT or MNRL at the widths asked, measured before and after at each width (the STS Spearman of the first k
dimensions), on the tiny model (hidden size 32) for a few steps, through the runner and the command; and the
refusals for the losses it cannot wrap."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from embedlab.errors import EmbedLabError
from embedlab.training.compose import Composition, compose
from embedlab.training.data import read_training_file
from embedlab.training.matryoshka import AUTO, dims_text, parse_dims, widths
from embedlab.training.methods import CROSS_METHOD, DISTILL_METHOD, matryoshka_problem
from embedlab.training.report import score_rows
from embedlab.training.run import TrainSettings, make_loss, matryoshka_dims, train
from embedlab.training.script import python_script
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


def pairs_csv(folder):
    lines = ["sentence1,sentence2", *(f'"{a}","{b}"' for a, b, s in ROWS if s >= 4)]
    return write(folder, "pairs.csv", "\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def tiny(tiny_model_dir):
    """The tiny random model (hidden size 32), loaded once for this module."""
    from embedlab.models.loading import load_model

    return load_model(str(tiny_model_dir))


@pytest.fixture(scope="module")
def composed(tiny):
    return compose(Composition(tiny.facts.ref, pooling="mean", normalize=True), tiny)


@pytest.fixture(scope="module")
def run(tiny, tmp_path_factory):
    """CoSENT wrapped in MatryoshkaLoss at auto widths (32, 16), three steps."""
    from embedlab.tasks.sts import read_scored_pairs

    folder = tmp_path_factory.mktemp("matryoshka")
    path = scored_csv(folder)
    data = replace(read_training_file(path, "cosent"), matryoshka=AUTO)
    spec = Composition(tiny.facts.ref, pooling="mean", normalize=True)
    return train(spec, data, FAST, loaded=tiny, eval_pairs=read_scored_pairs(path))


def test_the_widths_are_the_full_one_then_those_asked_below_it_or_up_to_three_for_auto():
    class Width:
        def __init__(self, width):
            self.width = width

        def get_embedding_dimension(self):
            return self.width

    assert matryoshka_dims(Width(384)) == (384, 256, 128, 64)
    assert matryoshka_dims(Width(768)) == (768, 512, 256, 128)
    assert matryoshka_dims(Width(32)) == (32, 16)
    assert widths(384, (64, 256, 64, 384)) == (384, 256, 64)  # sorted, once each, the full width once
    assert parse_dims("auto") == parse_dims(" AUTO ") == AUTO and parse_dims("") is None
    assert parse_dims("256, 128,64") == (256, 128, 64)
    assert [dims_text(dims) for dims in (None, AUTO, (256, 64))] == ["", "auto", "256,64"]
    for typo in ("256;128", "0", "-8", "64.5", "99999", ",".join(map(str, range(1, 10)))):
        with pytest.raises(EmbedLabError, match="Matryoshka widths"):
            parse_dims(typo)


@pytest.mark.parametrize(
    ("method", "dims", "inner", "trained"),
    [
        ("cosent", AUTO, "CoSENTLoss", (32, 16)),
        ("cosine", (8,), "CosineSimilarityLoss", (32, 8)),
        ("mnrl", (16, 4), "MultipleNegativesRankingLoss", (32, 16, 4)),
        ("simcse", (32, 24), "MultipleNegativesRankingLoss", (32, 24)),
    ],
)
def test_the_loss_is_matryoshka_around_an_instance_of_the_chosen_loss_at_the_widths_asked(
    composed, method, dims, inner, trained
):
    from sentence_transformers.sentence_transformer import losses

    loss = make_loss(method, composed, dims)
    assert isinstance(loss, losses.MatryoshkaLoss)
    assert isinstance(loss.loss, getattr(losses, inner)) and not isinstance(loss.loss, losses.MatryoshkaLoss)
    assert loss.matryoshka_dims == trained and loss.model is composed and loss.loss.model is composed
    assert type(make_loss(method, composed)).__name__ == inner  # not asked: the loss as it is


def test_losses_it_cannot_wrap_and_widths_too_wide_are_refused_in_words(composed):
    with pytest.raises(EmbedLabError, match="TSDAE decodes the sentence from its whole embedding"):
        make_loss("tsdae", composed, AUTO)
    with pytest.raises(EmbedLabError, match=r"Matryoshka widths 64 are wider than the embedding \(32 dimensions\)"):
        make_loss("cosent", composed, (64, 16))
    cross = matryoshka_problem(CROSS_METHOD, AUTO)
    assert "cross-encoder outputs one score per pair" in cross and "Choose cosine, cosent, mnrl or simcse" in cross
    assert "static model is distilled" in matryoshka_problem(DISTILL_METHOD, (64,))
    assert "TSDAE" in matryoshka_problem("tsdae", AUTO)
    assert all(matryoshka_problem(method, None) is None for method in ("tsdae", CROSS_METHOD, DISTILL_METHOD))
    dense = Composition("m", dense_out=16)  # the Dense layer's size is the embedding's width, not the backbone's
    assert "wider than the embedding (16 dimensions)" in matryoshka_problem("mnrl", (24, 8), dense, hidden_size=32)
    assert matryoshka_problem("mnrl", (16, 8), dense, hidden_size=32) is None
    assert matryoshka_problem("mnrl", (24, 8), Composition("m"), hidden_size=32) is None
    assert "wider than the embedding (16" in matryoshka_problem("mnrl", (24,), dense)  # known before any load
    assert matryoshka_problem("mnrl", (64,), Composition("m")) is None  # the backbone's width: known once loaded


def test_a_run_given_widths_too_wide_stops_before_measuring(tiny, tmp_path, monkeypatch):
    """What a queued run gets when the command could not check the width (the model was not loaded yet)."""
    from embedlab.training import run as runner

    def never(*args, **kwargs):
        raise AssertionError("measured a run that cannot train")

    monkeypatch.setattr(runner, "measure", never)
    data = replace(read_training_file(scored_csv(tmp_path), "cosent"), matryoshka=(64, 16))
    with pytest.raises(EmbedLabError, match=r"Matryoshka widths 64 are wider than the embedding \(32 dimensions\)"):
        train(Composition(tiny.facts.ref, pooling="mean"), data, FAST, loaded=tiny)


def test_a_matryoshka_run_trains_and_reports_spearman_per_width_before_and_after(run):
    from sentence_transformers.sentence_transformer.losses import CoSENTLoss, MatryoshkaLoss

    assert run.steps == 3 and all(np.isfinite(loss) for _, loss in run.losses)
    assert run.method == "cosent" and run.data.method_label == "cosent+matryoshka"
    assert run.data.loss_name == "MatryoshkaLoss(CoSENTLoss)"
    loss = make_loss(run.method, run.model, run.data.matryoshka)
    assert isinstance(loss, MatryoshkaLoss) and isinstance(loss.loss, CoSENTLoss)
    for scores in (run.before, run.after):
        assert [k for k, _ in scores.by_dims] == [32, 16]
        assert dict(scores.by_dims)[32] == pytest.approx(scores.spearman)  # the full width is the plain number
    assert run.before.by_dims != run.after.by_dims  # trained: the truncations' numbers moved
    rows = score_rows(run.before, run.after)
    assert rows[1][0] == "STS Spearman x 100, first 16 dimensions"
    assert rows[1][1:] == tuple(f"{dict(s.by_dims)[16]:.1f}" for s in (run.before, run.after))
    assert json.loads(json.dumps(run.after.as_dict()))["by_dims"].keys() == {"32", "16"}


def test_a_queued_run_keeps_its_widths_and_its_record_the_numbers_the_page_shows_per_width(run):
    import pickle

    from sentence_transformers.sentence_transformer.losses import CoSENTLoss, MatryoshkaLoss

    from components.train.train_results import before_after_table
    from embedlab.training.methods import training_method
    from embedlab.training.queue.records import JobRecord, TrainRequest

    request = pickle.loads(pickle.dumps(TrainRequest(run.composition, run.data, FAST, save_to="m")))  # as queued
    assert request.method == "cosent" and request.method_label == "cosent+matryoshka"
    loss = training_method(request.method, request.composition, request.data).loss(run.model)  # as a worker builds it
    assert isinstance(loss, MatryoshkaLoss) and isinstance(loss.loss, CoSENTLoss) and loss.matryoshka_dims == (32, 16)
    record = JobRecord(
        id="a", seq=1, name="m", method="cosent+matryoshka", created=1.0, before=run.before, after=run.after
    )
    stored = JobRecord.model_validate_json(record.model_dump_json())
    assert stored.before.by_dims == run.before.by_dims and stored.after.by_dims == run.after.by_dims
    table = before_after_table(stored.before, stored.after)
    (row,) = table[table["measure"] == "STS Spearman x 100, first 16 dimensions"].itertuples(index=False)
    assert (row.before, row.after) == tuple(f"{dict(s.by_dims)[16]:.1f}" for s in (run.before, run.after))


def test_the_saved_facts_and_card_name_the_wrapped_loss_and_its_widths(run, tmp_path):
    from embedlab.training.save import CARD_FILE, FACTS_FILE, save_trained

    folder = save_trained(run, tmp_path / "saved")
    facts = json.loads((folder / FACTS_FILE).read_text(encoding="utf-8"))
    assert facts["method"] == "cosent" and facts["loss"] == "MatryoshkaLoss(CoSENTLoss)"
    assert facts["matryoshka_dims"] == [32, 16] and facts["after"]["by_dims"].keys() == {"32", "16"}
    card = (folder / CARD_FILE).read_text(encoding="utf-8")
    assert "loss: MatryoshkaLoss(CoSENTLoss) at widths 32, 16" in card
    assert "| STS Spearman x 100, first 16 dimensions |" in card


def test_the_generated_script_wraps_the_chosen_loss_and_its_lines_build_the_same_loss(composed):
    from sentence_transformers.sentence_transformer import losses

    spec = Composition("all-MiniLM-L6-v2")
    assert "MatryoshkaLoss" not in python_script(spec, "mnrl", FAST)
    for dims, expected in ((AUTO, (32, 16)), ((16, 8, 64), (32, 16, 8))):
        code = python_script(spec, "mnrl", FAST, matryoshka=dims)
        compile(code, "train.py", "exec")
        start = code.index("loss = losses.MultipleNegativesRankingLoss(model)")
        snippet = code[start : code.index("args = SentenceTransformerTrainingArguments(")]
        scope = {"losses": losses, "model": composed}
        exec(snippet, scope)  # noqa: S102 - the script's own loss lines, on the tiny model
        assert isinstance(scope["loss"].loss, losses.MultipleNegativesRankingLoss)
        assert scope["loss"].matryoshka_dims == expected


def test_train_command_wraps_mnrl_and_reports_each_width_before_and_after(tiny_model_dir, tmp_path, capsys):
    from embedlab.cli import main

    scored, pairs = scored_csv(tmp_path), pairs_csv(tmp_path)
    argv = ["train", str(pairs), "--model", str(tiny_model_dir), "--method", "mnrl", "--pooling", "mean"]
    argv += ["--matryoshka-dims", "16,8", "--max-steps", "2", "--batch-size", "4", "--eval", str(scored)]
    assert main([*argv, "--out", str(tmp_path / "m"), "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["method"] == "mnrl" and payload["loss"] == "MatryoshkaLoss(MultipleNegativesRankingLoss)"
    assert payload["matryoshka_dims"] == [32, 16, 8]
    assert payload["before"]["by_dims"].keys() == payload["after"]["by_dims"].keys() == {"32", "16", "8"}
    facts = json.loads((tmp_path / "m" / "training.json").read_text(encoding="utf-8"))
    assert facts["matryoshka_dims"] == [32, 16, 8]


def test_train_command_prints_each_width_of_the_wrapped_cosine_loss(tiny_model_dir, tmp_path, capsys):
    from embedlab.cli import main

    scored = scored_csv(tmp_path)
    argv = ["train", str(scored), "--model", str(tiny_model_dir), "--method", "cosine", "--pooling", "mean"]
    argv += ["--matryoshka-dims", "8", "--max-steps", "2", "--batch-size", "4", "--eval", str(scored)]
    assert main([*argv, "--out", str(tmp_path / "m")]) == 0
    captured = capsys.readouterr()
    assert "training cosine+matryoshka (MatryoshkaLoss(CosineSimilarityLoss))" in captured.err
    printed = captured.out.splitlines()
    assert "MatryoshkaLoss(CosineSimilarityLoss) at widths 32, 8: truncate to any of them" in printed
    for k in (32, 8):
        (line,) = [line for line in printed if line.startswith(f"STS Spearman, first {k} dims ")]
        before, after = (float(value) for value in line.split()[-3::2])
        assert np.isfinite([before, after]).all()


@pytest.mark.parametrize(
    ("method", "dims", "said"),
    [
        (CROSS_METHOD, "auto", "cross-encoder outputs one score per pair"),
        ("tsdae", "auto", "TSDAE decodes the sentence from its whole embedding"),
        ("cosent", "16;8", "Matryoshka widths: '16;8' is not a width"),
        ("cosent", "64,16", "Matryoshka widths 64 are wider than the embedding (32 dimensions)"),
    ],
)
def test_train_command_refuses_what_matryoshka_cannot_wrap_before_training(
    tiny_model_dir, tmp_path, capsys, method, dims, said
):
    from embedlab.cli import main

    path = scored_csv(tmp_path)
    argv = ["train", str(path), "--model", str(tiny_model_dir), "--method", method, "--matryoshka-dims", dims]
    assert main([*argv, "--max-steps", "1", "--out", str(tmp_path / "m")]) != 0
    captured = capsys.readouterr()
    assert said in captured.err and "step 1/" not in captured.err
    assert not (tmp_path / "m").exists()


def test_train_help_offers_the_wrapper(capsys):
    from embedlab.cli import main

    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--matryoshka-dims DIMS" in text and "MatryoshkaLoss" in text and "matryoshka:" not in text
