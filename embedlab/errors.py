"""The one exception type a user can cause, and the one sentence for what a model cannot do."""

from __future__ import annotations

from collections.abc import Sequence


class EmbedLabError(Exception):
    """An error caused by the user's input: the message says what to do next.

    Pages show it with ``st.error``; the command line prints it on one line and exits 2.
    """


def refusal(ref: str, what_it_is: str, lacks: str, asked: Sequence[str] | str, instead: str = "") -> str:
    """The one message for something a model cannot do: "REF WHAT_IT_IS and LACKS, so ASKED cannot apply to it."

    Every kind of scorer (``embedlab.scorers``) words its own nature (``what_it_is``: "is a cross-encoder: it
    scores a pair in one pass") and what it lacks (``lacks``: "has no sentence vector"); the sentence is this one.
    """
    asked = asked if isinstance(asked, str) else ", ".join(asked)
    return f"{ref} {what_it_is} and {lacks}, so {asked} cannot apply to it." + (f" {instead}" if instead else "")
