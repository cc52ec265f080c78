"""Views: a page plus the state it needs, as a small plain dict, applied to the session in ONE place.

A view's fields and their checks are declared once per page in the engine (``embedlab.views``); the same dict can
come from a Lesson button, a URL's query string or an uploaded file. Here is only the glue: ``apply_view`` checks
the whole view first and only then writes each field to its session entry (``APPLY``, one small function per
page), so a bad view changes nothing; it returns the page file to switch to.

Example:
    >>> open_view({"page": "compare", "raw": {"model": "all-MiniLM-L6-v2", "pooling": "cls", "layers": "-1",
    ...            "post": "none", "post_dims": None}, "pairs": [["What is your age?", "How old are you?"]]})
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from components.compare.pairs_table import replace_pairs
from components.negative_tests import negtest_view
from components.shared import notes, state
from components.shared.config_panels import init_specs
from components.shared.path_confirm import ask_to_open, forget_path
from components.sts import sts_view
from components.tokens import tokens_view
from embedlab.embedding.specs import EmbedSpec
from embedlab.errors import EmbedLabError
from embedlab.tasks.negtest import bundled_suite
from embedlab.tasks.sts import HUB_DATASETS, HUB_SPLITS
from embedlab.views import PAGES, SettingsFields, labelled_table, pairs_table, spec_from_fields, validate_view

ROOT = Path(__file__).resolve().parents[2]  # the repository: components/shared/ is two levels down
PAGE_FILES = {page: f"app_pages/{page}.py" for page in PAGES}  # every page a view (a link, a file) can open
PROJECTION_SETTING_WIDGETS = (
    state.PROJECTION_METHOD_WIDGET,
    state.PROJECTION_DIMS_WIDGET,
    state.PROJECTION_NEIGHBORS_WIDGET,
    state.PROJECTION_MIN_DIST_WIDGET,
    state.PROJECTION_SEEDED_WIDGET,
    state.PROJECTION_SEED_WIDGET,
    state.PROJECTION_QUERY_WIDGET,
    state.PROJECTION_PICK_WIDGET,
    state.PROJECTION_K_WIDGET,
    state.PROJECTION_RERANK_QUERY_WIDGET,
)
RETRIEVAL_WIDGETS = (
    state.RETRIEVAL_SOURCE_WIDGET,
    state.RETRIEVAL_MODELS_WIDGET,
    state.RETRIEVAL_BM25_WIDGET,
    state.RETRIEVAL_CROSS_WIDGET,
    state.RETRIEVAL_TOP_K_WIDGET,
    state.RETRIEVAL_SYSTEM_WIDGET,
    state.RETRIEVAL_QUERY_WIDGET,
)
# pages whose panels seed from RAW/TRAINED_SPEC
CONFIG_NAMESPACES = (state.COMPARE, state.PROJECTION, state.NEGTEST, tokens_view.NAMESPACE)
CROSS_NAMESPACES = (state.COMPARE, state.PROJECTION)  # pages with the cross-encoder box (state.CROSS_ENCODER)


def page_exists(page: str) -> bool:
    return page in PAGE_FILES and (ROOT / PAGE_FILES[page]).is_file()


def _forget_widgets(prefixes: tuple[str, ...]) -> None:
    """Drop widget keys so the page's widgets start again from the plain keys just written."""
    for key in [key for key in st.session_state if isinstance(key, str) and key.startswith(prefixes)]:
        del st.session_state[key]


def _store(values: dict) -> None:
    """Write the session entries a view gives; a field the view leaves out (None) leaves the session alone."""
    st.session_state.update({key: value for key, value in values.items() if value is not None})


def _set_specs(raw: EmbedSpec | None, trained: EmbedSpec | None) -> None:
    if raw is not None:
        st.session_state[state.RAW_SPEC] = raw
        st.session_state[state.POST_CORPUS["raw"]] = None  # a view's post-processing fits on the bundled sentences
    if trained is not None:
        st.session_state[state.TRAINED_SPEC] = trained
        st.session_state[state.POST_CORPUS["trained"]] = None
    sides = tuple(f"{namespace}.{side}." for namespace in CONFIG_NAMESPACES for side in ("raw", "trained"))
    _forget_widgets(sides)


def _set_cross(view: dict) -> None:
    """The view's cross-encoder, if it names one, for Compare and Projection alike (one session entry)."""
    if "cross" in view:
        st.session_state[state.CROSS_ENCODER] = view["cross"]
        _forget_widgets(tuple(state.widget_key(namespace, "cross.") for namespace in CROSS_NAMESPACES))


def _apply_compare(view: dict, raw: EmbedSpec | None, trained: EmbedSpec | None) -> None:
    _set_specs(raw, trained)
    _set_cross(view)
    if "pairs" in view:
        replace_pairs(pairs_table(view["pairs"]))
    st.session_state[state.SELECTED_PAIR] = view.get("selected_pair", 1)


def _apply_projection(view: dict, raw: EmbedSpec | None, trained: EmbedSpec | None) -> None:
    _set_specs(raw, trained)
    _set_cross(view)
    st.session_state[state.PROJECTION_SOURCE] = view.get("sentences", "bundled")
    _store(
        {
            state.PROJECTION_TEXT: view.get("text"),
            state.PROJECTION_SETTINGS: SettingsFields(**view["settings"]).settings() if "settings" in view else None,
            state.PROJECTION_QUERY: view.get("search"),
            state.PROJECTION_PICKED: view.get("picked"),
            state.PROJECTION_K: view.get("k"),
            state.PROJECTION_RERANK_QUERY: view.get("rerank"),
        }
    )
    _forget_widgets((state.PROJECTION_SOURCE_WIDGET, state.PROJECTION_TEXT_WIDGET, *PROJECTION_SETTING_WIDGETS))


def _apply_negative_tests(view: dict, raw: EmbedSpec | None, trained: EmbedSpec | None) -> None:
    _set_specs(raw, trained)
    if "table" in view:
        negtest_view.replace_pairs(labelled_table(view["table"]))
    else:  # the bundled suite, named or not
        negtest_view.replace_pairs(bundled_suite())
    st.session_state[state.NEGTEST_EXTRA_SPECS] = []
    init_specs()  # thresholds are kept per configuration: both must be known
    thresholds = view.get("thresholds", {})
    specs = {"raw": st.session_state.get(state.RAW_SPEC), "trained": st.session_state.get(state.TRAINED_SPEC)}
    for side, spec in specs.items():
        if spec is None:
            continue
        st.session_state.pop(state.negtest_threshold_widget(spec.label), None)
        value = thresholds.get(side)
        st.session_state[state.negtest_threshold(spec.label)] = None if value is None else float(value)  # None: best
    _forget_widgets((state.NEGTEST_EXTRA_KEEP,))


def _apply_sts(view: dict, raw: EmbedSpec | None, trained: EmbedSpec | None) -> None:
    """A path is never read here: it waits on the page for the user to confirm it
    (``components.shared.path_confirm``), and the page uses the bundled set meanwhile."""
    data = view.get("data", "bundled")
    _set_specs(raw, trained)
    st.session_state[state.STS_SOURCE] = data
    forget_path(state.STS)
    if data in ("bundled", "path"):
        st.session_state[state.STS_DATASET] = sts_view.bundled()
    if data == "path":
        st.session_state[state.STS_PATH] = view["path"]
        ask_to_open(state.STS, view["path"])
    if data == "hub":
        st.session_state[state.STS_HUB_DATASET], st.session_state[state.STS_HUB_SPLIT] = view.get(
            "hub", (HUB_DATASETS[0], HUB_SPLITS[0])
        )
    if "models" in view:
        st.session_state[state.STS_MODELS] = list(dict.fromkeys(view["models"]))
        failed = st.session_state.get(state.STS_FAILED, {})
        for model in view["models"]:
            failed.pop(model, None)  # try again
    _forget_widgets(
        (
            state.STS_SOURCE_WIDGET,
            state.STS_MODELS_WIDGET,
            state.STS_PATH_WIDGET,
            state.STS_HUB_DATASET_WIDGET,
            state.STS_HUB_SPLIT_WIDGET,
        )
    )


def _apply_tokens(view: dict, raw: EmbedSpec | None, trained: EmbedSpec | None) -> None:
    _set_specs(raw, None)
    if "sentences" in view:
        st.session_state[tokens_view.SENTENCES] = tuple(text.strip() for text in view["sentences"])
        _forget_widgets((tokens_view.FIRST_INPUT, tokens_view.SECOND_INPUT))


def _apply_specs_only(view: dict, raw: EmbedSpec | None, trained: EmbedSpec | None) -> None:
    _set_specs(raw, trained)


def _apply_retrieval(view: dict, raw: EmbedSpec | None, trained: EmbedSpec | None) -> None:
    """A link names the bundled set or its slice (an upload does not travel), the systems and the query shown."""
    st.session_state[state.RETRIEVAL_SOURCE] = view.get("data", "slice")
    _store(
        {
            state.RETRIEVAL_MODELS: list(dict.fromkeys(view["models"])) if "models" in view else None,
            state.RETRIEVAL_BM25: view.get("bm25"),
            state.RETRIEVAL_TOP_K: view.get("top_k"),
            state.RETRIEVAL_SYSTEM: view.get("system"),
            state.RETRIEVAL_QUERY: view.get("query"),
        }
    )
    if "cross" in view:
        st.session_state[state.RETRIEVAL_CROSS] = view["cross"]
    st.session_state[state.RETRIEVAL_FAILED] = {}  # named again: tried again
    _forget_widgets(RETRIEVAL_WIDGETS)


APPLY = {  # page -> how its view's fields go into the session (the fields themselves: embedlab.views)
    "compare": _apply_compare,
    "projection": _apply_projection,
    "negative_tests": _apply_negative_tests,
    "sts_eval": _apply_sts,
    "tokens": _apply_tokens,
    "lesson": _apply_specs_only,
    "train": _apply_specs_only,
    "retrieval": _apply_retrieval,
}


def apply_view(view: dict) -> str:
    """Write a view's state into the session. Returns the page file to open (``app_pages/<page>.py``).

    Every field but ``page`` is optional: a field left out leaves that part of the session as it is (a shared link
    leaves out a table too long for a URL). A link or a file is checked field by field first
    (``embedlab.views.check_view``), so only good fields arrive here.

    Raises:
        EmbedLabError: an unknown page, a page this app does not have, or a bad field (named). Nothing is written.
    """
    view = validate_view(view)
    page = view["page"]
    if not page_exists(page):
        raise EmbedLabError(f"This version of the app has no {page} page.")
    raw = spec_from_fields(view["raw"]) if "raw" in view else None
    trained = spec_from_fields(view["trained"]) if "trained" in view else None
    APPLY[page](view, raw, trained)
    return PAGE_FILES[page]


def open_view(view: dict) -> None:
    """Apply a view and switch to its page; a bad view shows why and stays here."""
    try:
        page_file = apply_view(view)
    except EmbedLabError as error:
        notes.error("{}", error, icon="⚠️")
        return
    st.switch_page(page_file)
