"""CSV downloads: text a spreadsheet would run as a formula is escaped, numbers stay numbers, in every download."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pandas as pd
import pytest

from embedlab.data.csvsafe import csv_bytes, spreadsheet_cell
from embedlab.tasks.compare import example_pairs

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("text", ['=HYPERLINK("http://evil/p","x")', "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx"])
def test_a_cell_a_spreadsheet_would_run_gets_a_leading_quote(text):
    table = pd.DataFrame({"sentence1": [text, "A cat."], "sentence2": ["fine", text], "cosine": [-0.12, 0.5]})
    rows = list(csv.reader(io.StringIO(csv_bytes(table).decode("utf-8"), newline="")))
    assert rows[0] == ["sentence1", "sentence2", "cosine"]
    assert rows[1] == ["'" + text, "fine", "-0.12"]  # the negative cosine stays a number
    assert rows[2] == ["A cat.", "'" + text, "0.5"]
    assert table.loc[0, "sentence1"] == text  # the page's own table is not changed


def test_ordinary_text_numbers_and_empty_cells_are_written_as_they_are():
    table = pd.DataFrame({"text": ["a = b", "1 - 2", None], "label": pd.array([1, 0, None], dtype="Int64")})
    assert csv_bytes(table).decode("utf-8") == "text,label\r\na = b,1\r\n1 - 2,0\r\n,\r\n"
    assert spreadsheet_cell(-3) == -3 and spreadsheet_cell("-3") == "'-3"


def test_a_column_name_from_the_user_is_escaped_too():
    assert csv_bytes(pd.DataFrame({"=cmd": [1]})).decode("utf-8") == "'=cmd\r\n1\r\n"


def test_the_pairs_table_download_round_trips_through_the_escape():
    table = pd.DataFrame(example_pairs(), columns=["sentence1", "sentence2"]).assign(cosine=-0.5)
    table = table.reset_index(drop=True)
    assert pd.read_csv(io.BytesIO(csv_bytes(table))).equals(table)  # nothing to escape: unchanged


def test_every_csv_download_of_the_app_goes_through_csv_bytes():
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for folder in ("app_pages", "components")
        for path in sorted((ROOT / folder).rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if ".to_csv(" in line
    ]
    assert not offenders, f"write CSV downloads with embedlab.data.csvsafe.csv_bytes: {offenders}"
