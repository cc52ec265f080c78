"""The one exception type a user can cause."""

from __future__ import annotations


class EmbedLabError(Exception):
    """An error caused by the user's input: the message says what to do next.

    Pages show it with ``st.error``; the command line prints it on one line and exits 2.
    """
