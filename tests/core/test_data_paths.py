"""Files named by a path: only data files are opened, and no message repeats what a file holds."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from embedlab import cli
from embedlab.data.pairfiles import read_pairs
from embedlab.data.paths import data_file
from embedlab.errors import EmbedLabError
from embedlab.tasks.negtest import read_labelled_pairs
from embedlab.tasks.sts import read_scored_pairs
from embedlab.training.data import read_training_file
from tests.helpers import one_line_error, write

SECRET = "api_key=sk-live-0123456789abcdef"
READERS = {
    "pairs": read_pairs,
    "scored": read_scored_pairs,
    "labelled": read_labelled_pairs,
    "simcse": lambda path: read_training_file(path, "simcse"),
    "cosent": lambda path: read_training_file(path, "cosent"),
}


def message(reader, path) -> str:
    with pytest.raises(EmbedLabError) as error:
        READERS[reader](path)
    return str(error.value)


@pytest.mark.parametrize("reader", READERS)
@pytest.mark.skipif(not Path("/etc/passwd").is_file(), reason="needs /etc/passwd")
def test_system_files_are_refused_before_they_are_read(reader):
    for path in ("/etc/passwd", "/etc/shadow", "../../../../../../etc/passwd"):
        shown = message(reader, path)
        assert "not a data file" in shown and ".csv, .tsv or .txt" in shown
        assert "root:" not in shown


@pytest.mark.parametrize("reader", READERS)
def test_a_secrets_file_is_refused_and_never_quoted(reader, tmp_path):
    for name in (".env", "settings.env", "id_rsa"):
        shown = message(reader, write(tmp_path, name, f"{SECRET}\nOTHER=1\n"))
        assert "not a data file" in shown and SECRET not in shown and "sk-live" not in shown


@pytest.mark.parametrize("reader", READERS)
def test_a_data_named_link_to_another_file_is_refused(reader, tmp_path):
    target = write(tmp_path, "credentials", f"{SECRET}\n")
    link = tmp_path / "looks-like-data.csv"
    os.symlink(target, link)
    shown = message(reader, link)
    assert "not a data file" in shown and SECRET not in shown


@pytest.mark.parametrize("reader", READERS)
@pytest.mark.parametrize(
    "content",
    [
        f"{SECRET}\nOTHER=1\n",  # one field per line: the first line is read as a header
        f"{SECRET},password=hunter2\nx,y\n",  # two fields
        f"sentence1,sentence2,score,label\nOne.,Two.,{SECRET},{SECRET}\nThree.,Four.,{SECRET},1\n",  # a bad cell
        f"{SECRET}\t{SECRET}\t{SECRET}\t{SECRET}\t1\tOne.\tTwo.\n{SECRET}\n",  # STS format, then a bad line
    ],
)
def test_a_data_file_holding_a_secret_line_is_never_quoted(reader, content, tmp_path):
    for name in ("notes.csv", "notes.tsv", "notes.txt"):
        path = write(tmp_path, name, content)
        try:
            READERS[reader](path)
        except EmbedLabError as error:
            assert SECRET not in str(error) and "hunter2" not in str(error) and "sk-live" not in str(error)


def test_data_file_follows_relative_paths_and_names_the_problem(tmp_path, monkeypatch):
    data = write(tmp_path, "pairs.csv", "sentence1,sentence2\nOne.,Two.\n")
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")
    assert data_file("../pairs.csv").resolve() == data.resolve()  # ../ to a data file is fine
    assert len(read_pairs("../pairs.csv")) == 1
    with pytest.raises(EmbedLabError, match="not found"):
        data_file("../absent.csv")
    (tmp_path / "folder.csv").mkdir()
    with pytest.raises(EmbedLabError, match="is a folder"):
        data_file("../folder.csv")
    with pytest.raises(EmbedLabError, match="No path given"):
        data_file("  ")


@pytest.mark.parametrize("command", ["score", "eval", "negtest"])
def test_cli_refuses_a_system_file_without_quoting_it(command, tmp_path, capsys):
    env = write(tmp_path, ".env", f"{SECRET}\n")
    assert cli.main([command, str(env), "--model", "all-MiniLM-L6-v2"]) == 2
    shown = one_line_error(capsys)
    assert "not a data file" in shown and SECRET not in shown
