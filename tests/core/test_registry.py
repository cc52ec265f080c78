"""The list every model box offers: suggested models, then the models saved in the models directory."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from embedlab.errors import EmbedLabError
from embedlab.models.identity import resolve_model
from embedlab.models.loading import load_model, packaged_model_path
from embedlab.models.names import SUGGESTED_MODELS
from embedlab.models.registry import available_models, model_label, saved_models
from embedlab.served import SERVED_ENV


@pytest.fixture()
def models_dir(tmp_path, monkeypatch) -> Path:
    folder = (tmp_path / "models").resolve()
    folder.mkdir()
    monkeypatch.setenv("EMBEDLAB_MODELS_DIR", str(folder))
    return folder


def link_or_copy(source: str, target: str) -> None:
    """A hard link where the file system allows it (the packaged model is 90 MB), else a copy."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def make_model(folder: Path, marker: str = "config.json") -> Path:
    folder.mkdir()
    (folder / marker).write_text("{}", encoding="utf-8")
    return folder


def test_suggested_models_first_then_saved_ones_by_name(models_dir):
    make_model(models_dir / "zeta", "modules.json")  # a sentence-transformers folder
    make_model(models_dir / "Alpha")  # a plain transformers folder
    (models_dir / "notes").mkdir()  # no model in it
    (models_dir / "README.md").write_text("not a folder", encoding="utf-8")
    found = available_models()
    assert found[: len(SUGGESTED_MODELS)] == SUGGESTED_MODELS
    assert found[len(SUGGESTED_MODELS) :] == (str(models_dir / "Alpha"), str(models_dir / "zeta"))
    assert model_label(str(models_dir / "zeta")) == "zeta (saved)"
    assert model_label("bert-base-uncased") == "bert-base-uncased"


def test_missing_models_directory_offers_the_suggested_models(tmp_path, monkeypatch):
    monkeypatch.setenv("EMBEDLAB_MODELS_DIR", str(tmp_path / "not-created-yet"))
    assert available_models() == SUGGESTED_MODELS


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every folder")
def test_unreadable_folder_is_skipped(models_dir):
    locked = make_model(models_dir / "locked")
    make_model(models_dir / "open")
    locked.chmod(0)
    try:
        assert saved_models() == (str(models_dir / "open"),)
    finally:
        locked.chmod(0o755)


def test_a_folder_whose_marker_cannot_be_read_is_skipped(models_dir, monkeypatch):
    make_model(models_dir / "broken")
    make_model(models_dir / "fine")
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: "broken" not in str(path) and real_access(path, mode))
    assert saved_models() == (str(models_dir / "fine"),)


def test_a_saved_model_is_offered_as_a_reference_that_loads(models_dir):
    shutil.copytree(packaged_model_path(), models_dir / "mini", copy_function=link_or_copy)
    offered = [ref for ref in available_models() if ref not in SUGGESTED_MODELS]
    assert offered == [str(models_dir / "mini")]  # the folder as saved, absolute
    assert model_label(offered[0]) == "mini (saved)"
    loaded = load_model(offered[0])
    assert loaded.facts.n_layers == 6


def test_symbolic_links_are_not_offered_and_what_is_offered_is_accepted(models_dir, tmp_path, monkeypatch):
    """Issue 31 item 10: a link in the models directory (to a model outside it, or to one inside it) was listed in
    every box and refused by served mode when chosen. The list and the served gate apply one test."""
    outside = make_model(tmp_path / "elsewhere")
    make_model(models_dir / "real")
    (models_dir / "link-out").symlink_to(outside, target_is_directory=True)
    (models_dir / "link-in").symlink_to(models_dir / "real", target_is_directory=True)
    make_model(models_dir / ".real.partial-1234")  # a save in progress
    assert saved_models() == (str(models_dir / "real"),)
    monkeypatch.setenv(SERVED_ENV, "1")
    for entry in models_dir.iterdir():
        offered = str(entry) in saved_models()
        try:
            resolve_model(str(entry))
            accepted = True
        except EmbedLabError:
            accepted = False
        assert offered == accepted, entry.name
    assert resolve_model(str(models_dir / "real")).key == str(models_dir / "real")


def test_served_mode_offers_the_hub_ids_it_takes(models_dir, tmp_path, monkeypatch):
    """Issue 31 item 12: in served mode the boxes offer only the Hub ids the server downloads (the teacher's list)
    or already holds, and every one offered is accepted."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "empty-hub-cache"))
    monkeypatch.setenv(SERVED_ENV, "1")
    monkeypatch.setenv("EMBEDLAB_HUB_MODELS", "bert-base-multilingual-cased,embedlab-tests/listed")
    offered = available_models()
    assert offered == ("bert-base-multilingual-cased", "all-MiniLM-L6-v2", "untrained-bert", "embedlab-tests/listed")
    assert all(resolve_model(ref) for ref in offered)
    with pytest.raises(EmbedLabError, match="'bert-base-uncased' is neither listed nor already downloaded"):
        resolve_model("bert-base-uncased")


def test_the_listing_follows_the_directory_and_tests_a_settled_one_once(models_dir, monkeypatch):
    from embedlab.models import registry

    folder = models_dir / "copied-in"
    folder.mkdir()
    assert saved_models() == ()  # an empty folder is no model
    (folder / "config.json").write_text("{}", encoding="utf-8")  # maybe within the same tick of the file
    # system's clock as the folder's creation (the same change time): an entry changed so lately is tested afresh
    assert saved_models() == (str(folder),)
    tested: list[str] = []
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: tested.append(str(path)) or real_access(path, mode))
    monkeypatch.setattr(registry.time, "time_ns", lambda: 2**62)  # much later: every entry has settled
    assert saved_models() == (str(folder),)
    first = len(tested)
    assert first > 0 and saved_models() == (str(folder),) and len(tested) == first  # the same state: not tested again
    make_model(models_dir / "another")
    assert saved_models() == (str(models_dir / "another"), str(folder))  # a new entry: a new state
    shutil.rmtree(folder)
    assert saved_models() == (str(models_dir / "another"),)
