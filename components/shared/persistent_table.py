"""An editable table that survives reruns and page switches, replaced only by explicit user actions.

Streamlit drops a widget's state when its page is left, the data editor's edits included. So the table as the user
left it is kept under a plain session key (``<prefix>``); the editor is mounted on ``<prefix>_base`` under a
versioned key (``<prefix>_editor.<version>``), and when the page is entered again with edits the editor no longer
holds, it is remounted on the latest table. Rows are labelled 1..n whenever a new table is mounted; edits keep
the labels (a deleted row leaves a gap), so every note on the page can name rows as the editor shows them.

Why the table does not use ``state.remembered``: a data editor's widget state is a list of edits relative to the
table it was mounted on, not a value, so it cannot be seeded; the editor is remounted on the kept table instead.
All its keys derive from ``prefix``, a plain key declared in ``components.shared.state``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
import streamlit as st

from components.shared import notes
from components.shared.uploads import flash
from embedlab import limits, served
from embedlab.errors import EmbedLabError


@dataclass(frozen=True)
class PersistentTable:
    """One page's table.

    Attributes:
        prefix: session-key prefix, e.g. "compare.pairs".
        default: the table a new session starts with.
        clean: editor output -> the table (plain values, same index).
        renumber: any frame with the table's columns -> a new table labelled 1..n.
        flash_namespace: where ``replace`` leaves a one-shot message (``components.shared.uploads.flash``).
    """

    prefix: str
    default: Callable[[], pd.DataFrame]
    clean: Callable[[pd.DataFrame], pd.DataFrame]
    renumber: Callable[[pd.DataFrame], pd.DataFrame]
    flash_namespace: str

    @property
    def table_key(self) -> str:
        return self.prefix

    @property
    def base_key(self) -> str:
        return f"{self.prefix}_base"

    @property
    def version_key(self) -> str:
        return f"{self.prefix}_version"

    def editor_key(self, version: int | None = None) -> str:
        return f"{self.prefix}_editor.{st.session_state[self.version_key] if version is None else version}"

    def init(self) -> None:
        if self.table_key not in st.session_state:
            st.session_state[self.table_key] = self.renumber(self.default())
            st.session_state[self.base_key] = st.session_state[self.table_key]
            st.session_state[self.version_key] = 0

    def current(self) -> pd.DataFrame:
        self.init()
        return st.session_state[self.table_key]

    def replace(self, frame: pd.DataFrame, message: str | None = None) -> None:
        """A new table (upload, add, clear, restore): rows labelled 1..n, editor remounted on it."""
        table = self.renumber(frame)
        st.session_state[self.table_key] = table
        st.session_state[self.base_key] = table
        st.session_state[self.version_key] = st.session_state.get(self.version_key, 0) + 1
        if message:
            flash(self.flash_namespace, message)

    def editor(self, **data_editor_options) -> pd.DataFrame:
        """Render the data editor; returns the table as the user left it, indexed by the editor's row labels."""
        self.init()
        if self.editor_key() not in st.session_state and not self.current().equals(st.session_state[self.base_key]):
            self.replace(self.current())  # back on the page: mount the edited table
        edited = st.data_editor(
            st.session_state[self.base_key],
            key=self.editor_key(),
            num_rows="dynamic",
            hide_index=False,
            **data_editor_options,
        )
        table = self.clean(edited)
        try:
            served.check_rows(len(table), "the table")
        except EmbedLabError as error:  # served mode: the first rows stand, the rest is said to be left out
            notes.error("{} Only the first {} rows are used.", error, f"{limits.MAX_ROWS:,}", icon="⚠️")
            table = table.iloc[: limits.MAX_ROWS]
        st.session_state[self.table_key] = table
        return table
