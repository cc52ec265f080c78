"""The one home of sentence-pair tables: column names, cell text, row labels and how messages name rows.

Every page's table (Compare, Negative tests), every task module and the file readers use these, so a cell that
pandas reads as NaN is "" everywhere and a message names rows the way the table shows them ("row 8",
"rows 3, 4 and 9").
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence

import pandas as pd

PAIR_COLUMNS: tuple[str, str] = ("sentence1", "sentence2")
MAX_LISTED_ROWS = 20


def cell_text(value: object) -> str:
    """A table cell as text: None, NaN, pd.NA and NaT become "", anything else ``str(value)`` (not stripped)."""
    if value is None or (pd.api.types.is_scalar(value) and pd.isna(value)):
        return ""
    return str(value)


def clean_columns(frame: pd.DataFrame, columns: Iterable[str] = PAIR_COLUMNS) -> pd.DataFrame:
    """``columns`` of ``frame`` as plain strings (a missing column or cell becomes ""), in that order.

    The index is kept: it is the row label a table editor shows, and every message names rows by it.
    """
    columns = list(columns)
    cleaned = {
        column: [cell_text(value) for value in (frame[column] if column in frame.columns else [""] * len(frame))]
        for column in columns
    }
    return pd.DataFrame(cleaned, index=frame.index, columns=columns, dtype=str)  # at once: inserting columns is slow


def labelled_1_to_n(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its rows labelled 1..n (row 1 = the first data row, as tables and files count them)."""
    return frame.set_axis(pd.RangeIndex(1, len(frame) + 1))


def row_list(rows: Sequence[Hashable], limit: int = MAX_LISTED_ROWS, capital: bool = False) -> str:
    """Name rows for a message: "row 8", "rows 3, 4 and 9"; beyond ``limit`` rows, the first ``limit`` then
    "and 7 more".

    Args:
        rows: row labels (or already formatted labels such as "5 (new)"), in the order to list them.
        capital: start with "Row"/"Rows", for the start of a sentence.
    """
    names = [str(row) for row in rows]
    if not names:
        return ""
    word = "row" if len(names) == 1 else "rows"
    if capital:
        word = word.capitalize()
    if len(names) > limit:
        listed = f"{', '.join(names[:limit])} and {len(names) - limit} more"
    elif len(names) > 1:
        listed = f"{', '.join(names[:-1])} and {names[-1]}"
    else:
        listed = names[0]
    return f"{word} {listed}"
