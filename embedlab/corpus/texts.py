"""A corpus file read into texts: one text per line of a text file, or one column of a CSV file.

Bounds, each one ``EmbedLabError`` saying what to do: a file with no text, a binary file (a NUL byte, or bytes
that are not UTF-8), a CSV without the column asked for, and in served mode more than ``limits.MAX_CORPUS_LINES``
lines. Blank lines are skipped (they have no meaning to encode); every other line is kept as it is, duplicates
included, so row ``i`` of the vectors is text ``i``.

Example:
    >>> corpus_from_bytes(b"a cat\\n\\na dog\\n", "pets.txt").texts
    ('a cat', 'a dog')
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import pandas as pd

from embedlab import limits, served
from embedlab.errors import EmbedLabError

BINARY_PROBE = 8192  # bytes looked at for a NUL byte


@dataclass(frozen=True)
class Corpus:
    """Texts to encode, with their digest (SHA-256 of the texts, one per line, in order) and what they came from.
    ``columns``: for a CSV, the other columns' values per row (to colour a map by); empty for a text file."""

    texts: tuple[str, ...]
    source: str
    column: str = ""
    columns: dict[str, tuple[str, ...]] = field(default_factory=dict, compare=False, hash=False)

    @cached_property
    def digest(self) -> str:  # computed once per Corpus (a page reruns often; a million texts take a moment)
        return texts_digest(self.texts)

    def __len__(self) -> int:
        return len(self.texts)


def texts_digest(texts: tuple[str, ...] | list[str]) -> str:
    """SHA-256 of the texts in order; a text's own newlines are escaped so two lists never share a digest."""
    digest = hashlib.sha256()
    for text in texts:
        digest.update(text.replace("\\", "\\\\").replace("\n", "\\n").encode("utf-8"))
        digest.update(b"\n")
    return digest.hexdigest()


def corpus_from_bytes(raw: bytes, name: str, column: str = "") -> Corpus:
    """The texts of a file's bytes: a CSV (by its name's ``.csv`` ending, or when ``column`` is given) reads
    ``column`` (default: the first column), anything else one text per line.

    Raises:
        EmbedLabError: binary or not UTF-8, no text, no such column, or too many lines in served mode.
    """
    if b"\x00" in raw[:BINARY_PROBE]:
        raise EmbedLabError(f"{name} looks like a binary file (it holds NUL bytes): give a text or CSV file.")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise EmbedLabError(
            f"{name} is not UTF-8 text (byte {error.start} cannot be read): save it as UTF-8, or give a text file."
        ) from None
    if (name.lower().endswith(".csv") or column) and text.strip():
        return _csv_corpus(text, name, column)
    texts = tuple(line.rstrip("\r") for line in text.split("\n") if line.strip())
    return _checked(Corpus(texts, name), name)


def read_corpus(path: str | Path, column: str = "") -> Corpus:
    """``corpus_from_bytes`` of a file on disk.

    Raises:
        EmbedLabError: the file cannot be read, or any refusal of ``corpus_from_bytes``.
    """
    path = Path(path).expanduser()
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise EmbedLabError(f"Cannot read {path}: {error.strerror}.") from None
    return corpus_from_bytes(raw, path.name, column)


def _csv_corpus(text: str, name: str, column: str) -> Corpus:
    try:
        table = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        first = str(error).splitlines()[0] if str(error) else "no columns"
        raise EmbedLabError(f"{name} cannot be read as CSV ({first}): give a text file, one text per line.") from None
    if table.columns.empty:
        raise EmbedLabError(f"{name} has no columns: give a CSV with a header row, or a text file.")
    chosen = column or str(table.columns[0])
    if chosen not in table.columns:
        known = ", ".join(map(str, table.columns[:20]))
        raise EmbedLabError(f"{name} has no column {chosen!r}; its columns: {known}.")
    table = table[table[chosen].str.strip() != ""]
    others = {str(c): tuple(table[c].tolist()) for c in table.columns if c != chosen}
    return _checked(Corpus(tuple(table[chosen].tolist()), name, chosen, others), name)


def _checked(corpus: Corpus, name: str) -> Corpus:
    if not corpus.texts:
        raise EmbedLabError(f"{name} holds no text: give a file with one text per line (or a CSV column of texts).")
    if served.served_mode() and len(corpus) > limits.MAX_CORPUS_LINES:
        raise EmbedLabError(
            f"{served.PREFIX}: {name} has {len(corpus):,} lines; a corpus is limited to {limits.MAX_CORPUS_LINES:,} "
            "lines here. Keep the lines you need, or run `python -m embedlab embed` on your own machine."
        )
    return corpus
