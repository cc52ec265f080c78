"""Shareable links: the view a page shows, in its URL's query string and in a small JSON file.

One view dict travels three ways: a Lesson button, the URL, a downloaded file. Its fields, their checks and how they
travel in a URL are declared once per page in the engine (``embedlab.views``). Here is the Streamlit glue:

- ``current_view(page)`` reads the view a page shows from the session;
- ``query_from_view(view)`` turns it into query parameters, leaving out what would make the URL too long
  (over ``MAX_URL_CHARS``) with a note;
- ``start_of_run(page)`` applies the URL once per session (first run, before any widget of the page exists) or a
  view file just uploaded, field by field: a bad or unknown field is left out with a note naming it, never an
  exception; ``end_of_run(page)`` writes the URL again when the view changed, and draws the sidebar's
  Download view / Upload view.

A file path in a view (STS evaluation's ``path``) is never opened on arrival: the page shows it and waits for the
user to confirm it (``components.shared.path_confirm``).
"""

from __future__ import annotations

import json
from dataclasses import replace
from urllib.parse import urlencode

import pandas as pd
import streamlit as st

from components.negative_tests import negtest_view
from components.shared import notes as page_notes  # `notes` here is a list of notes
from components.shared import state
from components.shared.apply_view import PAGE_FILES, apply_view
from components.shared.services import get_cross_scorer, load_encoder
from components.shared.uploads import new_upload
from components.tokens import tokens_view
from embedlab.embedding.specs import spec_fields
from embedlab.errors import EmbedLabError
from embedlab.tasks.negtest import bundled_suite
from embedlab.views import (
    MAX_URL_CHARS,
    STREAMLIT_PARAMS,
    WORDS,
    Where,
    check_layers_for,
    check_view,
    decode_untrusted_json,
    params_from_view,
    settings_fields,
    spec_from_fields,
    view_from_params,
)

__all__ = ["MAX_URL_CHARS", "end_of_run", "query_from_view", "read_view_file", "start_of_run"]
APPLIED = "share.applied"  # the URL has been applied in this session
NOTES = "share.notes"  # [(kind, text)] about the link or file just applied, shown until the view changes
LAST_QUERY = "share.last_query"  # the query string written at the end of the last run
PENDING = "share.pending"  # an uploaded view, applied at the start of the next run
UPLOAD = "share.upload"


def _dump(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def query_from_view(view: dict) -> tuple[dict[str, str], list[str]]:
    """Query parameters for a view (the page itself is the URL's path), and notes on what was left out."""
    return params_from_view(view)


# ---------------------------------------------------------------- the view a page shows


def _spec_field(view: dict, side: str, notes: list[str]) -> None:
    spec = st.session_state.get(state.RAW_SPEC if side == "raw" else state.TRAINED_SPEC)
    if spec is None:
        return
    if spec.post_corpus is not None:
        spec = replace(spec, post_corpus=None)
        notes.append(
            f"The {side} post-processing is fitted on your sentences; a shared view fits it on the bundled set."
        )
    view[side] = spec_fields(spec)


def _specs(view: dict, notes: list[str]) -> None:
    _spec_field(view, "raw", notes)
    _spec_field(view, "trained", notes)


def _compare(view: dict, notes: list[str]) -> None:
    _specs(view, notes)
    table = st.session_state.get(state.PAIRS)
    if isinstance(table, pd.DataFrame):
        view["pairs"] = [[str(a), str(b)] for a, b in table[["sentence1", "sentence2"]].fillna("").to_numpy()]
    selected = st.session_state.get(state.SELECTED_PAIR)
    if isinstance(selected, int) and selected >= 1:
        view["selected_pair"] = selected
    _cross(view)


def _cross(view: dict) -> None:
    cross = st.session_state.get(state.CROSS_ENCODER)
    if cross:
        view["cross"] = cross


def _projection(view: dict, notes: list[str]) -> None:
    _specs(view, notes)
    source = _shareable_source(state.PROJECTION_SOURCE, "sentence file", notes)
    view["sentences"] = source
    if source == "text":
        view["text"] = st.session_state.get(state.PROJECTION_TEXT, "")
    settings = st.session_state.get(state.PROJECTION_SETTINGS)
    if settings is not None:
        view["settings"] = settings_fields(settings)
    for field, key in (("search", state.PROJECTION_QUERY), ("picked", state.PROJECTION_PICKED)):
        value = st.session_state.get(key)
        if value not in (None, ""):
            view[field] = value
    if state.PROJECTION_K in st.session_state:
        view["k"] = st.session_state[state.PROJECTION_K]
    _cross(view)
    rerank = st.session_state.get(state.PROJECTION_RERANK_QUERY)
    if rerank:
        view["rerank"] = rerank


def _negative_tests(view: dict, notes: list[str]) -> None:
    _specs(view, notes)
    table = st.session_state.get(negtest_view.PAIRS_TABLE.table_key)
    if isinstance(table, pd.DataFrame) and not _same_table(table, bundled_suite()):
        view["table"] = [
            [str(row.sentence1), str(row.sentence2), None if pd.isna(row.label) else int(row.label), _text(row)]
            for row in table.itertuples()
        ]
    else:
        view["suite"] = "bundled"
    thresholds = {}
    for side in ("raw", "trained"):
        spec = st.session_state.get(state.RAW_SPEC if side == "raw" else state.TRAINED_SPEC)
        value = None if spec is None else st.session_state.get(state.negtest_threshold(spec.label))
        if value is not None:
            thresholds[side] = float(value)
    if thresholds:
        view["thresholds"] = thresholds
    if st.session_state.get(state.NEGTEST_EXTRA_SPECS):
        notes.append("The configurations added under 'More configurations' are not part of a shared view.")


def _sts(view: dict, notes: list[str]) -> None:
    view["models"] = list(st.session_state.get(state.STS_MODELS, []))
    source = _shareable_source(state.STS_SOURCE, "STS file", notes)
    view["data"] = source
    if source == "path":
        view["path"] = st.session_state.get(state.STS_PATH, "")
    elif source == "hub":
        view["hub"] = [st.session_state.get(state.STS_HUB_DATASET), st.session_state.get(state.STS_HUB_SPLIT)]


def _tokens(view: dict, notes: list[str]) -> None:
    _spec_field(view, "raw", notes)
    sentences = st.session_state.get(tokens_view.SENTENCES)
    if sentences:
        view["sentences"] = list(sentences)


def _retrieval(view: dict, notes: list[str]) -> None:
    view["data"] = _shareable_source(state.RETRIEVAL_SOURCE, "retrieval data set", notes)
    view["models"] = list(st.session_state.get(state.RETRIEVAL_MODELS, []))
    view["bm25"] = bool(st.session_state.get(state.RETRIEVAL_BM25, False))
    for field, key in (("cross", state.RETRIEVAL_CROSS), ("top_k", state.RETRIEVAL_TOP_K)):
        if st.session_state.get(key) is not None:
            view[field] = st.session_state[key]
    for field, key in (("system", state.RETRIEVAL_SYSTEM), ("query", state.RETRIEVAL_QUERY)):
        if st.session_state.get(key):
            view[field] = st.session_state[key]


READ = {  # page -> how its view's fields are read from the session (the fields themselves: embedlab.views)
    "compare": _compare,
    "projection": _projection,
    "negative_tests": _negative_tests,
    "sts_eval": _sts,
    "tokens": _tokens,
    "lesson": _specs,
    "retrieval": _retrieval,
}


def current_view(page: str) -> tuple[dict, list[str]]:
    """The view the page shows now (read from the session), and notes on what a view cannot carry."""
    view: dict = {"page": page}
    notes: list[str] = []
    if page in READ:
        READ[page](view, notes)
    return view, notes


def _shareable_source(key: str, what: str, notes: list[str]) -> str:
    """The page's data source under ``key`` as a link can carry it: an upload is not in the link, so it becomes
    the bundled set, with a note saying so."""
    source = st.session_state.get(key, "bundled")
    if source != "upload":
        return source
    notes.append(f"An uploaded {what} is not part of a shared view: the link opens the bundled set.")
    return "bundled"


def _text(row) -> str:
    category = getattr(row, "category", "")
    return "" if category is None or (not isinstance(category, str) and pd.isna(category)) else str(category)


def _same_table(table: pd.DataFrame, other: pd.DataFrame) -> bool:
    columns = ["sentence1", "sentence2", "label"]
    if len(table) != len(other):
        return False
    left = table[columns].reset_index(drop=True).astype(str)
    right = other[columns].reset_index(drop=True).astype(str)
    return left.equals(right)


# ---------------------------------------------------------------- applying a view


def _load_models(view: dict, notes: list[str], where: Where) -> None:
    """Drop a configuration whose model cannot be loaded, or whose layers that model does not have (the page keeps
    the one in use), with a note naming it."""
    whose, kind = WORDS[where]
    for side in ("raw", "trained"):
        if side not in view:
            continue
        spec = spec_from_fields(view[side])
        try:
            with st.spinner(f"Loading {spec.model} for the shared view…"):
                encoder = load_encoder(spec.model)
            check_layers_for(spec, encoder.model.n_hidden_states)
        except EmbedLabError as error:
            del view[side]
            notes.append(f"Ignored the {whose} {kind} `{side}`: {error}")
    if "cross" in view:
        try:  # the served-mode gate and the cross-encoder check, as in the cross-encoder box
            with st.spinner(f"Loading the cross-encoder {view['cross']} for the shared view…"):
                get_cross_scorer(view["cross"])
        except EmbedLabError as error:
            del view["cross"]
            notes.append(f"Ignored the {whose} {kind} `cross`: {error}")


def apply_shared(view: dict, where: Where = "link") -> list[str]:
    """Apply a checked view from a link or a file; returns notes. Never raises: a view that cannot apply changes
    nothing."""
    notes: list[str] = []
    _load_models(view, notes, where)
    try:
        apply_view(view)
    except EmbedLabError as error:
        notes.append(f"Ignored the {WORDS[where][0]} view: {error}")
    return notes


def start_of_run(page: str) -> None:
    """Apply the URL's view once per session, or a view file uploaded on the last run; show the notes."""
    pending = st.session_state.pop(PENDING, None)
    if pending is not None:
        view, notes = pending
        notes = notes + apply_shared(view, "file")
        opened = "Opened the uploaded view" + (", except what the notes below say." if notes else ".")
        st.session_state[NOTES] = [("success", opened), *(("warning", n) for n in notes)]
        st.session_state[APPLIED] = True
        st.session_state.pop(LAST_QUERY, None)
        if view.get("page") != page and view.get("page") in PAGE_FILES:
            st.switch_page(PAGE_FILES[view["page"]])
    elif not st.session_state.get(APPLIED):
        st.session_state[APPLIED] = True
        params = st.query_params.to_dict()
        if any(param not in STREAMLIT_PARAMS for param in params):
            view, notes = view_from_params(page, params)
            notes += apply_shared(view) if len(view) > 1 else []
            st.session_state[NOTES] = [("warning", note) for note in notes]
    for kind, note in st.session_state.get(NOTES, []):
        page_notes.show(kind, "{}", note, icon="⚠️" if kind == "warning" else "✅")


def end_of_run(page: str) -> None:
    """Write the view into the URL when it changed; the sidebar's Download view / Upload view and notes."""
    view, notes = current_view(page)
    params, left_out = query_from_view(view)
    query = urlencode(params)
    previous = st.session_state.get(LAST_QUERY)
    if previous is not None and previous != query:
        st.session_state.pop(NOTES, None)  # the user changed the view: the notes about the link are done
    if query != previous or st.query_params.to_dict() != params:
        st.query_params.from_dict(params)  # updates the address bar; no rerun
    st.session_state[LAST_QUERY] = query
    with st.sidebar:
        st.markdown("**Share this view**")
        st.caption("The address bar holds this page's view: copy it to share. A file holds everything.")
        for note in [*left_out, *notes]:
            page_notes.caption("ℹ️ {}", note)
        st.download_button(
            "Download view",
            _dump(view).encode("utf-8"),
            f"embedding-lab-{page}-view.json",
            mime="application/json",
            icon=":material/download:",
            key="share.download",
        )
        st.file_uploader("Upload view", type=["json"], key=UPLOAD, help="A view file from Download view.")
        upload_view()


def read_view_file(data: bytes) -> tuple[dict, list[str]]:
    """A view file's dict, checked field by field like a URL (bad fields are left out with a note).

    Raises:
        EmbedLabError: not a JSON view of a page this app has.
    """
    try:
        view = decode_untrusted_json(data, "This file")
    except EmbedLabError as error:
        raise EmbedLabError(f"{error} A view file from Download view expected.") from None
    return check_view(view, "file")


def upload_view() -> None:
    try:
        upload = new_upload(UPLOAD)
        if upload is None:
            return
        view, notes = read_view_file(upload.getvalue())
    except EmbedLabError as error:
        page_notes.error("{}", error, icon="⚠️")
        return
    st.session_state[PENDING] = (view, notes)
    st.rerun()
