"""The Projection page's services and widgets (its figure: components.shared.figures.projection_figure).

Caching: vectors are cached on (sentences, EmbedSpec) and projections on (sentences, EmbedSpec, settings), so
changing the colouring, the search or the picked sentence never recomputes a projection, and a new configuration
reuses the encoder's cached hidden states (no forward pass for a text already seen).

UMAP's import and first numba compilation take many seconds: ``start_umap_warmup`` (called by app.py at start, and
by the page) runs them once per process in a background thread; ``wait_for_umap`` shows a status while it runs.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pandas as pd
import streamlit as st

from components.shared import notes, state
from components.shared.config_panels import Configured
from components.shared.heap import freeze_once
from components.shared.services import PICKLED_KEYS, get_encoder
from components.shared.uploads import flash, new_upload, show_flash
from embedlab.data.csvsafe import csv_bytes
from embedlab.embedding.encoder import Encoder
from embedlab.embedding.readability import is_unreadable, multilingual_hint
from embedlab.embedding.specs import EmbedSpec
from embedlab.errors import EmbedLabError
from embedlab.limits import MAX_PLACED
from embedlab.literal import Markdown, markdown_template
from embedlab.tasks.compare import example_pairs
from embedlab.tasks.projection import (
    DEFAULT_SEED,
    Agreement,
    FittedProjection,
    Projection,
    ProjectionSettings,
    SentenceSet,
    bundled_sentences,
    fit_projection,
    label_agreement,
    metadata_tsv,
    parse_placed,
    parse_sentence_file,
    parse_sentence_lines,
    query_neighbour_table,
    sentences_from_pairs,
    vectors_tsv,
)

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
            freeze_once("umap")  # UMAP's and numba's objects: out of every later full collection
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
    slot = st.empty()  # the status goes once UMAP is ready: the maps then start where they always do
    with slot.container(), st.status("Compiling UMAP, first run only…", expanded=True):
        bar = st.progress(0.0)
        while not warmup.done.wait(0.25):
            elapsed = time.monotonic() - warmup.started
            bar.progress(
                min(0.95, elapsed / UMAP_COMPILE_EXPECTED_S),
                text=f"Importing UMAP and compiling its numba code: {elapsed:.0f} s (usually about "
                f"{UMAP_COMPILE_EXPECTED_S:.0f} s, once per server start)",
            )
    slot.empty()
    if warmup.error:
        notes.warning("UMAP's warm-up failed ({}); trying anyway.", warmup.error, icon="⚠️")


# ---------------------------------------------------------------------------------------------------- cached services


@st.cache_data(show_spinner=False, max_entries=8, hash_funcs=PICKLED_KEYS)
def embeddings(sentences: tuple[str, ...], spec: EmbedSpec) -> npt.NDArray[np.float32]:
    """(n, dim) vectors of one configuration; the encoder's cache means no forward pass for texts already seen.

    Keyed on the spec, which carries the model's revision: a model folder rewritten on disk misses this cache (and
    ``projection``, ``agreement``, ``vectors_file`` built on it).
    """
    return get_encoder(spec.model).embed(sentences, spec)


@st.cache_resource(show_spinner=False, max_entries=8, hash_funcs=PICKLED_KEYS)
def fitted_projection(sentences: tuple[str, ...], spec: EmbedSpec, settings: ProjectionSettings) -> FittedProjection:
    """The fitted projection of one configuration (its UMAP or PCA kept, to place new sentences), shared by every
    session and never modified; keyed on everything that changes it and nothing else."""
    return fit_projection(embeddings(sentences, spec), settings)


@st.cache_data(show_spinner=False, max_entries=16, hash_funcs=PICKLED_KEYS)
def projection(sentences: tuple[str, ...], spec: EmbedSpec, settings: ProjectionSettings) -> Projection:
    """The coordinates of one configuration's projection (fitted once, in ``fitted_projection``)."""
    return fitted_projection(sentences, spec, settings).projection


@st.cache_data(show_spinner=False, max_entries=32, hash_funcs=PICKLED_KEYS)
def placed(
    sentences: tuple[str, ...], spec: EmbedSpec, settings: ProjectionSettings, new: tuple[str, ...]
) -> npt.NDArray[np.float32]:
    """(len(new), dims) coordinates of new sentences on the fitted map: only ``new`` is encoded, nothing refitted."""
    return fitted_projection(sentences, spec, settings).place(get_encoder(spec.model).embed(new, spec))


@st.cache_data(show_spinner=False, max_entries=32, hash_funcs=PICKLED_KEYS)
def placed_neighbours(
    sentences: tuple[str, ...], labels: tuple[str, ...], spec: EmbedSpec, new: str, k: int
) -> pd.DataFrame:
    """The k sentences of the set nearest to a placed sentence, by cosine in the original space."""
    query = get_encoder(spec.model).embed((new,), spec)[0]
    return query_neighbour_table(sentences, labels, embeddings(sentences, spec), query, k)


@st.cache_data(show_spinner=False, max_entries=16, hash_funcs=PICKLED_KEYS)
def agreement(sentences: tuple[str, ...], labels: tuple[str, ...], spec: EmbedSpec) -> Agreement | None:
    return label_agreement(embeddings(sentences, spec), labels)


@st.cache_data(show_spinner=False, max_entries=4, hash_funcs=PICKLED_KEYS)
def vectors_file(sentences: tuple[str, ...], spec: EmbedSpec) -> bytes:
    return vectors_tsv(embeddings(sentences, spec)).encode("utf-8")


# ---------------------------------------------------------------------------------------------------- widgets


def unreadable_marks(encoder: Encoder, sentences: tuple[str, ...]) -> list[str]:
    """Per sentence: "cannot read: 4 of 5 tokens are [UNK]" when the model cannot read it (mostly unknown
    tokens, ``embedlab.embedding.readability``), else "". From the encoder's cached states: no forward pass for
    sentences already encoded, and none for the others either (their tokenization alone)."""
    return [
        f"cannot read: {text.n_unknown} of {text.n_content} tokens are [UNK]" if is_unreadable(text) else ""
        for text in encoder.token_counts(list(sentences))
    ]


def unreadable_warning(marks: dict[str, list[str]], models: dict[str, str]) -> None:
    """One warning naming how many sentences each side's model cannot read (nothing when it reads them all)."""
    counts = {models[side]: sum(bool(mark) for mark in side_marks) for side, side_marks in marks.items()}
    parts = [markdown_template("**{}** cannot read {}", model, count) for model, count in counts.items() if count]
    if parts:
        notes.warning(
            "{} of these sentences (half or more of their tokens are [UNK]): where they land and their "
            "neighbours mean nothing; they are marked in the hover and the neighbour lists. {}.",
            Markdown("; ".join(parts)),
            multilingual_hint().capitalize(),
            icon="🔤",
        )


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
    st.file_uploader(
        "CSV or TSV with a `sentence` column (optional `label`), or a .txt file with one sentence per line",
        type=["csv", "tsv", "txt"],
        key=state.PROJECTION_UPLOAD_WIDGET,
    )
    try:
        upload = new_upload(state.PROJECTION_UPLOAD_WIDGET)
        if upload is not None:
            parsed = parse_sentence_file(upload.getvalue(), upload.name)
            st.session_state[state.PROJECTION_UPLOADED] = parsed
            flash(state.PROJECTION, f"Loaded {len(parsed):,} sentences from {upload.name}.")
    except EmbedLabError as error:
        flash(state.PROJECTION, f"{error} The sentences shown were left as they were.", "error")
    show_flash(state.PROJECTION)
    uploaded = st.session_state.get(state.PROJECTION_UPLOADED)
    if uploaded is None:
        st.info("Upload a file to project its sentences.")
    return uploaded


def sentence_source() -> SentenceSet | None:
    """The source picker and its input; returns the sentences to project (None: nothing usable yet).

    Raises:
        EmbedLabError: the typed text has more sentences than the page takes (the text is kept).
    """
    source = st.radio(
        "Sentences",
        list(SOURCES),
        format_func=SOURCES.get,
        horizontal=True,
        **state.remembered(state.PROJECTION_SOURCE_WIDGET, state.PROJECTION_SOURCE, "bundled", options=SOURCES),
    )
    if source == "bundled":
        return bundled_sentences()
    if source == "text":
        text = st.text_area(
            "One sentence per line; `label<TAB>sentence` colours by label (Ctrl+Enter to apply)",
            height=220,
            **state.remembered(state.PROJECTION_TEXT_WIDGET, state.PROJECTION_TEXT, _default_text()),
        )
        return parse_sentence_lines(text, "The text")
    if source == "upload":
        return _upload()
    pairs = st.session_state.get(state.PAIRS)
    return sentences_from_pairs(pairs if pairs is not None else example_pairs())


def settings_panel(n_sentences: int) -> ProjectionSettings:
    """UMAP / PCA settings, kept for the session."""
    stored: ProjectionSettings = st.session_state.setdefault(state.PROJECTION_SETTINGS, ProjectionSettings())
    kept = {  # the settings are stored as one ProjectionSettings below: each widget is seeded from it
        widget: state.remembered(widget, None, value)
        for widget, value in (
            (state.PROJECTION_METHOD_WIDGET, stored.method),
            (state.PROJECTION_DIMS_WIDGET, stored.dims == 3),
            (state.PROJECTION_NEIGHBORS_WIDGET, stored.n_neighbors),
            (state.PROJECTION_MIN_DIST_WIDGET, stored.min_dist),
            (state.PROJECTION_SEEDED_WIDGET, stored.random_state is not None),
            (state.PROJECTION_SEED_WIDGET, DEFAULT_SEED if stored.random_state is None else stored.random_state),
        )
    }
    method_col, dims_col, neighbours_col, dist_col, seed_col = st.columns([2, 1, 2, 2, 2], vertical_alignment="bottom")
    method = method_col.radio(
        "Projection",
        ["umap", "pca"],
        **kept[state.PROJECTION_METHOD_WIDGET],
        format_func=str.upper,
        horizontal=True,
        help="UMAP (metric cosine) keeps local neighbourhoods; PCA is linear and exact but crowds clusters. "
        "PCA is used automatically when there are too few sentences for UMAP.",
    )
    three_d = dims_col.toggle("3D", **kept[state.PROJECTION_DIMS_WIDGET])
    n_neighbors = neighbours_col.slider(
        "n_neighbors",
        2,
        100,
        **kept[state.PROJECTION_NEIGHBORS_WIDGET],
        disabled=method != "umap",
        help="UMAP: how many neighbours shape each point's surroundings (larger = more global structure). "
        f"Must stay below the number of sentences ({n_sentences}).",
    )
    min_dist = dist_col.slider(
        "min_dist",
        0.0,
        0.99,
        step=0.01,
        **kept[state.PROJECTION_MIN_DIST_WIDGET],
        disabled=method != "umap",
        help="UMAP: how tightly points may pack together.",
    )
    with seed_col:
        seeded = st.checkbox(
            "Fixed seed",
            help="Same picture every run (UMAP then uses one core).",
            **kept[state.PROJECTION_SEEDED_WIDGET],
        )
        seed = st.number_input(
            "Seed",
            0,
            2**31 - 1,
            disabled=not seeded,
            label_visibility="collapsed",
            **kept[state.PROJECTION_SEED_WIDGET],
        )
    settings = ProjectionSettings(
        method=method,
        dims=3 if three_d else 2,
        n_neighbors=int(n_neighbors),
        min_dist=float(min_dist),
        random_state=int(seed) if seeded else None,
    )
    st.session_state[state.PROJECTION_SETTINGS] = settings
    return settings


PLACED_NOTE = (
    "A placed sentence (✕) is approximate, like the map itself: UMAP's transform starts it among its nearest "
    "neighbours and pulls it into place with the map held still (PCA uses the fitted axes). Nothing is refitted "
    "and the set is not encoded again. Its neighbours listed here are by cosine in the original space."
)


def place_box() -> tuple[str, ...]:
    """Sentences the user places on both maps (one per line), kept for the session; () when none or too many."""
    st.session_state.setdefault(state.PROJECTION_PLACE, "")
    st.session_state.setdefault(state.PROJECTION_PLACE_WIDGET, st.session_state[state.PROJECTION_PLACE])
    with st.form(state.PROJECTION_PLACE_FORM, border=False):
        st.text_area(
            "Place your own sentences on the maps",
            key=state.PROJECTION_PLACE_WIDGET,
            height=68,
            placeholder="One sentence per line, e.g. How old are you?",
            help=f"Up to {MAX_PLACED} sentences. Each is encoded alone and placed on the maps already drawn.",
        )
        if st.form_submit_button("Place", icon=":material/add_location:"):
            st.session_state[state.PROJECTION_PLACE] = st.session_state[state.PROJECTION_PLACE_WIDGET]
    try:
        return parse_placed(st.session_state[state.PROJECTION_PLACE])
    except EmbedLabError as error:
        notes.error("{}", error, icon="⚠️")
        return ()


def search_box() -> str:
    return st.text_input(
        "Search",
        placeholder="bank, stick, …",
        help="Highlights matching sentences in both plots.",
        **state.remembered(state.PROJECTION_QUERY_WIDGET, state.PROJECTION_QUERY, ""),
    )


def pick_sentence(sentences: SentenceSet) -> tuple[int, int]:
    """The sentence whose neighbours are listed, and how many; kept for the session."""
    n = len(sentences)
    picked = st.session_state.get(state.PROJECTION_PICKED, 0)
    st.session_state[state.PROJECTION_PICKED] = picked if isinstance(picked, int) and 0 <= picked < n else 0
    st.session_state.pop(state.PROJECTION_PICK_WIDGET, None)  # the sentence kept (or the first) is the one shown
    # on_change stores a new choice before the rerun: the plots above the picker see it
    pick = state.remembered(state.PROJECTION_PICK_WIDGET, state.PROJECTION_PICKED)
    k_kept = state.remembered(state.PROJECTION_K_WIDGET, state.PROJECTION_K, 5)
    pick_col, k_col = st.columns([4, 1], vertical_alignment="bottom")
    index = pick_col.selectbox(
        "Sentence",
        list(range(n)),
        **pick,
        format_func=lambda i: (
            f"{i}: {sentences.sentences[i]}" + (f"  [{sentences.labels[i]}]" if sentences.labels[i] else "")
        ),
    )
    k = 1
    if n > 2:
        st.session_state[state.PROJECTION_K_WIDGET] = min(st.session_state[state.PROJECTION_K_WIDGET], n - 1)
        k = k_col.slider("Neighbours", 1, min(MAX_K, n - 1), **k_kept)
    st.session_state[state.PROJECTION_PICKED] = index
    st.session_state[state.PROJECTION_K] = k
    return int(index), int(k)


def downloads(sentences: SentenceSet, raw: Configured, trained: Configured, coordinates: pd.DataFrame) -> None:
    """Projector TSV files per configuration, and the coordinates of both pictures."""

    def metadata() -> bytes:  # the files are built when asked for (like vectors.tsv), not on every run
        return metadata_tsv(sentences.sentences, sentences.labels).encode("utf-8")

    raw_col, trained_col, coords_col = st.columns(3)
    for column, name, configured in ((raw_col, "raw", raw), (trained_col, "trained", trained)):
        column.markdown(f"**{name.capitalize()}** · {configured.spec.label}")
        column.download_button(
            "vectors.tsv",
            lambda spec=configured.spec: vectors_file(sentences.sentences, spec),
            f"{name}-vectors.tsv",
            mime="text/tab-separated-values",
            icon=":material/download:",
            key=state.widget_key(state.PROJECTION, f"download.{name}.vectors"),
            on_click="ignore",
        )
        column.download_button(
            "metadata.tsv",
            metadata,
            f"{name}-metadata.tsv",
            mime="text/tab-separated-values",
            icon=":material/download:",
            key=state.widget_key(state.PROJECTION, f"download.{name}.metadata"),
            on_click="ignore",
        )
    coords_col.markdown("**Coordinates** of both pictures")
    coords_col.download_button(
        "coordinates.csv",
        lambda: csv_bytes(coordinates),
        "projection-coordinates.csv",
        mime="text/csv",
        icon=":material/download:",
        key=state.widget_key(state.PROJECTION, "download.coordinates"),
        on_click="ignore",
    )
    st.caption(
        "Load vectors.tsv and metadata.tsv in the TensorFlow Embedding Projector (projector.tensorflow.org → Load)."
    )
