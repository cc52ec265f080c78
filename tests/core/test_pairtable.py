"""The pair-table helpers every page and task share: cell text, clean columns, row labels, row naming."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from embedlab.data.pairtable import PAIR_COLUMNS, cell_text, clean_columns, labelled_1_to_n, row_list


@pytest.mark.parametrize(
    ("value", "text"),
    [(None, ""), (np.nan, ""), (pd.NA, ""), (pd.NaT, ""), (np.float32("nan"), ""), (" a ", " a "), (3, "3")],
)
def test_cell_text_turns_every_missing_value_into_empty_text(value, text):
    assert cell_text(value) == text


def test_clean_columns_keeps_the_index_and_fills_missing_columns():
    frame = pd.DataFrame({"sentence1": ["a", None], "other": [1, 2]}, index=[4, 9])
    cleaned = clean_columns(frame, PAIR_COLUMNS)
    assert list(cleaned.columns) == list(PAIR_COLUMNS)
    assert list(cleaned.index) == [4, 9]
    assert cleaned.to_dict("list") == {"sentence1": ["a", ""], "sentence2": ["", ""]}


def test_labelled_1_to_n():
    assert list(labelled_1_to_n(pd.DataFrame({"x": [5, 6, 7]}, index=[3, 8, 0])).index) == [1, 2, 3]


@pytest.mark.parametrize(
    ("rows", "capital", "text"),
    [
        ([8], False, "row 8"),
        ([8], True, "Row 8"),
        ([3, 4], True, "Rows 3 and 4"),
        ([3, 4, 9], False, "rows 3, 4 and 9"),
        (["5 (new)", 6], False, "rows 5 (new) and 6"),
        ([], False, ""),
    ],
)
def test_row_list_names_rows_one_way(rows, capital, text):
    assert row_list(rows, capital=capital) == text


def test_row_list_is_capped():
    assert row_list(list(range(1, 26)), limit=3) == "rows 1, 2, 3 and 22 more"
