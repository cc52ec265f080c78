"""Shareable links: the view a page shows, in its URL's query string and in a small JSON file.

One view dict (``components.views``) travels three ways: a Lesson button, the URL, a downloaded file. Here:

- ``current_view(page)`` reads the view a page shows from the session;
- ``query_from_view(view)`` turns it into query parameters, leaving out what would make the URL too long
  (over ``MAX_URL_CHARS``) with a note;
- ``view_from_query(page, params)`` reads parameters back, one by one: a bad or unknown parameter is left out
  with a note naming it, never an exception;
- ``start_of_run(page)`` applies the URL once per session (first run, before any widget of the page exists) or a
  view file just uploaded; ``end_of_run(page)`` writes the URL again when the view changed, and draws the sidebar's
  Download view / Upload view.

Parameters (values are JSON where they are not plain text): ``raw``, ``trained`` (configuration fields), Compare:
``pairs``, ``pair``; Projection: ``source``, ``text``, ``settings``, ``search``, ``picked``, ``k``; Negative tests:
``suite``, ``table``, ``thresholds``; STS evaluation: ``models``, ``data``, ``path``, ``hub``; Tokens & layers:
``sentences``.
"""

from __future__ import annotations

import json
from dataclasses import replace
from urllib.parse import urlencode

import pandas as pd
import streamlit as st

from components import negtest_view, state, tokens_view
from components.services import load_encoder
from components.sts_view import HUB_DATASETS, HUB_SPLITS
from components.uploads import new_upload
from components.views import (
    PAGE_FILES,
    apply_view,
    labelled_frame,
    pairs_frame,
    projection_settings,
    settings_fields,
    text_value,
    threshold_value,
    whole_number,
)
from embedlab.errors import EmbedLabError
from embedlab.tasks.lesson import spec_fields, spec_from_fields
from embedlab.tasks.negtest import bundled_suite

MAX_URL_CHARS = 2000  # a query string longer than this leaves its long tables out
APPLIED = "share.applied"  # the URL has been applied in this session
NOTES = "share.notes"  # [(kind, text)] about the link or file just applied, shown until the view changes
LEFT_OUT = "share.left_out"  # what the URL leaves out of the current view (too long), shown in the sidebar
LAST_QUERY = "share.last_query"  # the query string written at the end of the last run
PENDING = "share.pending"  # an uploaded view, applied at the start of the next run
UPLOAD = "share.upload"
STREAMLIT_PARAMS = ("embed", "embed_options")  # Streamlit's own parameters: not the view's
JSON_PARAMS = ("raw", "trained", "pairs", "settings", "table", "thresholds", "models", "hub", "sentences")
TEXT_PARAMS = ("source", "text", "search", "suite", "data", "path")
INT_PARAMS = ("pair", "picked", "k")
PAGE_PARAMS = {  # URL parameter -> view field, per page
    "compare": {"raw": "raw", "trained": "trained", "pairs": "pairs", "pair": "selected_pair"},
    "projection": {
        "raw": "raw",
        "trained": "trained",
        "source": "sentences",
        "text": "text",
        "settings": "settings",
        "search": "search",
        "picked": "picked",
        "k": "k",
    },
    "negative_tests": {
        "raw": "raw",
        "trained": "trained",
        "suite": "suite",
        "table": "table",
        "thresholds": "thresholds",
    },
    "sts_eval": {"models": "models", "data": "data", "path": "path", "hub": "hub"},
    "tokens": {"raw": "raw", "sentences": "sentences"},
    "lesson": {"raw": "raw", "trained": "trained"},
}
LONG_FIELDS = ("pairs", "table", "text")  # left out of a URL that would be too long, longest first


def _dump(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _url_length(params: dict[str, str]) -> int:
    return len(urlencode(params))


# ---------------------------------------------------------------- view <-> query string


def query_from_view(view: dict) -> tuple[dict[str, str], list[str]]:
    """Query parameters for a view (the page itself is the URL's path), and notes on what was left out."""
    fields = {field: param for param, field in PAGE_PARAMS.get(view.get("page"), {}).items()}
    params = {}
    for field, value in view.items():
        if field in fields and value is not None:
            params[fields[field]] = value if isinstance(value, str) and fields[field] in TEXT_PARAMS else _dump(value)
    notes = []
    for field in LONG_FIELDS:
        param = fields.get(field)
        if param in params and _url_length(params) > MAX_URL_CHARS:
            length = len(urlencode({param: params.pop(param)}))
            notes.append(
                f"The {field} ({length:,} characters) make the link too long, so it leaves them out: "
                "use **Download view** to share them."
            )
    return params, notes


def view_from_query(page: str, params: dict[str, str | list[str]]) -> tuple[dict, list[str]]:
    """The view a URL names, and one note per parameter left out (unknown, malformed, or refused on its own)."""
    known = PAGE_PARAMS.get(page, {})
    view: dict = {"page": page}
    notes = []
    for param, raw_value in params.items():
        if param in STREAMLIT_PARAMS:
            continue
        value = raw_value[-1] if isinstance(raw_value, list) else raw_value
        if param not in known:
            notes.append(f"Ignored the link's parameter `{param}`: this page does not use it.")
            continue
        try:
            view[known[param]] = _parse(param, value)
            apply_check = {"page": page, known[param]: view[known[param]]}
            _check_alone(apply_check)
        except (EmbedLabError, TypeError, ValueError) as error:
            view.pop(known[param], None)
            notes.append(f"Ignored the link's parameter `{param}`: {error}")
    selected, pairs = view.get("selected_pair"), view.get("pairs")
    if selected is not None and pairs is not None and selected > len(pairs):
        del view["selected_pair"]
        notes.append(f"Ignored the link's parameter `pair`: row {selected} does not exist (the link has {len(pairs)}).")
    return view, notes


def _parse(param: str, value: str) -> object:
    if param in INT_PARAMS:
        try:
            return int(value)
        except ValueError:
            raise EmbedLabError(f"{value!r:.40} is not a whole number.") from None
    if param in JSON_PARAMS:
        try:
            return json.loads(value)
        except ValueError:
            raise EmbedLabError(f"{value!r:.40} is not readable (JSON expected).") from None
    return value


def _thresholds(value: object) -> None:
    if not isinstance(value, dict) or set(value) - {"raw", "trained"}:
        raise EmbedLabError("thresholds must be a dict with raw and/or trained.")
    for side, threshold in value.items():
        threshold_value(threshold, side)


def _models(value: object) -> None:
    if not isinstance(value, list) or not value or not all(isinstance(m, str) and m.strip() for m in value):
        raise EmbedLabError("models must be a non-empty list of model names.")


def _hub(value: object) -> None:
    if not isinstance(value, list) or len(value) != 2 or value[0] not in HUB_DATASETS or value[1] not in HUB_SPLITS:
        raise EmbedLabError(f"hub must be [dataset, split] among {', '.join(HUB_DATASETS)} / {', '.join(HUB_SPLITS)}.")


def _sentences(page: str, value: object) -> None:
    if page == "tokens" and (
        not isinstance(value, list)
        or not 1 <= len(value) <= 2
        or not all(isinstance(text, str) and text.strip() and len(text) <= 2000 for text in value)
    ):
        raise EmbedLabError("sentences must be one or two non-empty texts.")


def _check_alone(view: dict) -> None:
    """Check one field as a view of its own would be checked, without writing anything (a dry run)."""
    page = view["page"]
    for side in ("raw", "trained"):
        if side in view:
            spec = spec_from_fields(view[side])
            if side == "trained" and spec.pooling != "model":
                raise EmbedLabError("the trained configuration always uses the model's own pipeline.")
    checks = {
        "pairs": pairs_frame,
        "table": labelled_frame,
        "settings": projection_settings,
        "selected_pair": lambda value: whole_number(value, "pair", 1, 100_000),
        "picked": lambda value: whole_number(value, "picked sentence", 0, 100_000),
        "k": lambda value: whole_number(value, "number of neighbours", 1, 20),
        "text": lambda value: text_value(value, "text"),
        "search": lambda value: text_value(value, "search", 200),
        "path": lambda value: text_value(value, "path", 1000),
        "thresholds": _thresholds,
        "models": _models,
        "hub": _hub,
    }
    for field, check in checks.items():
        if field in view:
            check(view[field])
    if "sentences" in view:
        _sentences(page, view["sentences"])
    if page == "projection" and view.get("sentences", "bundled") not in ("bundled", "pairs", "text"):
        raise EmbedLabError("the source is bundled, pairs or text.")
    if page == "negative_tests" and view.get("suite", "bundled") != "bundled":
        raise EmbedLabError("the only suite is 'bundled'.")
    if page == "sts_eval" and view.get("data", "bundled") not in ("bundled", "path", "hub"):
        raise EmbedLabError("the data is bundled, path or hub.")


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


def current_view(page: str) -> tuple[dict, list[str]]:
    """The view the page shows now (read from the session), and notes on what a view cannot carry."""
    view: dict = {"page": page}
    notes: list[str] = []
    if page in ("compare", "projection", "negative_tests", "lesson"):
        _spec_field(view, "raw", notes)
        _spec_field(view, "trained", notes)
    elif page == "tokens":
        _spec_field(view, "raw", notes)
    if page == "compare":
        table = st.session_state.get(state.PAIRS)
        if isinstance(table, pd.DataFrame):
            view["pairs"] = [[str(a), str(b)] for a, b in table[["sentence1", "sentence2"]].fillna("").to_numpy()]
        selected = st.session_state.get(state.SELECTED_PAIR)
        if isinstance(selected, int) and selected >= 1:
            view["selected_pair"] = selected
    elif page == "projection":
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
    elif page == "negative_tests":
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
    elif page == "sts_eval":
        view["models"] = list(st.session_state.get(state.STS_MODELS, []))
        source = _shareable_source(state.STS_SOURCE, "STS file", notes)
        view["data"] = source
        if source == "path":
            view["path"] = st.session_state.get(state.STS_PATH, "")
        elif source == "hub":
            view["hub"] = [st.session_state.get(state.STS_HUB_DATASET), st.session_state.get(state.STS_HUB_SPLIT)]
    elif page == "tokens":
        sentences = st.session_state.get(tokens_view.SENTENCES)
        if sentences:
            view["sentences"] = list(sentences)
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


def _load_models(view: dict, notes: list[str], name: str) -> None:
    """Drop a configuration whose model cannot be loaded (the page keeps the one in use), with a note."""
    for side in ("raw", "trained"):
        if side not in view:
            continue
        model = view[side]["model"]
        try:
            with st.spinner(f"Loading {model} for the shared view…"):
                load_encoder(model)
        except EmbedLabError as error:
            del view[side]
            notes.append(f"Ignored the {name}'s `{side}` configuration: {error}")


def apply_shared(view: dict, name: str = "link") -> list[str]:
    """Apply a view from a link or a file; returns notes. Never raises: a view that cannot apply changes nothing."""
    notes: list[str] = []
    _load_models(view, notes, name)
    try:
        apply_view(view)
    except EmbedLabError as error:
        notes.append(f"Ignored the {name}'s view: {error}")
    return notes


def start_of_run(page: str) -> None:
    """Apply the URL's view once per session, or a view file uploaded on the last run; show the notes."""
    pending = st.session_state.pop(PENDING, None)
    if pending is not None:
        view, notes = pending
        notes = notes + apply_shared(view, "file")
        st.session_state[NOTES] = [("success", "Opened the uploaded view."), *(("warning", n) for n in notes)]
        st.session_state[APPLIED] = True
        st.session_state.pop(LAST_QUERY, None)
        if view.get("page") != page and view.get("page") in PAGE_FILES:
            st.switch_page(PAGE_FILES[view["page"]])
    elif not st.session_state.get(APPLIED):
        st.session_state[APPLIED] = True
        params = st.query_params.to_dict()
        if any(param not in STREAMLIT_PARAMS for param in params):
            view, notes = view_from_query(page, params)
            notes += apply_shared(view) if len(view) > 1 else []
            st.session_state[NOTES] = [("warning", note) for note in notes]
    for kind, note in st.session_state.get(NOTES, []):
        getattr(st, kind)(note, icon="⚠️" if kind == "warning" else "✅")


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
            st.caption(f"ℹ️ {note}")
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
        view = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise EmbedLabError("This file is not a view: JSON from Download view expected.") from None
    if not isinstance(view, dict) or view.get("page") not in PAGE_PARAMS:
        raise EmbedLabError(f"This file names no page of this app (one of {', '.join(PAGE_PARAMS)}).")
    page = view["page"]
    fields = set(PAGE_PARAMS[page].values())
    checked: dict = {"page": page}
    notes = []
    for field, value in view.items():
        if field == "page":
            continue
        if field not in fields:
            notes.append(f"Ignored the file's field `{field}`: the {page} page does not use it.")
            continue
        try:
            _check_alone({"page": page, field: value})
        except (EmbedLabError, TypeError, ValueError) as error:
            notes.append(f"Ignored the file's field `{field}`: {error}")
            continue
        checked[field] = value
    return checked, notes


def upload_view() -> None:
    try:
        upload = new_upload(UPLOAD)
        if upload is None:
            return
        view, notes = read_view_file(upload.getvalue())
    except EmbedLabError as error:
        st.error(str(error), icon="⚠️")
        return
    st.session_state[PENDING] = (view, notes)
    st.rerun()
