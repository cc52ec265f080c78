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

from components import negtest_view, state, sts_view, tokens_view
from components.config import init_specs
from components.pairs_table import replace_pairs
from embedlab.data.pairtable import PAIR_COLUMNS
from embedlab.embedding.specs import EmbedSpec
from embedlab.errors import EmbedLabError
from embedlab.tasks.lesson import PAGES, spec_from_fields
from embedlab.tasks.negtest import bundled_suite
from embedlab.tasks.projection import ProjectionSettings

ROOT = Path(__file__).resolve().parent.parent
SHARED_PAGES = (*PAGES, "tokens", "lesson")  # every page a view (a link, a file) can open
PAGE_FILES = {page: f"app_pages/{page}.py" for page in SHARED_PAGES}
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
)
# pages whose panels seed from RAW/TRAINED_SPEC
CONFIG_NAMESPACES = (state.COMPARE, state.PROJECTION, state.NEGTEST, tokens_view.NAMESPACE)


def page_exists(page: str) -> bool:
    return page in PAGE_FILES and (ROOT / PAGE_FILES[page]).is_file()


def pairs_frame(value: object) -> pd.DataFrame:
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


def text_value(value: object, name: str, limit: int = 100_000) -> str:
    if not isinstance(value, str) or len(value) > limit:
        raise EmbedLabError(f"A view's {name} must be text (at most {limit:,} characters), not {value!r:.60}.")
    return value


def whole_number(value: object, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise EmbedLabError(f"A view's {name} must be a whole number from {low} to {high}, not {value!r:.60}.")
    return value


def threshold_value(value: object, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not -1.0 <= value <= 1.0:
        raise EmbedLabError(f"The {name} threshold must be a number from -1 to 1 or empty, not {value!r:.60}.")
    return float(value)


def projection_settings(values: object) -> ProjectionSettings:
    """Projection settings back from their plain dict (method, dims, n_neighbors, min_dist, seed)."""
    if not isinstance(values, dict) or set(values) - {"method", "dims", "n_neighbors", "min_dist", "seed"}:
        raise EmbedLabError(
            f"Projection settings must be a dict of method, dims, n_neighbors, min_dist, seed: {values!r:.80}"
        )
    base = ProjectionSettings()
    method = values.get("method", base.method)
    if method not in ("umap", "pca"):
        raise EmbedLabError(f"The projection method is umap or pca, not {method!r:.40}.")
    min_dist = values.get("min_dist", base.min_dist)
    if isinstance(min_dist, bool) or not isinstance(min_dist, int | float) or not 0.0 <= min_dist <= 0.99:
        raise EmbedLabError(f"min_dist must be a number from 0 to 0.99, not {min_dist!r:.40}.")
    seed = values.get("seed", base.random_state)
    return ProjectionSettings(
        method=method,
        dims=whole_number(values.get("dims", base.dims), "dims", 2, 3),
        n_neighbors=whole_number(values.get("n_neighbors", base.n_neighbors), "n_neighbors", 2, 100),
        min_dist=float(min_dist),
        random_state=None if seed is None else whole_number(seed, "seed", 0, 2**31 - 1),
    )


def settings_fields(settings: ProjectionSettings) -> dict:
    return {
        "method": settings.method,
        "dims": settings.dims,
        "n_neighbors": settings.n_neighbors,
        "min_dist": settings.min_dist,
        "seed": settings.random_state,
    }


def labelled_frame(value: object) -> pd.DataFrame:
    """A negative-test table from [[sentence1, sentence2, label, category], ...] (category optional)."""
    if not isinstance(value, list) or not value:
        raise EmbedLabError("A view's table must be a non-empty list of [sentence1, sentence2, label, category] rows.")
    rows = []
    for row in value:
        if (
            not isinstance(row, list)
            or len(row) not in (3, 4)
            or not all(isinstance(text, str) for text in (*row[:2], *row[3:]))
            or row[2] not in (0, 1, None)
            or isinstance(row[2], bool)
        ):
            raise EmbedLabError(f"A table row must be [sentence1, sentence2, 1/0, category], not {row!r:.80}.")
        rows.append([row[0], row[1], row[2], row[3] if len(row) == 4 else ""])
    frame = pd.DataFrame(rows, columns=["sentence1", "sentence2", "label", "category"])
    frame["label"] = frame["label"].astype("Int64")
    return frame


def apply_view(view: dict) -> str:
    """Write a view's state into the session. Returns the page file to open (``app_pages/<page>.py``).

    Every field but ``page`` is optional: a field left out leaves that part of the session as it is (a shared link
    leaves out a table too long for a URL).

    Raises:
        EmbedLabError: an unknown page, a page this app does not have, or a malformed field. Nothing is written.
    """
    if not isinstance(view, dict):
        raise EmbedLabError("A view must be a dict with at least a page.")
    page = view.get("page")
    if page not in PAGE_FILES:
        raise EmbedLabError(f"Unknown page {page!r}: one of {', '.join(SHARED_PAGES)}.")
    if not page_exists(page):
        raise EmbedLabError(f"This version of the app has no {page} page.")
    raw = spec_from_fields(view["raw"]) if "raw" in view else None
    trained = spec_from_fields(view["trained"]) if "trained" in view else None
    if trained is not None and trained.pooling != "model":
        raise EmbedLabError("The trained configuration always uses the model's own pipeline (pooling 'model').")

    if page == "compare":
        pairs = pairs_frame(view["pairs"]) if "pairs" in view else None
        n_rows = len(pairs) if pairs is not None else 100_000  # without pairs: a missing row shows the first one
        selected = view.get("selected_pair", 1)
        if not isinstance(selected, int) or isinstance(selected, bool) or not 1 <= selected <= max(1, n_rows):
            raise EmbedLabError(f"selected_pair must be a row number from 1 to {n_rows}, not {selected!r}.")
        _set_specs(raw, trained)
        if pairs is not None:
            replace_pairs(pairs)
        st.session_state[state.SELECTED_PAIR] = selected
    elif page == "projection":
        source = view.get("sentences", "bundled")
        if source not in ("bundled", "pairs", "text"):
            raise EmbedLabError("A projection view names the bundled sentences, the Compare pairs or a text.")
        text = text_value(view["text"], "text") if "text" in view else None
        settings = projection_settings(view["settings"]) if "settings" in view else None
        search = text_value(view["search"], "search", 200) if "search" in view else None
        picked = whole_number(view["picked"], "picked sentence", 0, 100_000) if "picked" in view else None
        k = whole_number(view["k"], "number of neighbours", 1, 20) if "k" in view else None
        _set_specs(raw, trained)
        st.session_state[state.PROJECTION_SOURCE] = source
        _store(
            {
                state.PROJECTION_TEXT: text,
                state.PROJECTION_SETTINGS: settings,
                state.PROJECTION_QUERY: search,
                state.PROJECTION_PICKED: picked,
                state.PROJECTION_K: k,
            }
        )
        _forget_widgets((state.PROJECTION_SOURCE_WIDGET, state.PROJECTION_TEXT_WIDGET, *PROJECTION_SETTING_WIDGETS))
    elif page == "negative_tests":
        suite = view.get("suite", "bundled" if "table" not in view else None)
        if suite not in ("bundled", None):
            raise EmbedLabError("A negative-test view names the bundled suite or carries its table.")
        table = labelled_frame(view["table"]) if "table" in view else None
        thresholds = view.get("thresholds", {})
        if not isinstance(thresholds, dict) or set(thresholds) - {"raw", "trained"}:
            raise EmbedLabError("A negative-test view's thresholds must be a dict with raw and/or trained.")
        thresholds = {side: threshold_value(value, side) for side, value in thresholds.items()}
        _set_specs(raw, trained)
        if table is not None:
            negtest_view.replace_pairs(table)
        elif suite == "bundled":
            negtest_view.replace_pairs(bundled_suite())
        st.session_state[state.NEGTEST_EXTRA_SPECS] = []
        init_specs()  # thresholds are kept per configuration: both must be known
        specs = {"raw": st.session_state.get(state.RAW_SPEC), "trained": st.session_state.get(state.TRAINED_SPEC)}
        for side, spec in specs.items():
            if spec is None:
                continue
            st.session_state.pop(state.negtest_threshold_widget(spec.label), None)
            st.session_state[state.negtest_threshold(spec.label)] = thresholds.get(side)  # None: the best one
        _forget_widgets((state.NEGTEST_EXTRA_KEEP,))
    elif page == "sts_eval":
        models = view.get("models")
        data = view.get("data", "bundled")
        if data not in ("bundled", "path", "hub"):
            raise EmbedLabError("An STS view names the bundled set, a local path or a Hub split.")
        if models is not None and (
            not isinstance(models, list) or not models or not all(isinstance(m, str) and m.strip() for m in models)
        ):
            raise EmbedLabError("An STS view needs a list of model names.")
        path = text_value(view.get("path", ""), "path", 1000) if data == "path" else None
        if data == "path" and not path.strip():
            raise EmbedLabError("An STS view with data 'path' needs the path.")
        hub = view.get("hub", [sts_view.HUB_DATASETS[0], sts_view.HUB_SPLITS[0]]) if data == "hub" else None
        if hub is not None and (
            not isinstance(hub, list)
            or len(hub) != 2
            or hub[0] not in sts_view.HUB_DATASETS
            or hub[1] not in sts_view.HUB_SPLITS
        ):
            raise EmbedLabError(f"An STS view's hub must be [dataset, split] among the offered ones, not {hub!r:.80}.")
        pairs = sts_view.read_scored_pairs(path.strip()) if path else sts_view.bundled() if data == "bundled" else None
        _set_specs(raw, trained)
        st.session_state[state.STS_SOURCE] = data
        _store({state.STS_DATASET: pairs, state.STS_PATH: path})
        if hub is not None:
            st.session_state[state.STS_HUB_DATASET], st.session_state[state.STS_HUB_SPLIT] = hub
        if models is not None:
            st.session_state[state.STS_MODELS] = list(dict.fromkeys(models))
            failed = st.session_state.get(state.STS_FAILED, {})
            for model in models:
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
    elif page == "tokens":
        sentences = view.get("sentences")
        if sentences is not None and (
            not isinstance(sentences, list)
            or not 1 <= len(sentences) <= 2
            or not all(isinstance(text, str) and text.strip() and len(text) <= 2000 for text in sentences)
        ):
            raise EmbedLabError("A tokens view's sentences must be one or two non-empty texts.")
        _set_specs(raw, None)
        if sentences is not None:
            st.session_state[tokens_view.SENTENCES] = tuple(text.strip() for text in sentences)
            _forget_widgets((tokens_view.FIRST_INPUT, tokens_view.SECOND_INPUT))
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
