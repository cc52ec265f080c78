"""The one gate before the app or the command line opens a data file a user named by its path.

Every reader of a path (``pairfiles.read_pairs``, ``tasks.sts.read_scored_pairs``,
``training.data.read_training_file``) goes through ``data_file``: only the data formats the app reads (.csv, .tsv,
.txt) are opened, so a path such as ``/etc/shadow`` or a ``.env`` file is refused before a byte of it is read, and
a symbolic link is judged by the file it points to. Messages name the path, never what the file holds.

In served mode (``embedlab.served``) ``served_data_gate`` comes first: only the bundled files and the STS
benchmark splits the server was started with are opened by path; anything else is refused before the file system
is asked whether it exists.

Example:
    >>> data_file("/etc/passwd")  # doctest: +SKIP
    EmbedLabError: '/etc/passwd' is not a data file the app reads: give a .csv, .tsv or .txt file.
"""

from __future__ import annotations

import os
from pathlib import Path

from embedlab import corpora
from embedlab.errors import EmbedLabError
from embedlab.served import path_refusal, served_mode

DATA_SUFFIXES: tuple[str, ...] = (".csv", ".tsv", ".txt")  # the formats of every pair, STS and sentence file


def served_files() -> frozenset[Path]:
    """The data files served mode opens by path: the bundled ones (``assets/``) and the STS benchmark splits."""
    assets = corpora.ASSETS.resolve()
    bundled = [path.resolve() for path in assets.iterdir() if path.suffix.lower() in DATA_SUFFIXES]
    splits = [corpora.STS_TRAIN_FILE.resolve(), corpora.STS_DEV_FILE.resolve()]
    return frozenset([*(path for path in bundled if path.parent == assets), *splits])  # a link out: not bundled


def served_data_gate(path: str | Path) -> None:
    """In served mode, refuse every path but the bundled files and the server's STS splits; outside it, nothing.

    The path is compared after ``..`` and symbolic links are resolved, so neither ``../`` nor a link inside
    ``assets/`` leads anywhere else. The message is the same whether or not the file exists.

    Raises:
        EmbedLabError: served mode and a path that is not one of ``served_files()``.
    """
    if not served_mode():
        return
    text = str(path).strip()
    allowed = served_files()
    try:
        written = Path(os.path.abspath(os.path.expanduser(text))) if text else None
        ok = written is not None and written.resolve() in allowed
    except (OSError, ValueError, RuntimeError):
        ok = False
    if not ok:
        raise EmbedLabError(path_refusal(text))


def data_file(path: str | Path) -> Path:
    """The file at ``path`` if the app may open it: an existing .csv, .tsv or .txt file (after symbolic links);
    in served mode only one of ``served_files()`` (``served_data_gate``).

    Raises:
        EmbedLabError: served mode and another path; no path, another kind of file, a folder, or no such file.
    """
    text = str(path).strip()
    if not text:
        raise EmbedLabError("No path given: type the path of a CSV, TSV, STS or text file.")
    served_data_gate(text)
    file = Path(text)
    kinds = ", ".join(DATA_SUFFIXES[:-1]) + f" or {DATA_SUFFIXES[-1]}"
    if file.is_dir():
        raise EmbedLabError(f"{text!r} is a folder: give the path of a file in it ({kinds}).")
    if file.suffix.lower() not in DATA_SUFFIXES or file.resolve().suffix.lower() not in DATA_SUFFIXES:
        raise EmbedLabError(f"{text!r} is not a data file the app reads: give a {kinds} file.")
    if not file.is_file():
        raise EmbedLabError(f"File {text!r} not found: give the path of a {kinds} file.")
    return file


def read_data_file(path: str | Path) -> tuple[bytes, str]:
    """The bytes of the data file at ``path`` (checked by ``data_file``) and its name for messages.

    Raises:
        EmbedLabError: see ``data_file``; a file that cannot be read.
    """
    file = data_file(path)
    try:
        return file.read_bytes(), file.name
    except OSError as error:
        raise EmbedLabError(f"File {str(path).strip()!r} cannot be read: {error.strerror}.") from None
