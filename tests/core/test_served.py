"""Served mode in the engine: the two gates (data files, model folders) refuse server paths only when it is on, and
the limits hold only then; the switch is read at call time."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from embedlab import corpora, limits, served
from embedlab.data.pairfiles import decode_text
from embedlab.data.paths import data_file, served_data_gate
from embedlab.errors import EmbedLabError
from embedlab.models.identity import resolve_model, served_model_gate
from embedlab.models.loading import hub_id_of, load_model
from embedlab.models.names import MODELS_DIR_ENV, PACKAGED
from embedlab.settings import SettingsError
from embedlab.tasks.sts import bundled_pairs, read_scored_pairs
from embedlab.training.compose import Composition
from embedlab.training.data import bundled_data, read_training_file
from embedlab.training.queue import JobQueue, TrainRequest
from embedlab.training.run import TrainSettings, count_steps

OUTSIDE_PATHS = ("/etc/passwd", "../../etc/passwd", "../../../../../../etc/passwd", "~/.bashrc")
OUTSIDE_FOLDERS = ("/etc", "../../etc", "..", "/tmp", "~")


@pytest.fixture()
def models(tmp_path, monkeypatch, tiny_st_dir) -> Path:
    """A models directory holding one tiny saved model, ``saved``."""
    root = tmp_path / "models"
    shutil.copytree(tiny_st_dir, root / "saved")
    monkeypatch.setenv(MODELS_DIR_ENV, str(root))
    return root


@pytest.fixture()
def on(monkeypatch):
    monkeypatch.setenv(served.SERVED_ENV, "1")


def refused(call, *args) -> str:
    with pytest.raises(EmbedLabError) as error:
        call(*args)
    message = str(error.value)
    assert message.startswith("This server is in served mode"), message
    return message


def test_the_switch_is_read_at_call_time(monkeypatch):
    monkeypatch.delenv(served.SERVED_ENV, raising=False)
    assert not served.served_mode()
    for value in ("1", "true", "ON", " yes "):
        monkeypatch.setenv(served.SERVED_ENV, value)
        assert served.served_mode()
    for value in ("0", "off", "false", ""):
        monkeypatch.setenv(served.SERVED_ENV, value)
        assert not served.served_mode()
    monkeypatch.setenv(served.SERVED_ENV, "maybe")  # neither on nor off: an error naming it, not a silent "off"
    with pytest.raises(SettingsError, match=r"^EMBEDLAB_SERVED='maybe': "):
        served.served_mode()


def test_data_gate_refuses_server_paths_in_served_mode(on, tmp_path):
    mine = tmp_path / "pairs.csv"
    mine.write_text("sentence1,sentence2,score\na,b,1\n", encoding="utf-8")
    for path in (*OUTSIDE_PATHS, str(mine), str(tmp_path / "missing.csv"), "/etc"):
        message = refused(data_file, path)
        assert "upload the file instead" in message and "root:" not in message
    refused(read_scored_pairs, "/etc/passwd")
    refused(read_training_file, "../../etc/passwd", "cosine")


def test_data_gate_refuses_a_link_inside_the_bundled_folder(on, tmp_path, monkeypatch):
    fake_assets = tmp_path / "assets"
    fake_assets.mkdir()
    (fake_assets / "sts_mini.csv").write_text("sentence1,sentence2,score\na,b,1\n", encoding="utf-8")
    outside = tmp_path / "secret.csv"
    outside.write_text("sentence1,sentence2,score\nsecret,b,1\n", encoding="utf-8")
    (fake_assets / "linked.csv").symlink_to(outside)
    monkeypatch.setattr(corpora, "ASSETS", fake_assets)
    assert data_file(fake_assets / "sts_mini.csv")
    refused(data_file, fake_assets / "linked.csv")


def test_data_gate_lets_the_bundled_sets_and_server_splits_through(on):
    served_data_gate(corpora.STS_MINI_FILE)
    served_data_gate(corpora.NEGTEST_FILE)
    served_data_gate(corpora.STS_TRAIN_FILE)  # checked by name: whether the split is there is the reader's business
    served_data_gate(corpora.STS_DEV_FILE)
    assert bundled_pairs().n_pairs > 0


def test_server_split_by_a_relative_path(on, sts_dev, monkeypatch):
    monkeypatch.chdir(corpora.ASSETS.parent)  # the repository root, where `streamlit run app.py` starts
    assert read_scored_pairs("../shared/data/stsbenchmark/sts-dev.csv").n_pairs == 1500


def test_data_gate_allows_any_data_file_outside_served_mode(monkeypatch, tmp_path):
    monkeypatch.delenv(served.SERVED_ENV, raising=False)
    mine = tmp_path / "pairs.csv"
    mine.write_text("sentence1,sentence2,score\na,b,1\nc,d,2\ne,f,3\n", encoding="utf-8")
    served_data_gate("/etc/passwd")  # nothing here: data_file's own checks still refuse it
    assert read_scored_pairs(mine).n_pairs == 3
    with pytest.raises(EmbedLabError, match="not a data file"):
        data_file("/etc/passwd")


def test_model_gate_refuses_folders_outside_the_models_dir(on, models, tiny_st_dir):
    for folder in (*OUTSIDE_FOLDERS, str(tiny_st_dir), str(models), str(models / "saved" / ".." / "..")):
        message = refused(resolve_model, folder)
        assert "pick a saved model" in message
    refused(load_model, str(tiny_st_dir))


def test_model_gate_refuses_a_link_out_of_the_models_dir(on, models, tiny_st_dir):
    (models / "linked").symlink_to(tiny_st_dir, target_is_directory=True)
    refused(resolve_model, str(models / "linked"))


def test_model_gate_allows_saved_models_packaged_and_hub_ids(on, models):
    saved = resolve_model(str(models / "saved"))
    assert hub_id_of(saved.key) is None and saved.revision not in ("", "none")
    assert load_model(saved).facts.hidden_size == 32
    assert resolve_model("sentence-transformers/all-MiniLM-L6-v2").key == PACKAGED
    assert hub_id_of("bert-base-uncased") == "bert-base-uncased"  # listed by default (one of the suggestions)
    assert served_model_gate("bert-base-uncased") is True
    message = refused(resolve_model, "assets")  # a Hub id, never the repository's folder of that name, and not listed
    assert "'assets' is neither listed nor already downloaded" in message and "EMBEDLAB_HUB_MODELS" in message


def test_model_gate_allows_any_folder_outside_served_mode(monkeypatch, models, tiny_st_dir):
    monkeypatch.delenv(served.SERVED_ENV, raising=False)
    assert served_model_gate(str(tiny_st_dir)) is False
    assert resolve_model(str(tiny_st_dir)).revision not in ("", "none")
    with pytest.raises(EmbedLabError, match="does not exist"):
        resolve_model("../../no-such-model-folder")


def test_limits_hold_in_served_mode_only(monkeypatch):
    monkeypatch.setenv(served.SERVED_ENV, "1")
    served.check_rows(limits.MAX_ROWS)
    served.check_steps(limits.SERVED_MAX_TRAIN_STEPS)
    served.check_upload(limits.SERVED_MAX_UPLOAD_MB * 1024 * 1024, "f.csv")
    assert f"{limits.MAX_ROWS + 1:,} rows" in refused(served.check_rows, limits.MAX_ROWS + 1, "f.csv")
    refused(served.check_steps, limits.SERVED_MAX_TRAIN_STEPS + 1)
    refused(served.check_upload, limits.SERVED_MAX_UPLOAD_MB * 1024 * 1024 + 1, "f.csv")
    monkeypatch.setenv(served.SERVED_ENV, "0")
    served.check_rows(limits.MAX_ROWS + 1)
    served.check_steps(limits.SERVED_MAX_TRAIN_STEPS + 1)
    served.check_upload(limits.MAX_UPLOAD_MB * 1024 * 1024, "f.csv")


@pytest.mark.parametrize(("mode", "limit_mb"), [("1", limits.SERVED_MAX_UPLOAD_MB), ("0", limits.MAX_UPLOAD_MB)])
def test_an_upload_is_refused_with_the_limit_in_force(monkeypatch, mode, limit_mb):
    """Issue 31 item 5: served mode quoted the app's 20 MB and pointed to the command line a student cannot use."""
    monkeypatch.setenv(served.SERVED_ENV, mode)
    with pytest.raises(EmbedLabError) as caught:
        served.check_upload(30 * 1024 * 1024, "big.csv")
    message = str(caught.value)
    assert f"big.csv is 30.0 MB; uploads are limited to {limit_mb} MB" in message
    assert ("command line" in message) == (mode == "0") and ("path" in message) == (mode == "0")
    served.check_upload(limit_mb * 1024 * 1024, "just.csv")


def test_an_upload_with_too_many_rows_is_refused_before_parsing(on):
    header = "sentence1,sentence2,score\n"
    within = (header + "a,b,1\n" * limits.MAX_ROWS).encode()
    beyond = (header + "a,b,1\n" * (limits.MAX_ROWS + 1)).encode()
    assert decode_text(within, "ok.csv").count("\n") == limits.MAX_ROWS + 1
    assert "big.csv" in refused(decode_text, beyond, "big.csv")


def test_a_training_run_over_the_step_limit_is_refused_before_it_is_queued(on, tmp_path, monkeypatch):
    monkeypatch.setenv("EMBEDLAB_MODELS_DIR", str(tmp_path / "models"))
    monkeypatch.delenv("EMBEDLAB_QUEUE", raising=False)
    data = bundled_data("mnrl")
    jobs = JobQueue()
    too_long = TrainSettings(max_steps=limits.SERVED_MAX_TRAIN_STEPS + 1)
    refused(jobs.submit, TrainRequest(Composition(PACKAGED), data, too_long, save_to=str(tmp_path / "m")), "s")
    epochs = limits.SERVED_MAX_TRAIN_STEPS // count_steps(data.n_examples, TrainSettings(epochs=1.0, batch_size=1)) + 1
    by_epochs = TrainSettings(epochs=float(epochs), batch_size=1)
    refused(jobs.submit, TrainRequest(Composition(PACKAGED), data, by_epochs, save_to=str(tmp_path / "m")), "s")
    assert jobs.views() == []
