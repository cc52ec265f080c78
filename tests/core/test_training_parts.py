"""The engine parts the Train page reads: the limits, the method check, the before/after rows, free names and the
save that never throws a run away, the pair filter, the stop phase of a job, the STS benchmark's paths."""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest

from embedlab import corpora
from embedlab.errors import EmbedLabError
from embedlab.models.loading import load_model
from embedlab.training import ranges
from embedlab.training.compose import Composition, compose, method_problem
from embedlab.training.data import from_sentences
from embedlab.training.folders import free_folder, free_name, is_taken, save_where_free
from embedlab.training.report import score_rows
from embedlab.training.run import Scores, TrainSettings, make_loss, text_pairs, train
from embedlab.training.save import model_card
from tests.helpers import write

SENTENCES = [f"Sentence number {n} is about topic {n % 3}." for n in range(8)]


@pytest.fixture(scope="module")
def tiny(tiny_model_dir: Path):
    """The tiny random model (hidden size 32), loaded once for this module. Shared: never mutated."""
    return load_model(str(tiny_model_dir))


# ---------------------------------------------------------------- limits


@pytest.mark.parametrize(
    ("field", "limit"),
    [
        ("epochs", ranges.EPOCHS),
        ("max_steps", ranges.MAX_STEPS),
        ("batch_size", ranges.BATCH_SIZE),
        ("learning_rate", ranges.LEARNING_RATE),
        ("warmup_ratio", ranges.WARMUP_RATIO),
        ("eval_every", ranges.EVAL_EVERY),
    ],
)
def test_train_settings_accept_exactly_the_limits(field, limit):
    low, high = limit
    for value in (low, high):
        assert getattr(TrainSettings(**{field: value}), field) == value
    below = low / 2 if isinstance(low, float) and low > 0 else low - 1
    above = high * 2
    for value in (below, above):
        with pytest.raises(EmbedLabError, match=ranges.span(limit).replace(".", r"\.")):
            TrainSettings(**{field: value})


def test_epochs_nan_is_refused():
    with pytest.raises(EmbedLabError, match="epochs"):
        TrainSettings(epochs=math.nan)


@pytest.mark.parametrize(
    ("field", "limit"), [("dense_out", ranges.DENSE_OUT), ("max_seq_length", ranges.MAX_SEQ_LENGTH)]
)
def test_composition_accepts_exactly_the_limits(field, limit):
    low, high = limit
    for value in (low, high):
        assert getattr(Composition("m", **{field: value}), field) == value
    for value in (low - 1, high + 1):
        with pytest.raises(EmbedLabError, match=ranges.span(limit)):
            Composition("m", **{field: value})


# ---------------------------------------------------------------- a method the composition cannot train


def test_tsdae_with_a_dense_layer_is_refused_before_the_run_as_the_loss_would_refuse_it(tiny):
    hidden = tiny.facts.hidden_size
    dense = Composition(tiny.facts.ref, dense_out=8)
    problem = method_problem(dense, "tsdae", hidden)
    assert problem is not None and "remove the Dense layer" in problem and f"({hidden})" in problem
    with pytest.raises(EmbedLabError, match="remove the Dense layer"):  # what the run would hit 20 s later
        make_loss("tsdae", compose(dense, tiny))
    assert method_problem(Composition(tiny.facts.ref), "tsdae", hidden) is None
    assert method_problem(Composition(tiny.facts.ref, dense_out=hidden), "tsdae", hidden) is None
    for method in ("cosine", "cosent", "mnrl", "pitfall-random-labels", "simcse"):
        assert method_problem(dense, method, hidden) is None


# ---------------------------------------------------------------- before/after rows


def test_score_rows_format_each_measure_and_the_model_card_uses_them():
    before = Scores(None, 0.61234, 0.8, 0.75, 3, 40)
    after = Scores(84.06, 0.1, 0.25, 0.9, 1, 40)
    rows = score_rows(before, after)
    assert rows == [
        ("STS Spearman x 100", "n/a", "84.1"),
        ("random-pair cosine, mean", "0.612", "0.100"),
        ("random-pair cosine, 95th percentile", "0.800", "0.250"),
        ("negative-test suite ROC AUC", "0.750", "0.900"),
        ("negative-test failures (of 40)", "3", "1"),
    ]

    class Result:  # what model_card reads of a TrainResult
        composition = Composition("m")
        data = from_sentences(SENTENCES, "simcse", "s")
        settings = TrainSettings(max_steps=2)
        steps, total_steps, seconds, stopped, precision, eval_name = 2, 2, 1.0, False, "fp32", None

    Result.before, Result.after = before, after
    card = model_card(Result(), "x")
    assert all(f"| {measure} | {first} | {second} |" in card for measure, first, second in rows)


# ---------------------------------------------------------------- free names, and a save that never discards


def test_free_name_skips_folders_that_are_taken_but_not_empty_ones(tmp_path):
    assert free_name("cosine-cls", tmp_path) == "cosine-cls"
    (tmp_path / "cosine-cls").mkdir()
    assert free_name("cosine-cls", tmp_path) == "cosine-cls"  # an empty folder is no model: saving there works
    write(tmp_path / "cosine-cls", "modules.json", "[]")
    write(tmp_path, "cosine-cls-2", "a file, not a folder")
    assert is_taken(tmp_path / "cosine-cls") and is_taken(tmp_path / "cosine-cls-2")
    assert free_name("cosine-cls", tmp_path) == "cosine-cls-3"
    assert free_folder(tmp_path / "cosine-cls") == tmp_path / "cosine-cls-3"
    assert free_folder(tmp_path / "other") == tmp_path / "other"


def test_free_name_defaults_to_the_models_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("EMBEDLAB_MODELS_DIR", str(tmp_path))
    (tmp_path / "run").mkdir()
    write(tmp_path / "run", "x", "x")
    assert free_name("run") == "run-2"


def test_a_name_taken_while_the_run_trained_gets_the_next_free_name_and_the_model_is_kept(tiny, tmp_path):
    data = from_sentences(SENTENCES, "simcse", "s")
    settings = TrainSettings(max_steps=1, batch_size=4, warmup_ratio=0.0)
    result = train(Composition(tiny.facts.ref), data, settings, loaded=tiny, measure_before_after=False)
    target = tmp_path / "mine"
    assert save_where_free(result, target) == target and (target / "modules.json").is_file()
    taken = tmp_path / "taken"
    taken.mkdir()
    write(taken, "someone-else.txt", "keep me")
    saved = save_where_free(result, taken)
    assert saved == tmp_path / "taken-2" and (saved / "modules.json").is_file()
    assert os.listdir(taken) == ["someone-else.txt"]  # what was there is untouched


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_a_saved_model_has_the_usual_modes_of_its_directory_so_other_users_and_machines_can_load_it(
    umask, tiny, tiny_model_dir, tmp_path
):
    """Folders as a plain mkdir makes them, files as a plain open does, under the umask in force (the weights were
    written owner-only, 0600, in a 0700 folder). Tests run as root: the mode bits are checked, not access."""
    from embedlab.training.cross import save_cross, train_cross_encoder
    from embedlab.training.data import from_scored
    from embedlab.training.save import save_trained

    settings = TrainSettings(max_steps=1, batch_size=4, warmup_ratio=0.0, precision="fp32")
    embedder = train(
        Composition(tiny.facts.ref),
        from_sentences(SENTENCES, "simcse", "s"),
        settings,
        loaded=tiny,
        measure_before_after=False,
    )
    pairs = from_scored(SENTENCES[:4], SENTENCES[4:], [0.0, 1.5, 3.0, 4.5], "cosine", "s")
    cross = train_cross_encoder("tiny", pairs, settings, measure_before_after=False, start_folder=str(tiny_model_dir))
    previous = os.umask(umask)
    try:
        folders = [
            save_trained(embedder, tmp_path / "models" / "embedder"),
            save_cross(cross, tmp_path / "models" / "ce"),
        ]
    finally:
        os.umask(previous)
    for folder in folders:
        modes = {str(path.relative_to(folder)): path.stat().st_mode & 0o777 for path in folder.rglob("*")}
        assert folder.stat().st_mode & 0o777 == 0o777 & ~umask
        assert any(name.endswith(".safetensors") for name in modes)
        assert {name: mode for name, mode in modes.items() if (folder / name).is_dir()} == {
            name: 0o777 & ~umask for name in modes if (folder / name).is_dir()
        }
        assert {name: mode for name, mode in modes.items() if (folder / name).is_file()} == {
            name: 0o666 & ~umask for name in modes if (folder / name).is_file()
        }


# ---------------------------------------------------------------- pairs with text on both sides


def test_text_pairs_keep_pairs_with_text_on_both_sides_in_order_up_to_the_limit():
    pairs = [("a", "b"), ("c", " "), (None, "d"), (float("nan"), "e"), ("f", "g"), (1, 2)]
    assert text_pairs(pairs) == (("a", "b"), ("f", "g"), ("1", "2"))
    assert text_pairs(pairs, limit=2) == (("a", "b"), ("f", "g"))
    assert text_pairs([]) == ()


# ---------------------------------------------------------------- the STS benchmark's paths


def test_the_sts_benchmark_paths_are_beside_the_repository_whatever_the_working_directory(tmp_path, monkeypatch):
    repository = Path(__file__).resolve().parents[2]
    monkeypatch.chdir(tmp_path)
    assert corpora.STS_TRAIN_FILE.is_absolute() and corpora.STS_DEV_FILE.is_absolute()
    assert corpora.STS_TRAIN_FILE == repository.parent / "shared" / "data" / "stsbenchmark" / "sts-train.csv"
    assert corpora.STS_DEV_FILE.parent == corpora.STS_TRAIN_FILE.parent
