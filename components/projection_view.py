"""The Projection page's services, widgets and figures.

Caching: vectors are cached on (sentences, EmbedSpec) and projections on (sentences, EmbedSpec, settings), so
changing the colouring, the search or the picked sentence never recomputes a projection, and a new configuration
reuses the encoder's cached hidden states (no forward pass for a text already seen).

UMAP's import and first numba compilation take many seconds: ``start_umap_warmup`` (called by app.py at start, and
by the page) runs them once per process in a background thread; ``wait_for_umap`` shows a status while it runs.
"""

from __future__ import annotations

import html
import textwrap
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd
import plotly.colors
import plotly.graph_objects as go
import streamlit as st

from components import state
from components.config import Configured
from components.services import get_encoder
from embedlab.embedding.specs import EmbedSpec
from embedlab.errors import EmbedLabError
from embedlab.tasks.compare import example_pairs
from embedlab.tasks.projection import (
    DEFAULT_SEED,
    Agreement,
    Projection,
    ProjectionSettings,
    SentenceSet,
    bundled_sentences,
    label_agreement,
    metadata_tsv,
    parse_sentence_file,
    parse_sentence_lines,
    project,
    sentences_from_pairs,
    vectors_tsv,
)

# Plain session-state keys: what the user chose or typed, kept for the whole session (page switches included).
SOURCE = "projection.source"  # one of SOURCES
TEXT = "projection.text"  # the text area's content
UPLOADED = "projection.uploaded"  # SentenceSet of the last upload that parsed
UPLOADED_ID = "projection.uploaded_id"  # file id of the last upload handled (good or bad)
SETTINGS = "projection.settings"  # ProjectionSettings
QUERY = "projection.query"  # search text
PICKED = "projection.picked"  # index of the sentence whose neighbours are listed
NEIGHBOURS_K = "projection.k"  # how many neighbours
FLASH = "projection.flash"  # one-shot message after an upload

# Widget keys (Streamlit drops these when the page is left; they are re-seeded from the plain keys above).
SOURCE_WIDGET = "projection.source_choice"
TEXT_WIDGET = "projection.text_area"
UPLOAD_WIDGET = "projection.upload"
METHOD_WIDGET = "projection.method"
DIMS_WIDGET = "projection.three_d"
NEIGHBORS_WIDGET = "projection.n_neighbors"
MIN_DIST_WIDGET = "projection.min_dist"
SEEDED_WIDGET = "projection.seeded"
SEED_WIDGET = "projection.seed"
QUERY_WIDGET = "projection.search"
PICK_WIDGET = "projection.pick"
K_WIDGET = "projection.k_slider"

SOURCES = {
    "bundled": "Bundled example (400 sentences, 8 topics)",
    "text": "Type or paste",
    "upload": "Upload a file",
    "pairs": "The Compare page's pairs",
}
MAX_K = 20
UMAP_COMPILE_EXPECTED_S = 20.0  # import + first fit here: 7-15 s, ~26 s the very first time (bench_projection.py)
APPROXIMATE_NOTE = (
    "Distances in the picture are only approximate: UMAP and PCA squeeze hundreds of dimensions into "
    "two or three. Neighbours and the agreement number are computed by cosine in the original space."
)


# ---------------------------------------------------------------------------------------------------- UMAP warm-up


@dataclass
class Warmup:
    """The background UMAP warm-up of this process."""

    done: threading.Event = field(default_factory=threading.Event)
    started: float = field(default_factory=time.monotonic)
    seconds: float | None = None
    error: str | None = None


@st.cache_resource(show_spinner=False)
def start_umap_warmup() -> Warmup:
    """Start importing and compiling UMAP in a daemon thread, once per process; returns its handle at once."""
    from embedlab.tasks.projection import warm_up

    warmup = Warmup()

    def run() -> None:
        try:
            warm_up()
        except Exception as error:  # reported on the page; a real fit will raise it again
            warmup.error = f"{type(error).__name__}: {error}"
        finally:
            warmup.seconds = time.monotonic() - warmup.started
            warmup.done.set()

    threading.Thread(target=run, name="umap-warmup", daemon=True).start()
    return warmup


def wait_for_umap() -> None:
    """Block until the warm-up has finished, showing a status with elapsed time instead of a frozen page."""
    warmup = start_umap_warmup()
    if warmup.done.is_set():
        return
    with st.status("Compiling UMAP, first run only…", expanded=True) as status:
        bar = st.progress(0.0)
        while not warmup.done.wait(0.25):
            elapsed = time.monotonic() - warmup.started
            bar.progress(
                min(0.95, elapsed / UMAP_COMPILE_EXPECTED_S),
                text=f"Importing UMAP and compiling its numba code: {elapsed:.0f} s (usually about "
                f"{UMAP_COMPILE_EXPECTED_S:.0f} s, once per server start)",
            )
        status.update(label=f"UMAP compiled ({warmup.seconds:.0f} s), first run only", state="complete", expanded=False)
    if warmup.error:
        st.warning(f"UMAP's warm-up failed ({warmup.error}); trying anyway.", icon="⚠️")


# ---------------------------------------------------------------------------------------------------- cached services


@st.cache_data(show_spinner=False, max_entries=8)
def embeddings(sentences: tuple[str, ...], spec: EmbedSpec) -> npt.NDArray[np.float32]:
    """(n, dim) vectors of one configuration; the encoder's cache means no forward pass for texts already seen.

    Keyed on the spec, which carries the model's revision: a model folder rewritten on disk misses this cache (and
    ``projection``, ``agreement``, ``vectors_file`` built on it).
    """
    return get_encoder(spec.model).embed(sentences, spec)


@st.cache_data(show_spinner=False, max_entries=16)
def projection(sentences: tuple[str, ...], spec: EmbedSpec, settings: ProjectionSettings) -> Projection:
    """The projection of one configuration, keyed on everything that changes it and nothing else."""
    return project(embeddings(sentences, spec), settings)


@st.cache_data(show_spinner=False, max_entries=16)
def agreement(sentences: tuple[str, ...], labels: tuple[str, ...], spec: EmbedSpec) -> Agreement | None:
    return label_agreement(embeddings(sentences, spec), labels)


@st.cache_data(show_spinner=False, max_entries=4)
def vectors_file(sentences: tuple[str, ...], spec: EmbedSpec) -> bytes:
    return vectors_tsv(embeddings(sentences, spec)).encode("utf-8")


# ---------------------------------------------------------------------------------------------------- widgets


def _remember(widget_key: str, store_key: str, default) -> None:
    """Start a widget from the value kept for the session (the widget's own key dies with the page)."""
    st.session_state.setdefault(store_key, default)
    if widget_key not in st.session_state:
        st.session_state[widget_key] = st.session_state[store_key]


def _default_text() -> str:
    """A small labelled sample to edit: three sentences of each topic of the bundled set."""
    bundled = bundled_sentences()
    taken: dict[str, int] = {}
    lines = []
    for label, sentence in zip(bundled.labels, bundled.sentences, strict=True):
        if taken.get(label, 0) < 3:
            taken[label] = taken.get(label, 0) + 1
            lines.append(f"{label}\t{sentence}")
    return "\n".join(lines)


def _upload() -> SentenceSet | None:
    """The uploader; a file that does not parse shows why and leaves the last good upload in place."""
    upload = st.file_uploader(
        "CSV or TSV with a `sentence` column (optional `label`), or a .txt file with one sentence per line",
        type=["csv", "tsv", "txt"],
        key=UPLOAD_WIDGET,
    )
    if upload is not None and st.session_state.get(UPLOADED_ID) != upload.file_id:
        st.session_state[UPLOADED_ID] = upload.file_id
        try:
            parsed = parse_sentence_file(upload.getvalue(), upload.name)
        except EmbedLabError as error:
            st.session_state[FLASH] = ("error", f"{error} The sentences shown were left as they were.")
        else:
            st.session_state[UPLOADED] = parsed
            st.session_state[FLASH] = ("success", f"Loaded {len(parsed):,} sentences from {upload.name}.")
    if flash := st.session_state.pop(FLASH, None):
        kind, message = flash
        (st.error if kind == "error" else st.success)(message)
    uploaded = st.session_state.get(UPLOADED)
    if uploaded is None:
        st.info("Upload a file to project its sentences.")
    return uploaded


def sentence_source() -> SentenceSet | None:
    """The source picker and its input; returns the sentences to project (None: nothing usable yet).

    Raises:
        EmbedLabError: the typed text has more sentences than the page takes (the text is kept).
    """
    _remember(SOURCE_WIDGET, SOURCE, "bundled")
    source = st.radio("Sentences", list(SOURCES), key=SOURCE_WIDGET, format_func=SOURCES.get, horizontal=True)
    st.session_state[SOURCE] = source
    if source == "bundled":
        return bundled_sentences()
    if source == "text":
        _remember(TEXT_WIDGET, TEXT, _default_text())
        text = st.text_area(
            "One sentence per line; `label<TAB>sentence` colours by label (Ctrl+Enter to apply)",
            key=TEXT_WIDGET,
            height=220,
        )
        st.session_state[TEXT] = text
        return parse_sentence_lines(text, "The text")
    if source == "upload":
        return _upload()
    pairs = st.session_state.get(state.PAIRS)
    return sentences_from_pairs(pairs if pairs is not None else example_pairs())


def settings_panel(n_sentences: int) -> ProjectionSettings:
    """UMAP / PCA settings, kept for the session."""
    stored: ProjectionSettings = st.session_state.setdefault(SETTINGS, ProjectionSettings())
    for widget, value in (
        (METHOD_WIDGET, stored.method),
        (DIMS_WIDGET, stored.dims == 3),
        (NEIGHBORS_WIDGET, stored.n_neighbors),
        (MIN_DIST_WIDGET, stored.min_dist),
        (SEEDED_WIDGET, stored.random_state is not None),
        (SEED_WIDGET, DEFAULT_SEED if stored.random_state is None else stored.random_state),
    ):
        st.session_state.setdefault(widget, value)
    method_col, dims_col, neighbours_col, dist_col, seed_col = st.columns([2, 1, 2, 2, 2], vertical_alignment="bottom")
    method = method_col.radio(
        "Projection",
        ["umap", "pca"],
        key=METHOD_WIDGET,
        format_func=str.upper,
        horizontal=True,
        help="UMAP (metric cosine) keeps local neighbourhoods; PCA is linear and exact but crowds clusters. "
        "PCA is used automatically when there are too few sentences for UMAP.",
    )
    three_d = dims_col.toggle("3D", key=DIMS_WIDGET)
    n_neighbors = neighbours_col.slider(
        "n_neighbors",
        2,
        100,
        key=NEIGHBORS_WIDGET,
        disabled=method != "umap",
        help="UMAP: how many neighbours shape each point's surroundings (larger = more global structure). "
        f"Must stay below the number of sentences ({n_sentences}).",
    )
    min_dist = dist_col.slider(
        "min_dist",
        0.0,
        0.99,
        step=0.01,
        key=MIN_DIST_WIDGET,
        disabled=method != "umap",
        help="UMAP: how tightly points may pack together.",
    )
    with seed_col:
        seeded = st.checkbox("Fixed seed", key=SEEDED_WIDGET, help="Same picture every run (UMAP then uses one core).")
        seed = st.number_input("Seed", 0, 2**31 - 1, key=SEED_WIDGET, disabled=not seeded, label_visibility="collapsed")
    settings = ProjectionSettings(
        method=method,
        dims=3 if three_d else 2,
        n_neighbors=int(n_neighbors),
        min_dist=float(min_dist),
        random_state=int(seed) if seeded else None,
    )
    st.session_state[SETTINGS] = settings
    return settings


def search_box() -> str:
    _remember(QUERY_WIDGET, QUERY, "")
    query = st.text_input(
        "Search", key=QUERY_WIDGET, placeholder="bank, stick, …", help="Highlights matching sentences in both plots."
    )
    st.session_state[QUERY] = query
    return query


def _keep_pick() -> None:  # on_change runs before the rerun: the plots above the picker see the new choice
    st.session_state[PICKED] = st.session_state[PICK_WIDGET]


def _keep_k() -> None:
    st.session_state[NEIGHBOURS_K] = st.session_state[K_WIDGET]


def pick_sentence(sentences: SentenceSet) -> tuple[int, int]:
    """The sentence whose neighbours are listed, and how many; kept for the session."""
    n = len(sentences)
    picked = st.session_state.get(PICKED, 0)
    st.session_state[PICK_WIDGET] = picked if isinstance(picked, int) and 0 <= picked < n else 0
    _remember(K_WIDGET, NEIGHBOURS_K, 5)
    pick_col, k_col = st.columns([4, 1], vertical_alignment="bottom")
    index = pick_col.selectbox(
        "Sentence",
        list(range(n)),
        key=PICK_WIDGET,
        on_change=_keep_pick,
        format_func=lambda i: (
            f"{i}: {sentences.sentences[i]}" + (f"  [{sentences.labels[i]}]" if sentences.labels[i] else "")
        ),
    )
    k = 1
    if n > 2:
        st.session_state[K_WIDGET] = min(st.session_state[K_WIDGET], n - 1)
        k = k_col.slider("Neighbours", 1, min(MAX_K, n - 1), key=K_WIDGET, on_change=_keep_k)
    st.session_state[PICKED] = index
    st.session_state[NEIGHBOURS_K] = k
    return int(index), int(k)


def downloads(sentences: SentenceSet, raw: Configured, trained: Configured, coordinates: pd.DataFrame) -> None:
    """Projector TSV files per configuration, and the coordinates of both pictures."""
    metadata = metadata_tsv(sentences.sentences, sentences.labels).encode("utf-8")
    raw_col, trained_col, coords_col = st.columns(3)
    for column, name, configured in ((raw_col, "raw", raw), (trained_col, "trained", trained)):
        column.markdown(f"**{name.capitalize()}** · {configured.spec.label}")
        column.download_button(
            "vectors.tsv",
            lambda spec=configured.spec: vectors_file(sentences.sentences, spec),
            f"{name}-vectors.tsv",
            mime="text/tab-separated-values",
            icon=":material/download:",
            key=f"projection.download.{name}.vectors",
            on_click="ignore",
        )
        column.download_button(
            "metadata.tsv",
            metadata,
            f"{name}-metadata.tsv",
            mime="text/tab-separated-values",
            icon=":material/download:",
            key=f"projection.download.{name}.metadata",
            on_click="ignore",
        )
    coords_col.markdown("**Coordinates** of both pictures")
    coords_col.download_button(
        "coordinates.csv",
        coordinates.to_csv(index=False).encode("utf-8"),
        "projection-coordinates.csv",
        mime="text/csv",
        icon=":material/download:",
        key="projection.download.coordinates",
        on_click="ignore",
    )
    st.caption(
        "Load vectors.tsv and metadata.tsv in the TensorFlow Embedding Projector (projector.tensorflow.org → Load)."
    )


# ---------------------------------------------------------------------------------------------------- figures

PALETTE = plotly.colors.qualitative.Dark24 + plotly.colors.qualitative.Light24
UNLABELLED_COLOR = "#495057"
MAX_LEGEND_LABELS = 24  # above this, one trace coloured by label and no legend
WEBGL_ABOVE = 1500  # 2D plots with more points use WebGL (SVG slows the browser down)


def label_colors(labels: Sequence[str]) -> dict[str, str]:
    """One colour per distinct label, the same in every plot (sorted labels, palette in order)."""
    return {label: PALETTE[i % len(PALETTE)] for i, label in enumerate(sorted(set(labels)))}


def _hover_text(sentence: str, width: int = 70) -> str:
    return "<br>".join(textwrap.wrap(html.escape(sentence), width)) or "(empty)"


def projection_figure(
    coords: npt.NDArray[np.floating],
    sentences: Sequence[str],
    labels: Sequence[str],
    title: str,
    highlight: npt.NDArray[np.bool_] | None = None,
    picked: int | None = None,
    neighbours: Sequence[int] = (),
) -> go.Figure:
    """Scatter of already projected points (2D or 3D), coloured by label, hover = the full sentence.

    Args:
        coords: (n, 2|3) coordinates; row i is sentences[i].
        highlight: (n,) bool, search matches: drawn on top, everything else faded.
        picked: a sentence to mark with a star; ``neighbours``: indices to ring (its nearest in the original space).
    """
    coords = np.asarray(coords, dtype=np.float64)
    three_d = coords.shape[1] == 3
    n = len(coords)
    hover = np.array([_hover_text(sentence) for sentence in sentences], dtype=object)
    label_array = np.array(list(labels), dtype=object)
    colors = label_colors(labels)
    searching = highlight is not None and bool(highlight.any())
    size = (3.5 if n > 1000 else 5) if three_d else (5 if n > 1000 else 8)
    grow = 0.5 if three_d else 1.0  # 3D markers look larger: enlarge the marked points less
    figure = go.Figure()

    def add(rows: npt.NDArray[np.int64], name: str, marker: dict, showlegend: bool = True, **extra) -> None:
        if three_d:
            trace = go.Scatter3d(x=coords[rows, 0], y=coords[rows, 1], z=coords[rows, 2], mode="markers")
        else:
            kind = go.Scattergl if n > WEBGL_ABOVE else go.Scatter
            trace = kind(x=coords[rows, 0], y=coords[rows, 1], mode="markers")
        trace.update(
            name=name,
            marker=marker,
            showlegend=showlegend,
            customdata=np.stack([hover[rows], label_array[rows]], axis=1) if len(rows) else None,
            hovertemplate="%{customdata[0]}<br><i>%{customdata[1]}</i><extra></extra>",
            **extra,
        )
        figure.add_trace(trace)

    faded = 0.25 if searching else 0.85
    distinct = sorted(set(labels))
    if len(distinct) <= MAX_LEGEND_LABELS:
        for label in distinct:
            rows = np.flatnonzero(label_array == label)
            add(
                rows,
                label or "no label",
                {"color": colors[label] if label else UNLABELLED_COLOR, "size": size},
                showlegend=bool(label),
                opacity=faded,
                legendgroup=label,
            )
    else:
        add(
            np.arange(n),
            "sentences",
            {"color": [colors[label] for label in labels], "size": size},
            showlegend=False,
            opacity=faded,
        )
    if searching:
        rows = np.flatnonzero(highlight)
        add(
            rows,
            f"search: {len(rows)} match{'es' if len(rows) != 1 else ''}",
            {
                "color": [colors[label_array[i]] if label_array[i] else UNLABELLED_COLOR for i in rows],
                "size": size + 5 * grow,
                "line": {"color": "black", "width": 2},
            },
        )
    if neighbours:
        rows = np.asarray(list(neighbours), dtype=np.int64)
        add(
            rows,
            f"its {len(rows)} nearest (cosine, original space)",
            {"color": "rgba(0,0,0,0)", "size": size + 8 * grow, "line": {"color": "black", "width": 2}},
        )
    if picked is not None:
        add(
            np.array([picked]),
            "picked sentence",
            {
                "color": "gold",
                "size": size + 12 * grow,
                "symbol": "diamond" if three_d else "star",
                "line": {"color": "black", "width": 1},
            },
        )
    axis = {"showticklabels": False, "title": "", "zeroline": False}
    figure.update_layout(
        title={"text": title, "font": {"size": 14}},
        height=560,
        margin={"t": 50, "b": 10, "l": 10, "r": 10},
        legend={"orientation": "h", "y": -0.02, "yanchor": "top"},
        hoverlabel={"align": "left"},
        uirevision=title,
    )
    if three_d:
        figure.update_layout(scene={"xaxis": axis, "yaxis": axis, "zaxis": axis})
    else:
        figure.update_xaxes(**axis)
        figure.update_yaxes(**axis, scaleanchor="x", scaleratio=1)
    return figure
