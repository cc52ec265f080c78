"""The one gate before the app or the command line opens a data file a user named by its path.

Every reader of a path (``pairfiles.read_pairs``, ``tasks.sts.read_scored_pairs``,
``training.data.read_training_file``) goes through ``data_file``: only the data formats the app reads (.csv, .tsv,
.txt) are opened, so a path such as ``/etc/shadow`` or a ``.env`` file is refused before a byte of it is read, and
a symbolic link is judged by the file it points to. Messages name the path, never what the file holds.

(A later "served mode" that refuses server paths altogether belongs here too, in this one function.)

Example:
    >>> data_file("/etc/passwd")  # doctest: +SKIP
    EmbedLabError: '/etc/passwd' is not a data file the app reads: give a .csv, .tsv or .txt file.
"""

from __future__ import annotations

from pathlib import Path

from embedlab.errors import EmbedLabError

DATA_SUFFIXES: tuple[str, ...] = (".csv", ".tsv", ".txt")  # the formats of every pair, STS and sentence file


def data_file(path: str | Path) -> Path:
    """The file at ``path`` if the app may open it: an existing .csv, .tsv or .txt file (after symbolic links).

    Raises:
        EmbedLabError: no path, another kind of file, a folder, or no such file.
    """
    text = str(path).strip()
    if not text:
        raise EmbedLabError("No path given: type the path of a CSV, TSV, STS or text file.")
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
