"""Served mode in the pages (``embedlab.served``): the sidebar's statement of the limits, and the message that
stands where a path box would be.

The refusals themselves live in the engine's two gates (``embedlab.data.paths.served_data_gate``,
``embedlab.models.identity.served_model_gate``): whatever reaches them, a link, a view file or a box, is refused
there. Here the pages only stop offering server paths.
"""

from __future__ import annotations

from components.shared import notes
from embedlab.served import PREFIX, limits_text, served_mode

__all__ = ["no_path_note", "served_mode", "sidebar_note"]


def sidebar_note() -> None:
    """In served mode, the limits in the sidebar ("Served mode: ... limits"); nothing otherwise."""
    if served_mode():
        notes.info("{}", limits_text(), icon=":material/lock:")


def no_path_note(what: str, instead: str = "") -> None:
    """Where a path box would be: why there is none, and what to do instead (``instead`` adds the other choices)."""
    notes.info(
        "{}: it opens no {} by a path typed here: upload the file instead{}.",
        PREFIX,
        what,
        instead,
        icon=":material/lock:",
    )
