"""Views: a page plus the state it needs, as a small plain dict, applied to the session in ONE place.

A view (see ``embedlab.tasks.lesson`` for the format) is JSON-serialisable, so the same dict can come from a Lesson
button, a URL's query string or an uploaded file. ``apply_view`` checks the whole view first and only then
writes the session state, so a bad view changes nothing; it returns the page file to switch to.

Example:
    >>> open_view({"page": "compare", "raw": {"model": "all-MiniLM-L6-v2", "pooling": "cls", "layers": "-1",
    ...            "post": "none", "post_dims": None}, "pairs": [["What is your age?", "How old are you?"]]})
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from components import negtest_view, state, sts_view
from components.pairs_table import replace_pairs
from embedlab.data.pairtable import PAIR_COLUMNS
from embedlab.embedding.specs import EmbedSpec
from embedlab.errors import EmbedLabError
from embedlab.tasks.lesson import PAGES, spec_from_fields
from embedlab.tasks.negtest import bundled_suite

ROOT = Path(__file__).resolve().parent.parent
PAGE_FILES = {page: f"app_pages/{page}.py" for page in PAGES}
CONFIG_NAMESPACES = (state.COMPARE, state.PROJECTION, state.NEGTEST)  # pages whose panels seed from RAW/TRAINED_SPEC


def page_exists(page: str) -> bool:
    return page in PAGE_FILES and (ROOT / PAGE_FILES[page]).is_file()


def _pairs(value: object) -> pd.DataFrame:
    if not isinstance(value, list) or not all(
        isinstance(pair, list | tuple) and len(pair) == 2 and all(isinstance(text, str) for text in pair)
        for pair in value
    ):
        raise EmbedLabError("A view's pairs must be a list of [sentence1, sentence2] pairs of text.")
    return pd.DataFrame([list(pair) for pair in value], columns=PAIR_COLUMNS)


def _forget_widgets(prefixes: tuple[str, ...]) -> None:
    """Drop widget keys so the page's widgets start again from the plain keys just written."""
    for key in [key for key in st.session_state if isinstance(key, str) and key.startswith(prefixes)]:
        del st.session_state[key]


def _set_specs(raw: EmbedSpec | None, trained: EmbedSpec | None) -> None:
    if raw is not None:
        st.session_state[state.RAW_SPEC] = raw
        st.session_state[state.POST_CORPUS["raw"]] = None  # a view's post-processing fits on the bundled sentences
    if trained is not None:
        st.session_state[state.TRAINED_SPEC] = trained
        st.session_state[state.POST_CORPUS["trained"]] = None
    sides = tuple(f"{namespace}.{side}." for namespace in CONFIG_NAMESPACES for side in ("raw", "trained"))
    _forget_widgets(sides)


def apply_view(view: dict) -> str:
    """Write a view's state into the session. Returns the page file to open (``app_pages/<page>.py``).

    Raises:
        EmbedLabError: an unknown page, a page this app does not have, or a malformed field. Nothing is written.
    """
    if not isinstance(view, dict):
        raise EmbedLabError("A view must be a dict with at least a page.")
    page = view.get("page")
    if page not in PAGE_FILES:
        raise EmbedLabError(f"Unknown page {page!r}: one of {', '.join(PAGES)}.")
    if not page_exists(page):
        raise EmbedLabError(f"This version of the app has no {page} page.")
    raw = spec_from_fields(view["raw"]) if "raw" in view else None
    trained = spec_from_fields(view["trained"]) if "trained" in view else None
    if trained is not None and trained.pooling != "model":
        raise EmbedLabError("The trained configuration always uses the model's own pipeline (pooling 'model').")

    if page == "compare":
        pairs = _pairs(view.get("pairs", []))
        selected = view.get("selected_pair", 1)
        if not isinstance(selected, int) or not 1 <= selected <= max(1, len(pairs)):
            raise EmbedLabError(f"selected_pair must be a row number from 1 to {len(pairs)}, not {selected!r}.")
        _set_specs(raw, trained)
        replace_pairs(pairs)
        st.session_state[state.SELECTED_PAIR] = selected
    elif page == "projection":
        if view.get("sentences", "bundled") != "bundled":
            raise EmbedLabError("A projection view can only name the bundled sentences.")
        _set_specs(raw, trained)
        st.session_state[state.PROJECTION_SOURCE] = "bundled"
        _forget_widgets((state.PROJECTION_SOURCE_WIDGET,))
    elif page == "negative_tests":
        if view.get("suite", "bundled") != "bundled":
            raise EmbedLabError("A negative-test view can only name the bundled suite.")
        _set_specs(raw, trained)
        negtest_view.replace_pairs(bundled_suite())
        st.session_state[state.NEGTEST_EXTRA_SPECS] = []
        for spec in (raw, trained):
            if spec is not None:  # the best threshold, as the step shows
                st.session_state.pop(state.negtest_threshold(spec.label), None)
                st.session_state.pop(state.negtest_threshold_widget(spec.label), None)
        _forget_widgets((state.NEGTEST_EXTRA_KEEP,))
    elif page == "sts_eval":
        models = view.get("models")
        if view.get("data", "bundled") != "bundled":
            raise EmbedLabError("An STS view can only name the bundled set.")
        if not isinstance(models, list) or not models or not all(isinstance(m, str) and m.strip() for m in models):
            raise EmbedLabError("An STS view needs a list of model names.")
        _set_specs(raw, trained)
        st.session_state[state.STS_SOURCE] = "bundled"
        st.session_state[state.STS_DATASET] = sts_view.bundled()
        st.session_state[state.STS_MODELS] = list(dict.fromkeys(models))
        failed = st.session_state.get(state.STS_FAILED, {})
        for model in models:
            failed.pop(model, None)  # try again
        _forget_widgets((state.STS_SOURCE_WIDGET, state.STS_MODELS_WIDGET))
    else:
        _set_specs(raw, trained)
    return PAGE_FILES[page]


def open_view(view: dict) -> None:
    """Apply a view and switch to its page; a bad view shows why and stays here."""
    try:
        page_file = apply_view(view)
    except EmbedLabError as error:
        st.error(str(error), icon="⚠️")
        return
    st.switch_page(page_file)
