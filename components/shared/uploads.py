"""Uploads and one-shot messages, the same on every page.

``new_upload(key)`` hands over an uploaded file once: the first run that sees its file id (Streamlit keeps the
file in the widget on every later rerun, and a page must not re-apply it, e.g. over the user's later edits).
It also refuses files over the upload limit in force itself (``embedlab.served.check_upload``:
``embedlab.limits.MAX_UPLOAD_MB``, lower in served mode), with one message that quotes it, whatever the server
in front of it let through.

``flash(namespace, message, kind)`` leaves a message for the next place that calls ``show_flash(namespace)``,
which shows it once: after an upload, an add or a clear, whether or not the page reruns in between.
"""

from __future__ import annotations

from typing import Literal

import streamlit as st
from streamlit.runtime.uploaded_file_manager import UploadedFile

from components.shared import notes
from embedlab import served

Kind = Literal["success", "error", "info", "warning"]
ICONS = {"success": "✅", "error": "⚠️", "info": "ℹ️", "warning": "⚠️"}


def new_upload(key: str) -> UploadedFile | None:
    """The file in the uploader ``key`` (rendered above), only the first time its file id is seen, else None.

    Raises:
        EmbedLabError: the new file is larger than the upload limit in force (``embedlab.served.check_upload``);
            it counts as seen: it is not read.
    """
    upload = st.session_state.get(key)
    if not isinstance(upload, UploadedFile) or st.session_state.get(f"{key}.seen") == upload.file_id:
        return None
    st.session_state[f"{key}.seen"] = upload.file_id
    served.check_upload(upload.size, upload.name)
    return upload


def flash(namespace: str, message: str, kind: Kind = "success") -> None:
    """Leave a one-shot message for ``show_flash(namespace)`` (replacing any message not shown yet)."""
    st.session_state[f"{namespace}.flash"] = (kind, message)


def show_flash(namespace: str) -> None:
    """Show the message left by ``flash``, once."""
    if found := st.session_state.pop(f"{namespace}.flash", None):
        kind, message = found
        notes.show(kind, "{}", message, icon=ICONS[kind])
