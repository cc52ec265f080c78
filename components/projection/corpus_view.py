"""Projection's "Encode my corpus": a text file or a CSV column of up to a million lines encoded by the queue's
workers (``embedlab.corpus``), then mapped, searched and queried for neighbours.

The file is read here (``embedlab.corpus.texts``: its bounds are one message each); its vectors are looked up in
the corpus store first (``stored_vectors``: encoded once per model revision and texts, whoever asked), and only
when absent is a job queued (``JobQueue.submit_encode``: a second tab asking for the same corpus gets the same
job). While it runs, a fragment polls the queue every second and shows the chunks done, the speed and the ETA.

Once encoded, the map is read from the corpus folder, where it is kept once fitted (``embedlab.corpus.mapping``:
UMAP on a sample plus transform, PCA above 100k); when it is not there yet, its fit is queued as a job on the same
queue (``JobQueue.submit_map``: one job per corpus and method, shared by every tab asking) and the page polls its
progress as it does the encoding's: leaving the page does not stop it, and a second visit, a second tab or a
restarted app reads the kept map. Up to
``MAX_DRAWN_POINTS`` points are drawn one by one (WebGL); past that, the density of all of them plus the points of
the region chosen with the two range sliders. A box or lasso selection lists the selected texts.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd
import streamlit as st

from components.projection.map_chart import map_chart
from components.shared import notes, state
from components.shared.figures import corpus_map_figure
from components.train.train_queue import job_queue
from components.train.train_run import browser_key, session_owner
from embedlab import served
from embedlab.corpus.mapping import MAX_CLUSTERS, CorpusMap, cluster_labels, in_region, load_map
from embedlab.corpus.neighbours import NeighbourIndex, Recall, measure_recall
from embedlab.corpus.store import StoredCorpus, find_corpus, prepare_corpus
from embedlab.corpus.texts import Corpus, corpus_from_bytes
from embedlab.errors import EmbedLabError
from embedlab.limits import MAX_DRAWN_POINTS, MAX_QUERY_CHARS
from embedlab.models.identity import resolve_model
from embedlab.scorers.registry import kind_of
from embedlab.tasks.projection import DEFAULT_SEED, matches
from embedlab.training.queue import MAP_METHOD, EncodeRequest, JobView, MapRequest, QueueUnreadable, ensure_worker

POLL_SECONDS = 1.0
MAX_LISTED = 200  # selected texts listed under the map
COLOURINGS = ("clusters",)  # and each other column of a CSV


@st.cache_resource(show_spinner=False, max_entries=4)
def _vectors(folder: str) -> npt.NDArray[np.float32]:
    from embedlab.corpus.store import open_corpus

    return open_corpus(folder).vectors()


@st.cache_resource(show_spinner=False, max_entries=4)
def _texts(folder: str) -> tuple[str, ...]:
    from embedlab.corpus.store import open_corpus

    return tuple(open_corpus(folder).texts())


def _kept_map(stored: StoredCorpus, method: str, job_key: str) -> CorpusMap | None:
    """The corpus's map when it is kept in its folder (fitted by a job, for anyone: drawn at once). Else its map job
    is queued (once per session, corpus and method; a second tab asking gets the same job), its progress is shown,
    and None.

    Raises:
        EmbedLabError: the queue's bounds, or a map the corpus cannot have (UMAP above its limit).
    """
    folder = str(stored.folder)
    found = load_map(folder, method, stored.n_texts, DEFAULT_SEED)
    if found is not None:
        return found
    asked = st.session_state.get(job_key)
    if asked is None or tuple(asked[:2]) != (folder, method):
        request = MapRequest(stored.key, method, DEFAULT_SEED, stored.model, stored.source, stored.n_texts)
        jobs = job_queue()
        asked = (folder, method, jobs.submit_map(request, owner=session_owner(), browser=browser_key()))
        st.session_state[job_key] = asked
        ensure_worker(jobs)
    st.fragment(run_every=POLL_SECONDS)(_job_progress)(asked[2], job_key)
    return None


@st.cache_resource(show_spinner=False, max_entries=8)
def _clusters(folder: str, k: int) -> npt.NDArray[np.int64]:
    return cluster_labels(_vectors(folder), k)


@st.cache_resource(show_spinner=False, max_entries=4)
def _index(folder: str) -> tuple[NeighbourIndex, Recall]:
    index = NeighbourIndex(_vectors(folder))
    return index, measure_recall(index)


def corpus_section(model: str, raw_model: str | None = None) -> None:
    """The "Encode my corpus" section, for the trained panel's ``model`` (a sentence-transformers reference), with
    the raw panel's ``raw_model`` mapped beside it once its own job has encoded the corpus too."""
    st.subheader("Encode my corpus")
    st.caption(
        "A text file (one text per line) or a CSV column, up to a million lines: the training queue's workers encode "
        "it in chunks (a stopped job resumes where it stopped), once per model and text; then it is mapped here."
    )
    st.file_uploader("Corpus file", type=["txt", "csv"], key=state.CORPUS_UPLOAD)
    st.text_input("CSV column holding the texts (default: the first)", key=state.CORPUS_COLUMN, max_chars=200)
    _read_upload()
    read = st.session_state.get(state.CORPUS)
    if isinstance(read, str):
        notes.error("{}", read, icon="⚠️")
        return
    corpus: Corpus | None = st.session_state.get(state.CORPUS)
    if corpus is None:
        return
    notes.caption("{}: {} texts, encoded with {}.", corpus.source, f"{len(corpus):,}", model)
    try:
        stored = find_corpus(model, corpus)
        if stored is None or not stored.complete:
            _encode_panel(model, corpus, stored)
            return
    except (EmbedLabError, QueueUnreadable) as error:
        notes.error("{}", error, icon="⚠️")
        return
    _explore(stored, corpus, _raw_side(model, raw_model, corpus))


def _read_upload() -> None:
    """Read the uploaded file into ``state.CORPUS`` (a Corpus, or the refusal's message) when the file or the column
    changed since the last read."""
    upload = st.session_state.get(state.CORPUS_UPLOAD)
    if upload is None:
        st.session_state.pop(state.CORPUS, None)
        st.session_state.pop(state.CORPUS_READ, None)
        return
    column = str(st.session_state.get(state.CORPUS_COLUMN, "")).strip()
    if st.session_state.get(state.CORPUS_READ) == (upload.file_id, column):
        return
    st.session_state[state.CORPUS_READ] = (upload.file_id, column)
    st.session_state.pop(state.CORPUS_JOB, None)
    try:
        served.check_upload(upload.size, upload.name)
        st.session_state[state.CORPUS] = corpus_from_bytes(upload.getvalue(), upload.name, column)
    except EmbedLabError as error:
        st.session_state[state.CORPUS] = str(error)


def _raw_side(model: str, raw_model: str | None, corpus: Corpus) -> StoredCorpus | None:
    """The raw panel's stored corpus when its job has finished; else its encode button (and job progress) and None.
    Nothing for a model a corpus job cannot encode (an embeddings service, random weights) or the trained one."""
    if not raw_model or raw_model == model:
        return None
    try:
        model_id = resolve_model(raw_model)
        if model_id.kind in ("vectors", "untrained") or "vectors" not in kind_of(raw_model).capabilities:
            return None
        stored = find_corpus(model_id, corpus)
        if stored is not None and stored.complete:
            return stored
        st.markdown("**Raw side by side**")
        _encode_panel(raw_model, corpus, stored, state.CORPUS_RAW_JOB, state.CORPUS_RAW_ENCODE, raw=True)
    except (EmbedLabError, QueueUnreadable) as error:
        notes.error("{}", error, icon="⚠️")
    return None


def _encode_panel(
    model: str,
    corpus: Corpus,
    stored: StoredCorpus | None,
    job_key: str = state.CORPUS_JOB,
    button_key: str = state.CORPUS_ENCODE,
    raw: bool = False,
) -> None:
    if stored is not None and stored.done_chunks():
        notes.info(
            "{} of {} chunks are stored already: encoding resumes there.", len(stored.done_chunks()), stored.n_chunks
        )
    job_id = st.session_state.get(job_key)
    label = "Encode with the workers"
    if raw:
        label = f"Encode with {model} too (the raw panel's model), to map it beside"
    if st.button(label, key=button_key, type="secondary" if raw else "primary"):
        stored = prepare_corpus(model, corpus)
        jobs = job_queue()
        request = EncodeRequest(model, stored.key, corpus.source, stored.n_texts, stored.n_chunks)
        job_id = jobs.submit_encode(request, owner=session_owner(), browser=browser_key())
        st.session_state[job_key] = job_id
        ensure_worker(jobs)
    if job_id is not None:
        st.fragment(run_every=POLL_SECONDS)(_job_progress)(job_id, job_key)


def _job_progress(job_id: str, job_key: str = state.CORPUS_JOB) -> None:
    view: JobView | None = job_queue().view(job_id, session_owner())
    if view is None:
        return
    fitting = view.method == MAP_METHOD
    if not view.active:
        if view.state == "finished":
            st.session_state.pop(job_key, None)
            st.rerun(scope="app")  # the vectors (or the map) are stored: what they make replaces this panel
        notes.warning("The {} job {}: {}", "map" if fitting else "encoding", view.state, view.message or "no message")
        if fitting and st.button("Fit the map again", key=f"{state.CORPUS_MAP_AGAIN}.{job_key}"):
            st.session_state.pop(job_key, None)
            st.rerun(scope="app")
        return
    latest = view.latest
    if view.state == "queued" or latest is None:
        waiting = f"queued, position {view.position}" if view.position else (view.phase or "starting…")
        st.progress(0.0, text=waiting)
        return
    eta = f", about {latest.eta_seconds:.0f} s left" if latest.eta_seconds is not None else ""
    fraction = latest.step / max(1, latest.total)
    done = f"{latest.step:,}/{latest.total:,} points placed" if fitting else f"chunk {latest.step}/{latest.total}"
    st.progress(fraction, text=f"{view.phase}: {done}{eta}")


def _explore(stored: StoredCorpus, corpus: Corpus, raw: StoredCorpus | None = None) -> None:
    truncated = stored.truncated()
    if truncated:
        notes.caption(
            "{} of {} texts were longer than the model's length and were cut by its tokenizer.",
            f"{truncated:,}",
            f"{stored.n_texts:,}",
        )
    folder = str(stored.folder)
    vectors = _vectors(folder)
    texts = _texts(folder)
    left, right = st.columns(2)
    method = left.radio("Map", ("auto", "umap", "pca"), horizontal=True, key=state.CORPUS_METHOD)
    colourings = COLOURINGS + tuple(corpus.columns)
    colour_by = right.selectbox("Colour by", colourings, key=state.CORPUS_COLOUR)
    try:
        fitted = _kept_map(stored, method, state.CORPUS_MAP_JOB)
        raw_fitted = _kept_map(raw, method, state.CORPUS_RAW_MAP_JOB) if raw is not None else None
        if fitted is None:
            notes.caption("The map is fitted by the workers, once per corpus and method: kept for every visit and tab.")
            return
        if colour_by == "clusters":
            k = st.slider("Clusters", 2, MAX_CLUSTERS, 8, key=state.CORPUS_CLUSTERS)
            groups = [f"cluster {label}" for label in _clusters(folder, k)]
        else:
            groups = list(corpus.columns[colour_by])
    except (EmbedLabError, QueueUnreadable) as error:
        notes.error("{}", error, icon="⚠️")
        return
    notes.caption("{}", fitted.note)
    query = st.text_input(
        "Search (highlights the texts that contain it)", key=state.CORPUS_QUERY, max_chars=MAX_QUERY_CHARS
    )
    found = matches(texts, query)
    region = None
    if len(texts) > MAX_DRAWN_POINTS:
        region = _region_sliders(fitted.coords)
    figure = corpus_map_figure(fitted.coords, texts, groups, found, region, MAX_DRAWN_POINTS)
    if raw is None or raw_fitted is None:
        trained_slot = st.container()
    else:
        trained_slot, raw_slot = st.columns(2)
        with trained_slot:
            notes.markdown("**Trained:** {}", stored.model)
        with raw_slot:
            notes.markdown("**Raw:** {}", raw.model)
        raw_region = None if region is None else _extent(raw_fitted.coords)
        raw_figure = corpus_map_figure(raw_fitted.coords, texts, groups, found, raw_region, MAX_DRAWN_POINTS)
        with raw_slot:
            map_chart(raw_figure, state.CORPUS_RAW_MAP, len(texts))
        notes.caption(
            "Raw: the raw model's own sentence-transformers pipeline, as its corpus job stores it (mean pooling of "
            "the last layer for a plain transformers model), not the raw panel's pooling and layers; coloured by "
            "the same groups. {}",
            raw_fitted.note,
        )
    with trained_slot:
        selected = map_chart(figure, state.CORPUS_MAP, len(texts))
    if query.strip():
        notes.caption("{} texts contain the search.", f"{int(found.sum()):,}")
    _selection(selected, texts, groups)
    _neighbours(folder, vectors, texts)


def _extent(coords: npt.NDArray[np.float32]) -> tuple[tuple[float, float], tuple[float, float]]:
    """The whole map as a region (the raw map's own axes differ from the trained map's sliders)."""
    low, high = coords.min(axis=0).astype(float), coords.max(axis=0).astype(float)
    return (low[0], high[0]), (low[1], high[1])


def _region_sliders(coords: npt.NDArray[np.float32]) -> tuple[tuple[float, float], tuple[float, float]]:
    low, high = coords.min(axis=0).astype(float), coords.max(axis=0).astype(float)
    notes.caption(
        "More points than a browser draws well: the map shows their density, and the points of the region below."
    )
    x = st.slider("Region, x", low[0], high[0], (low[0], high[0]), key=state.CORPUS_REGION_X)
    y = st.slider("Region, y", low[1], high[1], (low[1], high[1]), key=state.CORPUS_REGION_Y)
    inside = int(in_region(coords, x, y).sum())
    notes.caption("{} points in the region.", f"{inside:,}")
    return x, y


def _selection(rows: list[int], texts: tuple[str, ...], groups: list[str]) -> None:
    if not rows:
        return
    listed_note = f" (the first {MAX_LISTED} listed)" if len(rows) > MAX_LISTED else ""
    notes.markdown("**{} selected**{}", f"{len(rows):,}", listed_note)
    listed = rows[:MAX_LISTED]
    st.dataframe(
        pd.DataFrame({"#": listed, "group": [groups[i] for i in listed], "text": [texts[i] for i in listed]}),
        hide_index=True,
    )


def _neighbours(folder: str, vectors: npt.NDArray[np.float32], texts: tuple[str, ...]) -> None:
    st.markdown("**Nearest neighbours** (cosine, in the original space)")
    row = st.number_input("Text number", 0, len(texts) - 1, 0, key=state.CORPUS_ROW)
    with st.spinner(f"Indexing {len(texts):,} vectors for neighbour search (once per corpus)…"):
        index, recall = _index(folder)
    found, scores = index.query(vectors[int(row)], k=11)
    neighbours = [(int(i), float(s)) for i, s in zip(found[0], scores[0], strict=True) if int(i) != int(row)][:10]
    notes.caption("Neighbours of: {}", texts[int(row)])
    st.dataframe(
        pd.DataFrame(
            {
                "#": [i for i, _ in neighbours],
                "cosine": [s for _, s in neighbours],
                "text": [texts[i] for i, _ in neighbours],
            }
        ),
        hide_index=True,
    )
    if index.kind == "exact":
        notes.caption("Exact search: {} ms per query.", f"{recall.exact_ms:.2f}")
    else:
        notes.caption(
            "Approximate index (HNSW): recall@{} against the exact search {} on {} queries; {} ms per query, "
            "exact {} ms.",
            recall.k,
            f"{recall.recall:.3f}",
            recall.queries,
            f"{recall.index_ms:.2f}",
            f"{recall.exact_ms:.2f}",
        )
