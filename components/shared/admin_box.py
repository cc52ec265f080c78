"""The teacher's admin token, typed once in the sidebar: it lets this session stop any training run.

Shown only when the server was started with ``EMBEDLAB_ADMIN_TOKEN``. What is typed is compared with
``hmac.compare_digest`` (``embedlab.training.queue.admin_token_matches``) and then dropped from the session: only
the outcome (``ADMIN``: True) is kept, so the token is never echoed, put in a link or in a shared view.
"""

from __future__ import annotations

import streamlit as st

from embedlab.settings import get_settings
from embedlab.training.queue import admin_token_matches

ADMIN = "admin.granted"  # True once this session typed the admin token
TOKEN_BOX = "admin.token"
REFUSED = "admin.refused"


def is_admin() -> bool:
    return bool(st.session_state.get(ADMIN)) and get_settings().admin_token is not None


def _check() -> None:
    typed = st.session_state.get(TOKEN_BOX, "")
    st.session_state[TOKEN_BOX] = ""  # never kept, never echoed
    granted = admin_token_matches(typed)
    st.session_state[ADMIN] = granted
    st.session_state[REFUSED] = bool(typed) and not granted


def sidebar_box() -> None:
    """The admin token box (only when the server has an admin token), or a line saying this session is admin."""
    if get_settings().admin_token is None:
        return
    if is_admin():
        st.caption("Admin: you can stop or cancel any training run.")
        return
    st.text_input("Admin token (teachers)", type="password", key=TOKEN_BOX, on_change=_check)
    if st.session_state.get(REFUSED):
        st.caption("That is not this server's admin token.")
