"""CSV files a spreadsheet opens safely: text cells that a spreadsheet would run as a formula are escaped.

A cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read as a formula by Excel,
LibreOffice and Google Sheets (OWASP, "CSV Injection"); a sentence from an upload or a link could otherwise run
``=HYPERLINK(...)`` on the machine of whoever opens the download. Such text cells get a leading single quote,
which spreadsheets show as text. Numbers stay numbers: a cosine of -0.12 is written as -0.12.

    >>> csv_bytes(pd.DataFrame({"sentence1": ["=1+1", "fine"], "cosine": [-0.12, 0.5]})).decode()
    "sentence1,cosine\\r\\n'=1+1,-0.12\\r\\nfine,0.5\\r\\n"
"""

from __future__ import annotations

import pandas as pd

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_cell(value: object) -> object:
    """``value`` with a leading ``'`` if it is text a spreadsheet would run as a formula; anything else as it is."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def spreadsheet_safe(table: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``table`` whose text cells and column names cannot run as formulas; numeric columns untouched."""
    safe = table.rename(columns=spreadsheet_cell)
    for column in range(safe.shape[1]):
        if not pd.api.types.is_numeric_dtype(safe.dtypes.iloc[column]):
            safe.isetitem(column, safe.iloc[:, column].map(spreadsheet_cell))
    return safe


def csv_bytes(table: pd.DataFrame) -> bytes:
    """The UTF-8 CSV of ``table`` (no index, CRLF lines) for a download, escaped by ``spreadsheet_safe``."""
    # CRLF, as RFC 4180 writes it, also makes the writer quote a cell holding a bare carriage return
    return spreadsheet_safe(table).to_csv(index=False, lineterminator="\r\n").encode("utf-8")
