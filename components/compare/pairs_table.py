"""The Compare page's editable pairs table: survives reruns and page switches, replaced only by explicit user actions.

``state.PAIRS`` holds the table as the user left it (see ``components.shared.persistent_table``).
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from components.shared import state
from components.shared.persistent_table import PersistentTable
from components.shared.uploads import flash, new_upload
from embedlab.data.pairfiles import decode_text, parse_pairs_text
from embedlab.data.pairtable import PAIR_COLUMNS
from embedlab.errors import EmbedLabError
from embedlab.tasks.compare import clean_pairs, example_pairs, numbered

PAIRS_TABLE = PersistentTable(
    prefix=state.PAIRS, default=example_pairs, clean=clean_pairs, renumber=numbered, flash_namespace=state.COMPARE
)


def replace_pairs(frame: pd.DataFrame, message: str | None = None) -> None:
    """Replace the whole table (upload, add, clear) and remount the editor on it."""
    PAIRS_TABLE.replace(frame, message)


def pairs_editor() -> pd.DataFrame:
    """Render the editor; returns the current table (two string columns, rows labelled as the editor shows)."""
    return PAIRS_TABLE.editor(
        width="stretch",
        column_config={
            "_index": st.column_config.Column("Row", help="The row label the scores and notes below refer to"),
            "sentence1": st.column_config.TextColumn("Sentence 1", width="large"),
            "sentence2": st.column_config.TextColumn("Sentence 2", width="large"),
        },
    )


def current_pairs() -> pd.DataFrame:
    """The table as the user left it, without drawing the editor (a new session's first screen)."""
    return PAIRS_TABLE.current()


def add_pair_form() -> None:
    """Two text boxes and a button: the quickest way to try one pair."""
    with st.form(state.ADD_FORM, clear_on_submit=True, border=False):
        first_col, second_col, button_col = st.columns([5, 5, 1], vertical_alignment="bottom")
        first = first_col.text_input("Sentence 1", key=state.NEW_FIRST, placeholder="A man is playing a guitar.")
        second = second_col.text_input("Sentence 2", key=state.NEW_SECOND, placeholder="Someone plays music.")
        if button_col.form_submit_button("Add pair", type="primary"):
            if not (first.strip() or second.strip()):
                st.warning("Type at least one sentence to add a pair.")
                return
            current = PAIRS_TABLE.current()
            added = pd.concat([current, pd.DataFrame([[first, second]], columns=list(PAIR_COLUMNS))], ignore_index=True)
            replace_pairs(added)
            st.session_state[state.SELECTED_PAIR] = len(added)  # the new pair's label (rows are 1..n)


def upload_pairs() -> None:
    """CSV/TSV/STS upload replacing the table; a bad file leaves the table as it was. The outcome is flashed."""
    st.file_uploader(
        "Upload pairs (CSV or TSV with sentence1, sentence2 columns, or an STS benchmark file)",
        type=["csv", "tsv", "txt"],
        key=state.PAIRS_UPLOAD,
    )
    try:
        upload = new_upload(state.PAIRS_UPLOAD)
        if upload is None:
            return
        frame = parse_pairs_text(decode_text(upload.getvalue(), upload.name), name=upload.name)
    except EmbedLabError as error:
        flash(state.COMPARE, f"{error} Your table was left as it was.", "error")
    else:
        replace_pairs(frame[list(PAIR_COLUMNS)], f"Loaded {len(frame)} pairs from {upload.name}.")
        st.session_state[state.SELECTED_PAIR] = None  # the page shows the first pair
    st.rerun()
