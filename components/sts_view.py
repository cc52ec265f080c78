"""STS evaluation in the app: data sources, cached grid evaluations, the heatmap and scatter figures.

What the user chose (data set, models, the scatter's configuration) and every evaluation computed are kept under
plain session-state keys, so they survive page switches; widgets are seeded from them on every visit.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from components.services import default_raw_model, encode_unseen, get_encoder, load_encoder
from embedlab.data.pairfiles import decode_text
from embedlab.embedding.specs import RAW_POOLINGS
from embedlab.errors import EmbedLabError
from embedlab.models.identity import ModelId, resolve_model
from embedlab.models.loading import PACKAGED, SUGGESTED_MODELS, UNTRAINED
from embedlab.tasks.sts import (
    BUNDLED_LABEL,
    FIRST_LAST,
    HUB_DATASETS,
    HUB_SPLITS,
    PUBLISHED_SPLIT,
    UNDEFINED,
    Evaluation,
    ScoredPairs,
    best_configurations,
    bundled_pairs,
    describe_row,
    evaluate_grid,
    grid_csv_table,
    load_hub_benchmark,
    parse_scored_text,
    post_effects,
    published_comparison,
    rank_disagreements,
    rank_gaps,
    read_scored_pairs,
)

# Plain session-state keys: what the user chose and what was computed (kept across page switches)
DATASET = "sts.dataset"  # ScoredPairs in use
SOURCE = "sts.source"  # one of SOURCES
PATH = "sts.path"  # the last local path typed
HUB_SPLIT = "sts.hub_split"
HUB_DATASET = "sts.hub_dataset"
MODELS = "sts.models"  # list of model refs
RESULTS = "sts.results"  # {(dataset fingerprint, canonical model key): Evaluation}
REVISIONS = "sts.revisions"  # {RESULTS key: the model revision it was computed with}
FAILED = "sts.failed"  # {model: why it could not be evaluated}
UPLOADED_ID = "sts.uploaded_id"  # file id of the last applied upload
SCATTER_MODEL = "sts.scatter_model"
SCATTER_CONFIG = "sts.scatter_config"  # "pooling|layers|post"
# Widget keys
SOURCE_WIDGET = "sts.source.widget"
PATH_WIDGET = "sts.path.widget"
HUB_SPLIT_WIDGET = "sts.hub_split.widget"
HUB_DATASET_WIDGET = "sts.hub_dataset.widget"
UPLOAD_WIDGET = "sts.upload.widget"
MODELS_WIDGET = "sts.models.widget"
EVALUATE_BUTTON = "sts.evaluate"
SCATTER_MODEL_WIDGET = "sts.scatter_model.widget"
SCATTER_CONFIG_WIDGET = "sts.scatter_config.widget"

SOURCES = ("bundled", "upload", "path", "hub")
SOURCE_LABELS = {
    "bundled": "Small bundled set (written for the project, not the benchmark)",
    "upload": "Upload a file",
    "path": "Local path",
    "hub": "STS benchmark via Hugging Face datasets (needs a network)",
}
AUTO_PAIRS = 100  # sets up to this size are evaluated as soon as they are chosen; larger ones on a button
PATH_PLACEHOLDER = "../shared/data/stsbenchmark/sts-dev.csv"


# ---------------------------------------------------------------- cached services


@st.cache_data(show_spinner=False)
def bundled() -> ScoredPairs:
    return bundled_pairs()


@st.cache_data(show_spinner=False, max_entries=6)
def hub_pairs(split: str, dataset: str) -> ScoredPairs:
    """The benchmark from the ``datasets`` library; errors (no network) are not cached."""
    return load_hub_benchmark(split, dataset)


@st.cache_data(show_spinner=False, max_entries=32)
def grid_evaluation(fingerprint: str, model: ModelId, _pairs: ScoredPairs) -> Evaluation:
    """The full grid of one model on one data set, cached per (dataset fingerprint, model identity): a model folder
    rewritten on disk has a new revision, so it is evaluated again.

    ``_pairs`` is not hashed: ``fingerprint`` is a digest of its sentences and scores, so it identifies it.
    """
    assert fingerprint == _pairs.fingerprint
    return evaluate_grid(get_encoder(model), _pairs)


# ---------------------------------------------------------------- state


def init_state() -> None:
    st.session_state.setdefault(SOURCE, "bundled")
    st.session_state.setdefault(PATH, "")
    st.session_state.setdefault(HUB_SPLIT, HUB_SPLITS[0])
    st.session_state.setdefault(HUB_DATASET, HUB_DATASETS[0])
    st.session_state.setdefault(RESULTS, {})
    st.session_state.setdefault(REVISIONS, {})
    st.session_state.setdefault(FAILED, {})
    if DATASET not in st.session_state:
        st.session_state[DATASET] = bundled()
    if MODELS not in st.session_state:
        models = [PACKAGED, UNTRAINED]
        raw_model, _ = default_raw_model()
        if raw_model != PACKAGED:  # bert-base-uncased could be loaded
            models.insert(0, raw_model)
        st.session_state[MODELS] = models


def _seed(widget_key: str, plain_key: str, options: list | tuple | None = None) -> None:
    """Give a widget the remembered value when it is (re)created, e.g. after a page switch."""
    value = st.session_state.get(plain_key)
    if widget_key not in st.session_state and (options is None or value in options):
        st.session_state[widget_key] = value


def _use(pairs: ScoredPairs, message: str | None = None) -> None:
    st.session_state[DATASET] = pairs
    if message:
        st.success(message, icon="✅")


# ---------------------------------------------------------------- data source


def data_source() -> ScoredPairs:
    """Source picker; returns the scored pairs in use (the last ones loaded without error)."""
    _seed(SOURCE_WIDGET, SOURCE, SOURCES)
    source = st.radio("Data", SOURCES, key=SOURCE_WIDGET, format_func=SOURCE_LABELS.get)
    if source != st.session_state[SOURCE] and source == "bundled":
        _use(bundled())
    st.session_state[SOURCE] = source
    if source == "bundled":
        st.caption(
            "60 pairs written for this project with scores 0-5: handy for a quick look, but it is **not** the STS "
            "benchmark, so its numbers are not comparable with published ones."
        )
    elif source == "upload":
        _upload()
    elif source == "path":
        _path()
    else:
        _hub()
    pairs: ScoredPairs = st.session_state[DATASET]
    st.caption(
        f"In use: **{pairs.name}**: {pairs.n_pairs} pairs, {len(pairs.unique_sentences())} unique sentences, "
        f"gold scores 0-{pairs.scale:g}."
    )
    return pairs


def _upload() -> None:
    upload = st.file_uploader(
        "STS-format file, or CSV/TSV with sentence1, sentence2, score (0-5 or 0-1)",
        type=["csv", "tsv", "txt"],
        key=UPLOAD_WIDGET,
    )
    if upload is None or st.session_state.get(UPLOADED_ID) == upload.file_id:
        return
    st.session_state[UPLOADED_ID] = upload.file_id
    try:
        pairs = parse_scored_text(decode_text(upload.getvalue(), upload.name), upload.name)
    except EmbedLabError as error:
        st.error(f"{error} The data in use was left as it was.", icon="⚠️")
        return
    _use(pairs, f"Loaded {pairs.n_pairs} scored pairs from {upload.name}.")


def _path() -> None:
    _seed(PATH_WIDGET, PATH)
    with st.form("sts.path_form", border=False):
        path = st.text_input("Path of an STS-format or CSV/TSV file", key=PATH_WIDGET, placeholder=PATH_PLACEHOLDER)
        submitted = st.form_submit_button("Load file")
    st.session_state[PATH] = path
    if submitted:
        try:
            pairs = read_scored_pairs(path.strip())
        except EmbedLabError as error:
            st.error(f"{error} The data in use was left as it was.", icon="⚠️")
            return
        _use(pairs, f"Loaded {pairs.n_pairs} scored pairs from {path.strip()}.")


def _hub() -> None:
    _seed(HUB_DATASET_WIDGET, HUB_DATASET, HUB_DATASETS)
    _seed(HUB_SPLIT_WIDGET, HUB_SPLIT, HUB_SPLITS)
    dataset_col, split_col, button_col = st.columns([3, 2, 1], vertical_alignment="bottom")
    dataset = dataset_col.selectbox("Dataset", HUB_DATASETS, key=HUB_DATASET_WIDGET)
    split = split_col.selectbox("Split", HUB_SPLITS, key=HUB_SPLIT_WIDGET)
    st.session_state[HUB_DATASET], st.session_state[HUB_SPLIT] = dataset, split
    if button_col.button("Load", key="sts.hub_load"):
        try:
            with st.spinner(f"Loading {dataset} ({split})…"):
                pairs = hub_pairs(split, dataset)
        except EmbedLabError as error:
            st.error(str(error), icon="📡")
            return
        _use(pairs, f"Loaded {pairs.n_pairs} scored pairs from {dataset} ({split}).")
    st.caption("Published numbers are on the test split; the dev split (validation) is the one to tune on.")


# ---------------------------------------------------------------- models and evaluation


def model_choice() -> list[str]:
    current = st.session_state[MODELS]
    options = list(dict.fromkeys([*SUGGESTED_MODELS, *current]))
    _seed(MODELS_WIDGET, MODELS)
    models = st.multiselect(
        "Models",
        options,
        key=MODELS_WIDGET,
        accept_new_options=True,
        help="Each model is encoded once per unique sentence; every layer and pooling comes from that one pass. "
        "Offline: all-MiniLM-L6-v2 and untrained-bert; with a network: bert-base-uncased and other Hub ids.",
    )
    st.session_state[MODELS] = list(models)
    failed = st.session_state[FAILED]
    for model in [model for model in failed if model not in models]:
        del failed[model]  # picked again later: tried again
    return list(models)


def evaluations(pairs: ScoredPairs, models: list[str]) -> list[Evaluation]:
    """Evaluations of the chosen models on ``pairs``: from the session, else computed (small sets at once)."""
    results: dict = st.session_state[RESULTS]
    failed: dict = st.session_state[FAILED]
    for model, reason in failed.items():
        st.error(f"{model}: {reason}", icon="⚠️")
    keys = {model: _result_key(pairs, model) for model in models}
    pending = [m for m in models if keys[m] not in results and m not in failed]
    if pending:
        label = f"Evaluate {', '.join(pending)} on {pairs.n_pairs} pairs ({len(pairs.unique_sentences())} sentences)"
        if pairs.n_pairs <= AUTO_PAIRS or st.button(label, key=EVALUATE_BUTTON, type="primary"):
            for model in pending:
                _evaluate(pairs, model)
        else:
            st.info(
                "One forward pass per unique sentence and model, then every configuration from it: on this "
                "machine's CPU that takes a while for large sets.",
                icon="⏱️",
            )
    return [results[keys[m]] for m in models if keys[m] in results]


def _result_key(pairs: ScoredPairs, model: str) -> tuple[str, str]:
    """Key of a session result: (data set, canonical model key); the typed text when it does not resolve.

    A result computed with another revision of the model (a folder rewritten since) is dropped here, so the
    model is evaluated again.
    """
    try:
        model_id = resolve_model(model)
    except EmbedLabError:
        return pairs.fingerprint, model
    key = (pairs.fingerprint, model_id.key)
    if st.session_state.setdefault(REVISIONS, {}).get(key, "") != model_id.revision:
        st.session_state[RESULTS].pop(key, None)
    return key


def _evaluate(pairs: ScoredPairs, model: str) -> None:
    try:
        encoder = load_encoder(model)
        encode_unseen(encoder, pairs.unique_sentences(), model)
        with st.spinner(f"Correlations for every configuration of {model}…"):
            evaluation = grid_evaluation(pairs.fingerprint, encoder.model.model_id, pairs)
    except EmbedLabError as error:
        st.session_state[FAILED][model] = str(error)
        st.error(f"{model}: {error}", icon="⚠️")
        return
    model_id = encoder.model.model_id
    st.session_state[RESULTS][(pairs.fingerprint, model_id.key)] = evaluation
    st.session_state.setdefault(REVISIONS, {})[(pairs.fingerprint, model_id.key)] = model_id.revision


# ---------------------------------------------------------------- results


def show_results(pairs: ScoredPairs, evaluations: list[Evaluation]) -> None:
    st.subheader("Best configurations")
    st.dataframe(
        best_configurations(evaluations),
        hide_index=True,
        column_config={
            "own pipeline": st.column_config.NumberColumn("Own pipeline (Spearman)", format="%.2f"),
            "best Spearman": st.column_config.NumberColumn(format="%.2f"),
            "its Pearson": st.column_config.NumberColumn(format="%.2f"),
        },
    )
    st.subheader("Which layer, which pooling?")
    columns = st.columns(min(2, len(evaluations)))
    for i, evaluation in enumerate(evaluations):
        columns[i % len(columns)].plotly_chart(spearman_heatmap(evaluation), key=f"sts.heatmap.{evaluation.model}")
    st.caption(
        "Spearman x 100 of cosine against the gold scores; the box marks the best raw configuration. "
        f"'undefined' = {UNDEFINED} (CLS at layer 0 is one fixed vector for every sentence)."
    )
    effects = post_effects(evaluations)
    if len(effects):
        st.markdown(
            "**Post-processing**, fitted on the evaluated sentences (never their scores): Spearman before/after"
        )
        st.dataframe(
            effects,
            hide_index=True,
            column_config={
                "before": st.column_config.NumberColumn(format="%.2f"),
                "after": st.column_config.NumberColumn(format="%.2f"),
                "change": st.column_config.NumberColumn(format="%+.2f"),
            },
        )
    st.download_button(
        "Download the full grid (CSV)",
        grid_csv_table(evaluations).to_csv(index=False).encode("utf-8"),
        "embedding-lab-sts-grid.csv",
        mime="text/csv",
        icon=":material/download:",
        key="sts.download",
    )
    st.subheader("Measured beside published")
    if pairs.name == BUNDLED_LABEL:
        st.warning(
            "The data in use is the project's small set, not the benchmark: the measured numbers are not "
            "comparable with the published ones. Load the STS benchmark (test split) for that."
        )
    st.caption(f"Published: Spearman x 100 on the {PUBLISHED_SPLIT}. Measured here: on {pairs.name}.")
    st.dataframe(
        published_comparison(evaluations),
        hide_index=True,
        column_config={
            "published": st.column_config.NumberColumn(f"Published ({PUBLISHED_SPLIT})", format="%.2f"),
            "source": "Source",
            "measured": st.column_config.NumberColumn("Measured here", format="%.2f"),
            "measured_on": "Measured with",
        },
    )
    scatter_section(pairs, evaluations)


def scatter_section(pairs: ScoredPairs, evaluations: list[Evaluation]) -> None:
    st.subheader("Where does a configuration fail?")
    by_model = {evaluation.model: evaluation for evaluation in evaluations}
    models = list(by_model)
    if st.session_state.get(SCATTER_MODEL) not in models:
        st.session_state[SCATTER_MODEL] = models[0]
        st.session_state.pop(SCATTER_MODEL_WIDGET, None)
    _seed(SCATTER_MODEL_WIDGET, SCATTER_MODEL, models)
    model_col, config_col = st.columns(2)
    model = model_col.selectbox("Model", models, key=SCATTER_MODEL_WIDGET)
    st.session_state[SCATTER_MODEL] = model
    evaluation = by_model[model]
    table = evaluation.table
    keys = [f"{p}|{layers}|{post}" for p, layers, post in zip(table.pooling, table.layers, table.post, strict=True)]
    if st.session_state.get(SCATTER_CONFIG) not in keys:
        best = evaluation.best()
        st.session_state[SCATTER_CONFIG] = keys[int(best.name)] if best is not None else keys[0]
        st.session_state.pop(SCATTER_CONFIG_WIDGET, None)
    _seed(SCATTER_CONFIG_WIDGET, SCATTER_CONFIG, keys)

    def label(key: str) -> str:
        row = keys.index(key)
        value = evaluation.table.spearman.iloc[row]
        shown = "undefined" if np.isnan(value) else f"Spearman {value:.2f}"
        return f"{describe_row(evaluation, row)} ({shown})"

    key = config_col.selectbox("Configuration", keys, key=SCATTER_CONFIG_WIDGET, format_func=label)
    st.session_state[SCATTER_CONFIG] = key
    row = keys.index(key)
    st.plotly_chart(cosine_scatter(evaluation, row, pairs), key="sts.scatter")
    st.caption("The pairs whose cosine rank is furthest from their gold rank:")
    st.dataframe(
        rank_disagreements(evaluation, row, pairs),
        hide_index=True,
        column_config={
            "gold": st.column_config.NumberColumn(format="%.2f"),
            "cosine": st.column_config.NumberColumn(format="%.3f"),
            "rank_gap": st.column_config.NumberColumn(
                "Rank gap", format="%+.2f", help="cosine rank minus gold rank, as a fraction of the list"
            ),
        },
    )


# ---------------------------------------------------------------- figures


def _layer_label(layers: str) -> str:
    if layers == "0":
        return "0 (embeddings)"
    if layers == FIRST_LAST:
        return "first-last"
    return f"layer {layers}"


def spearman_heatmap(evaluation: Evaluation) -> go.Figure:
    """Spearman x 100 by layer (rows, 0 at the top, first-last last) and pooling (columns); best raw cell boxed."""
    table = evaluation.table
    raw = table[table.pooling.isin(RAW_POOLINGS)]
    if "post" in raw.columns:
        raw = raw[raw.post == "none"]
    layer_order = [str(layer) for layer in range(evaluation.n_layers + 1)] + [FIRST_LAST]
    grid = raw.pivot(index="layers", columns="pooling", values="spearman").reindex(
        index=layer_order, columns=list(RAW_POOLINGS)
    )
    values = grid.to_numpy(dtype=float)
    text = [["undefined" if np.isnan(v) else f"{v:.1f}" for v in line] for line in values]
    labels = [_layer_label(layers) for layers in layer_order]
    figure = go.Figure(
        go.Heatmap(
            z=values,
            x=list(RAW_POOLINGS),
            y=labels,
            text=text,
            texttemplate="%{text}",
            textfont={"size": 13},
            colorscale="Viridis",
            colorbar={"title": "Spearman"},
            hovertemplate="%{x} · %{y}: %{text}<extra></extra>",
        )
    )
    if not np.isnan(values).all():
        best_row, best_col = np.unravel_index(np.nanargmax(values), values.shape)
        figure.add_shape(
            type="rect",
            x0=best_col - 0.5,
            x1=best_col + 0.5,
            y0=best_row - 0.5,
            y1=best_row + 0.5,
            line={"color": "#e8590c", "width": 4},
        )
    own = evaluation.row_of("model", "-1")
    own_text = "" if own is None else f" · own pipeline {evaluation.table.spearman.iloc[own]:.1f}"
    figure.update_layout(
        title=f"{evaluation.model}{own_text}",
        xaxis_title="pooling",
        yaxis={"type": "category", "autorange": "reversed", "title": "layers"},
        margin={"t": 50, "b": 10, "l": 10, "r": 10},
        height=120 + 32 * len(layer_order),
    )
    return figure


def cosine_scatter(evaluation: Evaluation, row: int, pairs: ScoredPairs) -> go.Figure:
    """Cosine against gold score for one configuration; colour = rank gap (where the ranking disagrees)."""
    cosines = evaluation.cosines[row]
    gap = rank_gaps(evaluation, row)
    hover = [f"{a}<br>{b}" for a, b in zip(pairs.sentence1, pairs.sentence2, strict=True)]
    value = evaluation.table.spearman.iloc[row]
    shown = UNDEFINED if np.isnan(value) else f"Spearman {value:.2f}"
    figure = go.Figure(
        go.Scattergl(
            x=evaluation.gold,
            y=cosines,
            mode="markers",
            text=hover,
            marker={
                "color": gap,
                "colorscale": "RdBu",
                "cmid": 0,
                "size": 7,
                "opacity": 0.75,
                "colorbar": {"title": "rank gap"},
            },
            hovertemplate="gold %{x:.2f} · cosine %{y:.3f}<br>%{text}<extra></extra>",
        )
    )
    figure.update_layout(
        title=f"{evaluation.model} · {describe_row(evaluation, row)}: {shown}",
        xaxis_title=f"gold score (0-{evaluation.scale:g})",
        yaxis_title="cosine",
        margin={"t": 50, "b": 10, "l": 10, "r": 10},
        height=440,
    )
    return figure
