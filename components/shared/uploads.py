"""Uploads and one-shot messages, the same on every page.

``new_upload(key)`` hands over an uploaded file once: the first run that sees its file id (Streamlit keeps the
file in the widget on every later rerun, and a page must not re-apply it, e.g. over the user's later edits).
It also refuses files over ``MAX_UPLOAD_MB`` itself: the server accepts larger ones (``server.maxUploadSize`` in
.streamlit/config.toml is set higher), so a file too large is answered by a page rerun with one message, in
place of the previous upload's message, rather than by the browser beside a message that no rerun clears.

``flash(namespace, message, kind)`` leaves a message for the next place that calls ``show_flash(namespace)``,
which shows it once: after an upload, an add or a clear, whether or not the page reruns in between.
"""

from __future__ import annotations

from typing import Literal

import streamlit as st
from streamlit.runtime.uploaded_file_manager import UploadedFile

from components.shared import notes
from embedlab import served
from embedlab.errors import EmbedLabError

MAX_UPLOAD_MB = 20
Kind = Literal["success", "error", "info", "warning"]
ICONS = {"success": "✅", "error": "⚠️", "info": "ℹ️", "warning": "⚠️"}


def new_upload(key: str) -> UploadedFile | None:
    """The file in the uploader ``key`` (rendered above), only the first time its file id is seen, else None.

    Raises:
        EmbedLabError: the new file is larger than ``MAX_UPLOAD_MB``, or in served mode than
            ``embedlab.served.MAX_UPLOAD_MB`` (it counts as seen: it is not read).
    """
    upload = st.session_state.get(key)
    if not isinstance(upload, UploadedFile) or st.session_state.get(f"{key}.seen") == upload.file_id:
        return None
    st.session_state[f"{key}.seen"] = upload.file_id
    if upload.size > MAX_UPLOAD_MB * 1024 * 1024:
        raise EmbedLabError(
            f"{upload.name} is {upload.size / 1024 / 1024:.1f} MB; uploads are limited to {MAX_UPLOAD_MB} MB: "
            "keep the rows you need, or give the file's path to the command line (`python -m embedlab ...`)."
        )
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
