"""A file path that did not come from the user's own typing (a link, a view file) waits for the user to confirm it.

A link can name any path on the server; opening it on arrival would let whoever wrote the link read files through
the page (or learn whether they exist). So a page that receives a path from a shared view calls
``ask_to_open(owner, path)`` instead of reading it, and on every run ``confirmed_path(owner, what, default)``
shows the path with an **Open this file** button, says the page uses its default data until then, and returns the
path only on the run the user pressed the button. The file itself is then read by the engine's readers, behind
``embedlab.data.paths.data_file`` (the one check on which files may be opened at all).

Example (a page that reads a path it got from a view):
    >>> path = confirmed_path(state.STS, "STS file", "the small bundled set")
    >>> if path is not None:
    ...     pairs = read_scored_pairs(path)
"""

from __future__ import annotations

import streamlit as st

from components.shared import notes

PENDING = "paths.pending"  # {owner namespace: a path from a link or view file, not opened yet}
CONFIRMED = "paths.confirmed"  # {owner namespace}: the user pressed Open this file (read on this run)


def ask_to_open(owner: str, path: str) -> None:
    """Keep ``path`` (from a link or a view file) for the user to confirm on ``owner``'s page; nothing is read."""
    st.session_state.setdefault(PENDING, {})[owner] = path


def pending_path(owner: str) -> str | None:
    """The path waiting for confirmation on ``owner``'s page, if any."""
    return st.session_state.get(PENDING, {}).get(owner)


def forget_path(owner: str) -> None:
    """The user chose other data (or typed and loaded a path themselves): nothing waits any more."""
    st.session_state.get(PENDING, {}).pop(owner, None)


def confirmed_path(owner: str, what: str, default: str) -> str | None:
    """Show a waiting path with an **Open this file** button; return it on the run the user pressed the button.

    Args:
        owner: the page's namespace (one waiting path per page).
        what: what the file is, for the message ("STS file", "training file").
        default: what the page uses until then ("the small bundled set").

    Returns:
        The path to read now, or None (nothing waiting, or not confirmed yet).
    """
    path = pending_path(owner)
    if path is None:
        return None
    if owner in st.session_state.get(CONFIRMED, set()):  # pressed on the last run (set by its on_click)
        st.session_state[CONFIRMED].discard(owner)
        forget_path(owner)
        return path
    with st.container(border=True):
        notes.warning(
            "The shared view names a file on this server ({}): it is not opened until you confirm it. "
            "Until then the page uses {}.",
            what,
            default,
            icon="🔒",
        )
        st.code(path, language=None, wrap_lines=True)
        open_col, skip_col = st.columns(2)
        open_col.button(
            "Open this file",
            key=f"{owner}.open_shared_path",
            icon=":material/folder_open:",
            on_click=_confirm,
            args=(owner,),
        )
        skip_col.button("Keep the default data", key=f"{owner}.skip_shared_path", on_click=forget_path, args=(owner,))
    return None


def _confirm(owner: str) -> None:
    st.session_state.setdefault(CONFIRMED, set()).add(owner)
