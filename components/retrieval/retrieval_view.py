"""Retrieval: the data source, the systems, their runs (kept per session, the encodings shared by every session
through the encoders' caches), the table of systems x metrics, the paired tests and one query up close.

A run is computed at once when the texts still to encode are few (``AUTO_TEXTS``), else on a button that states the
cost first (N corpus encodes once per model, one per query, and k pair passes per query for a re-ranker).
"""

from __future__ import annotations

import time
from dataclasses import replace

import pandas as pd
import streamlit as st

from components.shared import notes, state
from components.shared.model_box import cross_encoder_box, models_box
from components.shared.services import encode_unseen, get_pair_scorer, get_scorer
from components.shared.uploads import flash, new_upload, show_flash
from embedlab import corpora
from embedlab.errors import EmbedLabError
from embedlab.limits import MAX_RETRIEVAL_RERANK_K
from embedlab.models.loading import PACKAGED
from embedlab.retrieval.data import RetrievalData, bundled_sts, read_upload, subset
from embedlab.retrieval.evaluation import MAP_CONTEXT, RetrievalReport, build_report, map_lines, query_detail
from embedlab.retrieval.systems import SystemRun, bm25_run, rerank_run, vector_run

SOURCES = ("slice", "bundled", "upload")
SLICE_QUERIES, SLICE_DOCUMENTS = 40, 400
SOURCE_LABELS = {
    "slice": f"STS dev paraphrases: a quick slice ({SLICE_QUERIES} queries, {SLICE_DOCUMENTS} documents)",
    "bundled": "STS dev paraphrases: all of them",
    "upload": "Upload: a BEIR folder as a .zip, or a CSV/TSV of (query, relevant text)",
}
AUTO_TEXTS = 1_000  # texts still to encode (or pairs to score) under which a run starts without a button
DEFAULT_TOP_K = 20
SHOWN_DOCUMENTS = 5  # documents listed per system for one query


def init_state() -> None:
    defaults = {
        state.RETRIEVAL_SOURCE: "slice",
        state.RETRIEVAL_MODELS: [PACKAGED],
        state.RETRIEVAL_BM25: True,
        state.RETRIEVAL_CROSS: None,
        state.RETRIEVAL_TOP_K: DEFAULT_TOP_K,
        state.RETRIEVAL_RUNS: {},
        state.RETRIEVAL_FAILED: {},
    }
    for key, value in defaults.items():
        st.session_state.setdefault(key, value)


@st.cache_data(show_spinner=False, max_entries=2)
def bundled(which: str, mtime_ns: int) -> RetrievalData:
    """The bundled set (or its slice), built once per server from the STS dev split (again if the file changes)."""
    data = bundled_sts(corpora.STS_DEV_FILE)
    return subset(data, SLICE_QUERIES, SLICE_DOCUMENTS) if which == "slice" else data


# ---------------------------------------------------------------- data


def data_source() -> RetrievalData | None:
    """The data set in use (None when there is none: the STS split is absent and nothing was uploaded)."""
    source = st.radio(
        "Data",
        SOURCES,
        format_func=SOURCE_LABELS.get,
        **state.remembered(state.RETRIEVAL_SOURCE_WIDGET, state.RETRIEVAL_SOURCE, "slice", options=SOURCES),
    )
    if source == "upload":
        _upload()
        show_flash(state.RETRIEVAL)
        data = st.session_state.get(state.RETRIEVAL_UPLOADED)
        if data is None:
            notes.info("Upload a BEIR zip (corpus.jsonl, queries.jsonl, qrels/test.tsv) or a two-column CSV.")
        return data
    if not corpora.STS_DEV_FILE.is_file():
        notes.info(
            "The bundled set is built from the STS benchmark's dev split, which is not beside this app "
            "(../shared/data/stsbenchmark/): upload your own data instead."
        )
        return None
    return bundled(source, corpora.STS_DEV_FILE.stat().st_mtime_ns)


def _upload() -> None:
    st.file_uploader("BEIR folder (.zip) or CSV/TSV", type=["zip", "csv", "tsv"], key=state.RETRIEVAL_UPLOAD_WIDGET)
    try:
        upload = new_upload(state.RETRIEVAL_UPLOAD_WIDGET)
        if upload is None:
            return
        data = read_upload(upload.getvalue(), upload.name)
    except EmbedLabError as error:
        flash(state.RETRIEVAL, f"{error} The data in use was left as it was.", "error")
        return
    st.session_state[state.RETRIEVAL_UPLOADED] = data
    flash(state.RETRIEVAL, f"Loaded {data.describe()} from {upload.name}.")


# ---------------------------------------------------------------- systems


def systems_choice() -> tuple[list[str], bool, str | None, int]:
    """(bi-encoders, BM25 on, the re-ranker or None, its top k)."""
    models_col, other_col = st.columns([3, 2])
    with models_col:
        kept = state.remembered(state.RETRIEVAL_MODELS_WIDGET, state.RETRIEVAL_MODELS)
        models = models_box(
            kept["key"],
            "Bi-encoders",
            "Each ranks the corpus by the cosine of its sentence vectors: raw pooling, a trained model or an "
            "embeddings service. The corpus is encoded once per model (cached), then one encode per query.",
            on_change=kept["on_change"],
        )
    with other_col:
        bm25 = st.checkbox("BM25 (bm25s)", **state.remembered(state.RETRIEVAL_BM25_WIDGET, state.RETRIEVAL_BM25))
        kept = state.remembered(state.RETRIEVAL_CROSS_WIDGET, state.RETRIEVAL_CROSS)
        cross = cross_encoder_box(
            kept["key"],
            "Re-ranker (cross-encoder)",
            "Re-ranks the first bi-encoder's top k per query: one pass per (query, document).",
            on_change=kept["on_change"],
        )
        top_k = st.number_input(
            "Re-rank top k",
            min_value=1,
            max_value=MAX_RETRIEVAL_RERANK_K,
            step=1,
            **state.remembered(state.RETRIEVAL_TOP_K_WIDGET, state.RETRIEVAL_TOP_K),
        )
    return models, bm25, cross, int(top_k)


def cost_line(data: RetrievalData, models: list[str], cross: str | None, top_k: int) -> str:
    """What the chosen systems cost on ``data``, in passes."""
    n_docs, n_queries = len(data.corpus), len(data.queries)
    parts = [f"{n_docs:,} corpus encodes once per model (cached), then one encode per query ({n_queries:,})"]
    if cross and models:
        parts.append(f"the re-ranker: {top_k} pair passes per query ({top_k * n_queries:,})")
    return "Cost: " + "; ".join(parts) + ". BM25 needs no model pass."


# ---------------------------------------------------------------- runs


def _key(data: RetrievalData, *system: object) -> tuple:
    return (data.fingerprint, *system)


def runs(data: RetrievalData, models: list[str], bm25: bool, cross: str | None, top_k: int) -> list[SystemRun]:
    """The chosen systems' runs over ``data``: from the session, else computed (small ones at once, else after a
    button). A system that fails is named with its reason and left out; the others carry on."""
    kept: dict = st.session_state[state.RETRIEVAL_RUNS]
    failed: dict = st.session_state[state.RETRIEVAL_FAILED]
    wanted = ([("bm25",)] if bm25 else []) + [("model", model) for model in models]
    if cross and models:
        wanted.append(("rerank", models[0], cross, top_k))
    pending = [system for system in wanted if _key(data, *system) not in kept and _key(data, *system) not in failed]
    to_do = sum(_work(data, system) for system in pending)
    if pending and to_do > AUTO_TEXTS:
        label = f"Run {len(pending)} system(s) on {data.describe()} ({to_do:,} model passes)"
        if not st.button(label, key=state.RETRIEVAL_RUN_BUTTON, type="primary"):
            pending = []
    for system in pending:
        try:
            kept[_key(data, *system)] = _run(data, system, kept)
        except EmbedLabError as error:
            failed[_key(data, *system)] = str(error)
    for system in wanted:
        if (reason := failed.get(_key(data, *system))) is not None:
            notes.error("{} could not run: {}", " · ".join(map(str, system[1:])) or system[0], reason, icon="⚠️")
    return [kept[_key(data, *system)] for system in wanted if _key(data, *system) in kept]


def _work(data: RetrievalData, system: tuple) -> int:
    if system[0] == "model":
        return len(data.corpus) + len(data.queries)
    if system[0] == "rerank":
        return system[3] * len(data.queries)
    return 0


def _run(data: RetrievalData, system: tuple, kept: dict) -> SystemRun:
    if system[0] == "bm25":
        return bm25_run(data)
    if system[0] == "model":
        scorer = get_scorer(system[1])
        scorer.require("vectors", "retrieval by sentence vectors (choose it as the re-ranker instead)")
        start, passes = time.perf_counter(), scorer.work_done
        encode_unseen(scorer.encoder, [*data.corpus.values(), *data.queries.values()], scorer.ref)  # with a bar
        run = vector_run(data, scorer)  # every text is cached by now
        return replace(run, passes=scorer.work_done - passes, seconds=time.perf_counter() - start)
    _, model, cross, top_k = system
    base = kept.get(_key(data, "model", model))
    if base is None:
        raise EmbedLabError(f"the re-ranker needs {model}'s run first, which failed.")
    scorer = get_pair_scorer(cross)
    bar = st.progress(0.0, text="Re-ranking…")
    try:
        return rerank_run(
            data,
            base,
            scorer,
            top_k,
            lambda done, total: bar.progress(done / total, text=f"Re-ranking {done:,}/{total:,}"),
        )
    finally:
        bar.empty()


# ---------------------------------------------------------------- results


def show_results(report: RetrievalReport) -> None:
    """The table, the costs, the paired tests, then the queries worst first and one query up close."""
    st.dataframe(report.table.style.format("{:.3f}"), width="stretch")
    for run in report.runs:
        notes.caption(
            "{}: {}; {} model passes here, {} s.", run.name, run.cost, f"{run.passes:,}", f"{run.seconds:.1f}"
        )
    if report.tests:
        st.subheader(f"Paired tests ({report.metric})")
        for test in report.tests:
            notes.markdown("- {}", test.sentence)
    st.subheader("Where each query's relevant document ranked")
    names = [run.name for run in report.runs]
    system = st.selectbox(
        "Worst first under",
        names,
        **state.remembered(state.RETRIEVAL_SYSTEM_WIDGET, state.RETRIEVAL_SYSTEM, names[-1], options=names),
    )
    ordered = report.worst_first(system)
    st.dataframe(ordered, width="stretch", height=280)
    query_ids = list(ordered.index)
    query_id = st.selectbox(
        "A query up close",
        query_ids,
        format_func=lambda q: f"{q}: {report.data.queries[q][:80]}",
        **state.remembered(state.RETRIEVAL_QUERY_WIDGET, state.RETRIEVAL_QUERY, query_ids[0], options=query_ids),
    )
    query_up_close(report, query_id)
    if st.button(
        "Show this query on the Projection map",
        key=state.RETRIEVAL_TO_MAP_BUTTON,
        help=f"The query, its relevant documents, what {system} retrieved first and {MAP_CONTEXT} other documents, "
        "as the Projection page's typed sentences, coloured by role.",
    ):
        show_on_map(report, system, query_id)


def show_on_map(report: RetrievalReport, system: str, query_id: str) -> None:
    """Hand the query and its retrieved set to the Projection page as typed sentences, and open it."""
    st.session_state[state.PROJECTION_SOURCE] = "text"
    st.session_state[state.PROJECTION_TEXT] = map_lines(report.data, report.run(system), query_id)
    for widget in (state.PROJECTION_SOURCE_WIDGET, state.PROJECTION_TEXT_WIDGET):
        st.session_state.pop(widget, None)  # the widgets start from the entries just set
    st.switch_page("app_pages/projection.py")


def query_up_close(report: RetrievalReport, query_id: str) -> None:
    """The query, its relevant documents, and under each system what came first instead, with the scores."""
    data = report.data
    notes.markdown("**Query** {}: {}", query_id, data.queries[query_id])
    relevant = data.relevant(query_id)
    notes.markdown("**Relevant** {}", "; ".join(f"{doc} (grade {grade})" for doc, grade in relevant.items()))
    for run in report.runs:
        rank = report.ranks.loc[query_id, run.name]
        where = "not retrieved" if pd.isna(rank) else f"rank {int(rank)}"
        with st.expander(
            f"{notes.literal(run.name)}: first relevant at {where}", expanded=run.name == report.runs[-1].name
        ):
            st.dataframe(query_detail(data, run, query_id, SHOWN_DOCUMENTS), width="stretch", hide_index=True)


def report_for(data: RetrievalData, system_runs: list[SystemRun]) -> RetrievalReport:
    """The report of this session's runs, kept until the runs change: picking a query or a system reruns the page,
    and the paired tests (10,000 resamples each) need not be drawn again."""
    key = (data.fingerprint, tuple((run.name, run.seconds) for run in system_runs))
    kept = st.session_state.get(state.RETRIEVAL_REPORT)
    if kept is None or kept[0] != key:
        kept = (key, build_report(data, system_runs))
        st.session_state[state.RETRIEVAL_REPORT] = kept
    return kept[1]
