"""Session-state keys, namespaced by page. One place, so no two widgets collide and state survives page switches.

Keys that hold what the user chose or typed (``RAW_SPEC``, ``PAIRS``, ...) are plain session-state entries, not
widget keys: Streamlit deletes a widget's state when its page is left, these stay for the whole session.
"""

from __future__ import annotations

# Shared configurations (used by every page that embeds)
RAW_SPEC = "config.raw_spec"  # EmbedSpec of the raw pooling configuration
RAW_NOTE = "config.raw_note"  # why the default raw model is not bert-base-uncased, if it is not
TRAINED_SPEC = "config.trained_spec"  # EmbedSpec of the trained configuration

# Compare page
PAIRS = "compare.pairs"  # DataFrame: the pairs table as the user left it; prefix of the editor keys (PersistentTable)
PAIRS_UPLOAD = "compare.upload"
PAIRS_UPLOADED_ID = "compare.uploaded_id"  # file id of the last applied upload
PAIRS_FLASH = "compare.flash"  # one-shot message after an add / upload / clear
NEW_FIRST = "compare.new_sentence1"
NEW_SECOND = "compare.new_sentence2"
SELECTED_PAIR = "compare.selected_pair"


def widget_key(namespace: str, name: str) -> str:
    """Key of a page's own widget, e.g. widget_key("compare.raw", "model") -> "compare.raw.model"."""
    return f"{namespace}.{name}"


# Presentation mode (the sidebar toggle in app.py; components.presentation reads it)
PRESENTATION = "app.presentation"
