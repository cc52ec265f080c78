"""Reading sentence-pair files: CSV/TSV with a header, or the STS benchmark's headerless tab format.

STS format: genre, file, year, id, score (0-5), sentence1, sentence2[, licence fields...]; sentences contain
quote characters, so lines are split on tabs with no quoting at all (csv quoting would merge rows).

Messages name rows as the tables show them: row 1 is the first pair (the first row under a header, the first
line of a headerless STS file); blank lines are not counted. They never quote the file's content (a path can
name any file: its lines must not end up on a page).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pandas as pd

from embedlab import served
from embedlab.data.pairtable import PAIR_COLUMNS
from embedlab.data.paths import read_data_file
from embedlab.errors import EmbedLabError

__all__ = ["PAIR_COLUMNS", "decode_text", "parse_pairs_text", "read_delimited", "read_pairs"]
STS_MIN_FIELDS = 7


def decode_text(data: bytes, name: str = "file") -> str:
    """UTF-8 text (a BOM is dropped); undecodable bytes raise EmbedLabError, and so does a file of more than
    ``limits.MAX_ROWS`` rows in served mode (a line is a row; a header line is not counted)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise EmbedLabError(
            f"{name} is not UTF-8 text (bad byte at position {error.start}): save it as UTF-8 and try again."
        ) from None
    served.check_rows(max(0, sum(1 for line in text.splitlines() if line.strip()) - 1), name)
    return text


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _looks_like_sts(first_line: str) -> bool:
    fields = first_line.split("\t")
    return len(fields) >= STS_MIN_FIELDS and _is_float(fields[4].strip())


def parse_pairs_text(text: str, required: tuple[str, ...] = PAIR_COLUMNS, name: str = "file") -> pd.DataFrame:
    """Parse pair-file text into a DataFrame of strings.

    Returns:
        DataFrame with at least the ``required`` columns (str), in file order; STS-format input gives
        sentence1, sentence2, score, genre, file, year, id.

    Raises:
        EmbedLabError: empty input, missing columns, malformed rows.
    """
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise EmbedLabError(f"{name} is empty: it needs a header row with {', '.join(required)} and one pair per row.")
    if _looks_like_sts(lines[0]):
        return _parse_sts(lines, required, name)
    delimiter = "\t" if "\t" in lines[0] else ","
    frame = read_delimited(text, delimiter, name)
    frame.columns = [str(column).strip().lower() for column in frame.columns]
    missing = [column for column in required if column not in frame.columns]
    if missing:
        raise EmbedLabError(
            f"{name} has no {', '.join(missing)} column: its header (first row) must name {', '.join(required)} "
            f"(it has {len(frame.columns)} field{'s' * (len(frame.columns) != 1)})."
        )
    return frame.reset_index(drop=True)


def read_delimited(text: str, delimiter: str, name: str) -> pd.DataFrame:
    """Rows of a CSV (standard quoting) or TSV (no quoting: sentences hold quote marks) file, all as strings.

    Every row must have as many fields as the header: an unquoted comma inside a sentence would otherwise shift
    the columns silently.
    """
    kind = "TSV" if delimiter == "\t" else "CSV"
    quoting = csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL
    reader = csv.reader(io.StringIO(text), delimiter=delimiter, quoting=quoting, strict=True)
    rows: list[list[str]] = []
    try:
        for row in reader:
            if any(field.strip() for field in row):
                rows.append(row)
    except csv.Error as error:
        where = f"row {len(rows)}" if rows else "its header"  # the row being read: rows[0] is the header
        raise EmbedLabError(f"{name} could not be read as {kind} ({where}: {error}).") from None
    header, body = rows[0], rows[1:]
    for number, row in enumerate(body, start=1):
        if len(row) != len(header):
            if len(row) < len(header):
                hint = "a cell is missing"
            else:
                hint = "quote sentences that contain commas" if kind == "CSV" else "sentences cannot contain tabs"
            raise EmbedLabError(
                f"{name} row {number} has {len(row)} field{'s' * (len(row) != 1)} but the header has "
                f"{len(header)}: {hint}."
            )
    if not body:
        raise EmbedLabError(f"{name} has a header but no rows: add one pair per row under it.")
    return pd.DataFrame(body, columns=header, dtype=str)


def _parse_sts(lines: list[str], required: tuple[str, ...], name: str) -> pd.DataFrame:
    rows = []
    for number, line in enumerate(lines, start=1):
        fields = line.split("\t")
        if len(fields) < STS_MIN_FIELDS or not _is_float(fields[4].strip()):
            raise EmbedLabError(
                f"{name} row {number} is not in STS format (genre, file, year, id, score, sentence1, sentence2)."
            )
        genre, source, year, pair_id, score, first, second = (field.strip() for field in fields[:STS_MIN_FIELDS])
        rows.append(
            {
                "sentence1": first,
                "sentence2": second,
                "score": score,
                "genre": genre,
                "file": source,
                "year": year,
                "id": pair_id,
            }
        )
    frame = pd.DataFrame(rows)
    missing = [column for column in required if column not in frame.columns]
    if missing:
        raise EmbedLabError(f"{name} is in STS format, which has no {', '.join(missing)} column.")
    return frame


def read_pairs(path: str | Path, required: tuple[str, ...] = PAIR_COLUMNS) -> pd.DataFrame:
    """Read a pair file from disk (see ``parse_pairs_text``); only what ``paths.data_file`` allows is opened."""
    data, name = read_data_file(path)
    return parse_pairs_text(decode_text(data, name), required, name)
