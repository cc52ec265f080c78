"""STS evaluation in the app: data sources, cached grid evaluations, results (figures: components.shared.figures).

What the user chose (data set, models, the scatter's configuration) and every evaluation computed are kept under
plain session-state keys, so they survive page switches; widgets are seeded from them on every visit.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from components.shared import notes, state
from components.shared.figures import cosine_scatter, spearman_heatmap, undefined_kind
from components.shared.model_box import cross_encoder_box, models_box
from components.shared.path_confirm import confirmed_path, forget_path
from components.shared.presentation import present
from components.shared.served_notes import no_path_note, served_mode
from components.shared.services import default_raw_model, encode_unseen, get_encoder, load_encoder, load_pair_scorer
from components.shared.uploads import flash, new_upload, show_flash
from embedlab import corpora
from embedlab.corpora import STS_DEV_FILE
from embedlab.data.csvsafe import csv_bytes
from embedlab.data.pairfiles import decode_text
from embedlab.embedding.precision import NOISE_STD
from embedlab.errors import EmbedLabError
from embedlab.literal import Markdown, markdown_template
from embedlab.models.identity import ModelId, resolve_model
from embedlab.models.loading import PACKAGED, UNTRAINED
from embedlab.models.registry import model_label
from embedlab.scorers.registry import kind_of
from embedlab.tasks.sts import (
    BUNDLED_LABEL,
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
    evaluate_scorer,
    grid_csv_table,
    load_hub_benchmark,
    parse_scored_text,
    post_effects,
    published_comparison,
    rank_disagreements,
    read_scored_pairs,
    unreadable_pairs,
    without_pairs,
)

SOURCES = ("bundled", "upload", "path", "hub")
SOURCE_LABELS = {
    "bundled": "Small bundled set (written for the project, not the benchmark)",
    "upload": "Upload a file",
    "path": "Local path",
    "hub": "STS benchmark via Hugging Face datasets (needs a network)",
}
SERVED_PATH_LABEL = "STS benchmark on this server"  # the "path" source in served mode: the server's splits only
AUTO_PAIRS = 100  # sets up to this size are evaluated as soon as they are chosen; larger ones on a button
PATH_PLACEHOLDER = str(STS_DEV_FILE)


# ---------------------------------------------------------------- cached services


@st.cache_data(show_spinner=False)
def bundled() -> ScoredPairs:
    return bundled_pairs()


@st.cache_data(show_spinner=False, max_entries=6)
def hub_pairs(split: str, dataset: str) -> ScoredPairs:
    """The benchmark from the ``datasets`` library; errors (no network) are not cached."""
    return load_hub_benchmark(split, dataset)


@st.cache_data(show_spinner=False, max_entries=32)
def _cached_grid(fingerprint: str, model: ModelId, _pairs: ScoredPairs) -> Evaluation:
    """``_pairs`` is not hashed: ``fingerprint``, a digest of its sentences and scores, identifies it (only
    ``grid_evaluation`` calls this, with the pairs' own fingerprint)."""
    return evaluate_grid(get_encoder(model), _pairs)


def grid_evaluation(model: ModelId, pairs: ScoredPairs) -> Evaluation:
    """The full grid of one model on one data set, cached per (dataset fingerprint, model identity): a model folder
    rewritten on disk has a new revision, so it is evaluated again."""
    return _cached_grid(pairs.fingerprint, model, pairs)


# ---------------------------------------------------------------- state


def init_state() -> None:
    st.session_state.setdefault(state.STS_RESULTS, {})
    st.session_state.setdefault(state.STS_REVISIONS, {})
    st.session_state.setdefault(state.STS_FAILED, {})
    st.session_state.setdefault(state.STS_SUBSETS, {})
    if state.STS_DATASET not in st.session_state:
        st.session_state[state.STS_DATASET] = bundled()
    if state.STS_MODELS not in st.session_state:
        models = [PACKAGED, UNTRAINED]
        raw_model, _ = default_raw_model()
        if raw_model != PACKAGED:  # bert-base-uncased could be loaded
            models.insert(0, raw_model)
        st.session_state[state.STS_MODELS] = models


def _use(pairs: ScoredPairs, message: str | None = None) -> None:
    st.session_state[state.STS_DATASET] = pairs
    if message:
        flash(state.STS, message)


def _source_changed() -> None:
    forget_path(state.STS)  # other data chosen: a shared path no longer waits
    if st.session_state[state.STS_SOURCE] == "bundled":  # back to the bundled set: it is the data in use again
        _use(bundled())


# ---------------------------------------------------------------- data source


def data_source() -> ScoredPairs:
    """Source picker; returns the scored pairs in use (the last ones loaded without error)."""
    source = st.radio(
        "Data",
        SOURCES,
        format_func=_source_label,
        **state.remembered(
            state.STS_SOURCE_WIDGET, state.STS_SOURCE, "bundled", options=SOURCES, on_change=_source_changed
        ),
    )
    if source == "bundled":
        st.caption(
            "60 pairs written for this project with scores 0-5: handy for a quick look, but it is **not** the STS "
            "benchmark, so its numbers are not comparable with published ones."
        )
    elif source == "upload":
        _upload()
    elif source == "path" and served_mode():
        _server_split()
    elif source == "path":
        _path()
    else:
        _hub()
    show_flash(state.STS)
    pairs: ScoredPairs = st.session_state[state.STS_DATASET]
    st.caption(
        f"In use: **{pairs.name}**: {pairs.n_pairs} pairs, {len(pairs.unique_sentences())} unique sentences, "
        f"gold scores 0-{pairs.scale:g}."
    )
    return pairs


def _upload() -> None:
    st.file_uploader(
        "STS-format file, or CSV/TSV with sentence1, sentence2, score (0-5 or 0-1)",
        type=["csv", "tsv", "txt"],
        key=state.STS_UPLOAD_WIDGET,
    )
    try:
        upload = new_upload(state.STS_UPLOAD_WIDGET)
        if upload is None:
            return
        pairs = parse_scored_text(decode_text(upload.getvalue(), upload.name), upload.name)
    except EmbedLabError as error:
        flash(state.STS, f"{error} The data in use was left as it was.", "error")
        return
    _use(pairs, f"Loaded {pairs.n_pairs} scored pairs from {upload.name}.")


def _path() -> None:
    with st.form(state.STS_PATH_FORM, border=False):
        kept = state.remembered(state.STS_PATH_WIDGET, state.STS_PATH, "")  # in a form: stored below, not on change
        path = st.text_input("Path of an STS-format or CSV/TSV file", key=kept["key"], placeholder=PATH_PLACEHOLDER)
        submitted = st.form_submit_button("Load file")
    st.session_state[state.STS_PATH] = path
    if submitted:  # the user's own typing: read at once
        forget_path(state.STS)
    else:  # a path from a link or a view file is read only once the user confirms it
        path = confirmed_path(state.STS, "STS file", "the small bundled set")
        if path is None:
            return
    try:
        pairs = read_scored_pairs(path.strip())
    except EmbedLabError as error:
        flash(state.STS, f"{error} The data in use was left as it was.", "error")
        return
    _use(pairs, f"Loaded {pairs.n_pairs} scored pairs from {path.strip()}.")


def _source_label(source: str) -> str:
    return SERVED_PATH_LABEL if source == "path" and served_mode() else SOURCE_LABELS[source]


def _server_split() -> None:
    """Served mode: no path box; the server's own STS splits to pick from (and a path from a link, if it is one
    of them, still waits for the user to confirm it)."""
    no_path_note("STS file", ", or pick one of the STS benchmark splits this server has")
    splits = {f"{name} split": str(path) for name, path in sorted(corpora.sts_splits().items())}  # dev first
    path = confirmed_path(state.STS, "STS file", "the small bundled set")
    if path is None and splits:
        split_col, button_col = st.columns([3, 1], vertical_alignment="bottom")
        label = split_col.selectbox("Split", list(splits), key=state.STS_SERVER_SPLIT_WIDGET)
        if button_col.button("Load", key=state.STS_SERVER_SPLIT_LOAD):
            path = splits[label]
            forget_path(state.STS)
    elif path is None:
        st.caption("This server has no STS benchmark splits: upload a file, or use the Hugging Face datasets source.")
    if path is None:
        return
    st.session_state[state.STS_PATH] = path
    try:
        pairs = read_scored_pairs(path)
    except EmbedLabError as error:
        flash(state.STS, f"{error} The data in use was left as it was.", "error")
        return
    _use(pairs, f"Loaded {pairs.n_pairs} scored pairs from {pairs.name}.")


def _hub() -> None:
    dataset_col, split_col, button_col = st.columns([3, 2, 1], vertical_alignment="bottom")
    dataset = dataset_col.selectbox(
        "Dataset",
        HUB_DATASETS,
        **state.remembered(state.STS_HUB_DATASET_WIDGET, state.STS_HUB_DATASET, HUB_DATASETS[0], options=HUB_DATASETS),
    )
    split = split_col.selectbox(
        "Split",
        HUB_SPLITS,
        **state.remembered(state.STS_HUB_SPLIT_WIDGET, state.STS_HUB_SPLIT, HUB_SPLITS[0], options=HUB_SPLITS),
    )
    if button_col.button("Load", key=state.STS_HUB_LOAD):
        try:
            with st.spinner(f"Loading {dataset} ({split})…"):
                pairs = hub_pairs(split, dataset)
        except EmbedLabError as error:
            flash(state.STS, str(error), "error")
            return
        _use(pairs, f"Loaded {pairs.n_pairs} scored pairs from {dataset} ({split}).")
    st.caption("Published numbers are on the test split; the dev split (validation) is the one to tune on.")


# ---------------------------------------------------------------- models and evaluation


def model_choice() -> list[str]:
    """The chosen bi-encoders, then the chosen cross-encoder (if any): every model to evaluate."""
    models_col, cross_col = st.columns([3, 1])
    kept = state.remembered(state.STS_MODELS_WIDGET, state.STS_MODELS)
    with models_col:
        models = models_box(
            kept["key"],
            "Models",
            "Each model is encoded once per unique sentence; every layer and pooling comes from that one pass. "
            "Offline: all-MiniLM-L6-v2 and untrained-bert; with a network: bert-base-uncased and other Hub ids.",
            on_change=kept["on_change"],
        )
    cross_kept = state.remembered(state.STS_CROSS_WIDGET, state.STS_CROSS)
    with cross_col:
        cross = cross_encoder_box(
            cross_kept["key"],
            "Cross-encoder",
            "A pair classifier on [CLS]: it scores each pair in one forward pass (both sentences at once), so it "
            "needs a pass per pair where a bi-encoder needs one per sentence. Its row is the Spearman of its scores.",
            on_change=cross_kept["on_change"],
        )
    if cross is not None and cross not in models:
        models = [*models, cross]
    failed = st.session_state[state.STS_FAILED]
    for model in [model for model in failed if model not in models]:
        del failed[model]  # picked again later: tried again
    return list(models)


def evaluations(pairs: ScoredPairs, models: list[str]) -> list[Evaluation]:
    """Evaluations of the chosen models on ``pairs``: from the session, else computed (small sets at once).

    With "Leave out pairs the model cannot read" on, a model that cannot read some pairs is evaluated on the data
    minus those pairs (``sts.without_pairs``: a new fingerprint, so its own cache entry); the texts are cached by
    then, so that costs no forward pass.
    """
    results: dict = st.session_state[state.STS_RESULTS]
    failed: dict = st.session_state[state.STS_FAILED]
    for model, reason in failed.items():
        notes.error("{}: {}", model, reason, icon="⚠️")
    keys = {model: _result_key(pairs, model) for model in models}
    pending = [m for m in models if keys[m] not in results and m not in failed]
    if pending:
        label = f"Evaluate {', '.join(pending)} on {pairs.n_pairs} pairs ({len(pairs.unique_sentences())} sentences)"
        if pairs.n_pairs <= AUTO_PAIRS or st.button(label, key=state.STS_EVALUATE_BUTTON, type="primary"):
            for model in pending:
                _evaluate(pairs, model)
        else:
            st.info(
                "One forward pass per unique sentence and model, then every configuration from it: on this "
                "machine's CPU that takes a while for large sets.",
                icon="⏱️",
            )
    full = [results[keys[m]] for m in models if keys[m] in results]
    return [_readable_only(pairs, evaluation) for evaluation in full] if _skip_unreadable(pairs, full) else full


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
    if st.session_state.setdefault(state.STS_REVISIONS, {}).get(key, "") != model_id.revision:
        st.session_state[state.STS_RESULTS].pop(key, None)
    return key


def _skip_unreadable(pairs: ScoredPairs, full: list[Evaluation]) -> bool:
    """Say how many pairs each model cannot read; offer to leave them out. Returns whether to leave them out."""
    affected = [evaluation for evaluation in full if evaluation.n_unreadable]
    if not affected:
        return False
    counts = Markdown(
        "; ".join(
            markdown_template("**{}**: {} of {}", evaluation.model, evaluation.n_unreadable, pairs.n_pairs)
            for evaluation in affected
        )
    )
    notes.warning(
        "Pairs with a sentence the model cannot read (half or more of its tokens are [UNK]): {}. "
        "Their cosines are meaningless; a multilingual model can read them.",
        counts,
        icon="🔤",
    )
    return st.checkbox(
        "Leave out pairs the model cannot read",
        help="Each model is then evaluated without the pairs it cannot read (the table's 'pairs' says how many "
        "are left). The same choice holds on Negative tests.",
        **state.remembered(state.STS_SKIP_WIDGET, state.SKIP_UNREADABLE, False),
    )


def _readable_only(pairs: ScoredPairs, evaluation: Evaluation) -> Evaluation:
    """The model's evaluation without the pairs it cannot read (computed once, kept in the session)."""
    if not evaluation.n_unreadable:
        return evaluation
    results: dict = st.session_state[state.STS_RESULTS]
    encoder = get_encoder(evaluation.model)
    subset = without_pairs(pairs, unreadable_pairs(encoder, pairs))
    st.session_state[state.STS_SUBSETS][subset.fingerprint] = subset
    model_id = encoder.model.model_id
    key = (subset.fingerprint, model_id.key)
    if key not in results:
        with st.spinner(f"Correlations of {evaluation.model} without the pairs it cannot read…"):
            results[key] = grid_evaluation(model_id, subset)
    return results[key]


def pairs_of(pairs: ScoredPairs, evaluation: Evaluation) -> ScoredPairs:
    """The pairs an evaluation was computed on: the data in use, or that data minus a model's unreadable pairs."""
    if evaluation.fingerprint == pairs.fingerprint:
        return pairs
    return st.session_state[state.STS_SUBSETS][evaluation.fingerprint]


def _evaluate(pairs: ScoredPairs, model: str) -> None:
    try:
        model_id = resolve_model(model)
        if "vectors" not in kind_of(model_id).capabilities:  # scored pair by pair (a cross-encoder)
            evaluation = _pair_evaluation(model, pairs)
        else:
            encoder = load_encoder(model)
            encode_unseen(encoder, pairs.unique_sentences(), model)
            with st.spinner(f"Correlations for every configuration of {model}…"):
                evaluation = grid_evaluation(encoder.model.model_id, pairs)
            model_id = encoder.model.model_id
    except EmbedLabError as error:
        st.session_state[state.STS_FAILED][model] = str(error)
        notes.error("{}: {}", model, error, icon="⚠️")
        return
    st.session_state[state.STS_RESULTS][(pairs.fingerprint, model_id.key)] = evaluation
    st.session_state.setdefault(state.STS_REVISIONS, {})[(pairs.fingerprint, model_id.key)] = model_id.revision


def _pair_evaluation(model: str, pairs: ScoredPairs) -> Evaluation:
    """The row of a scorer without vectors (a cross-encoder): every pair scored (a forward pass each; the shared
    scorer caches them, so another session or a second look costs nothing), with a progress bar."""
    scorer = load_pair_scorer(model)
    bar = st.progress(0.0, text=f"Scoring {pairs.n_pairs:,} pairs with the {scorer.kind} {model}…")
    evaluation = evaluate_scorer(
        scorer,
        pairs,
        lambda done, total: bar.progress(done / total, text=f"Scoring pairs with {model}: {done:,}/{total:,}"),
    )
    bar.empty()
    return evaluation


# ---------------------------------------------------------------- results


def show_results(pairs: ScoredPairs, evaluations: list[Evaluation]) -> None:
    st.subheader("Best configurations")
    st.dataframe(
        best_configurations(evaluations),
        hide_index=True,
        column_config={
            "kind": st.column_config.TextColumn(
                "Kind", help="bi-encoder: cosine of two sentence vectors; cross-encoder: its own score of the pair"
            ),
            "own pipeline": st.column_config.NumberColumn(
                "Own pipeline (Spearman)", format="%.2f", help="a cross-encoder: the Spearman of its scores"
            ),
            "forward passes": st.column_config.NumberColumn(
                "Forward passes", help="one per distinct sentence (bi-encoder), one per distinct pair (cross-encoder)"
            ),
            "best Spearman": st.column_config.NumberColumn(format="%.2f"),
            "its Pearson": st.column_config.NumberColumn(format="%.2f"),
        },
    )
    for evaluation in [evaluation for evaluation in evaluations if evaluation.pair_by_pair]:
        st.caption(
            f"{model_label(evaluation.model)} reads both sentences at once: one forward pass per pair "
            f"({evaluation.passes:,} for these {evaluation.n_pairs:,} pairs) where a bi-encoder needs one per "
            f"sentence ({evaluation.n_sentences:,}); its score is not a cosine, only its ranking is compared."
        )
    grids = [evaluation for evaluation in evaluations if not evaluation.pair_by_pair]  # a cross-encoder has none
    st.subheader("Which layer, which pooling?")
    columns = st.columns(max(1, min(2, len(grids))))
    for i, evaluation in enumerate(grids):
        columns[i % len(columns)].plotly_chart(
            present(spearman_heatmap(evaluation)), key=state.widget_key(state.STS, f"heatmap.{evaluation.model}")
        )
    st.caption(
        "Spearman x 100 of cosine against the gold scores; the box marks the best defined raw configuration. "
        f"Grey cells are undefined (hover for why): 'constant' = {UNDEFINED.removeprefix('undefined: ')} (CLS at "
        "layer 0 is one fixed vector for every sentence); 'noise' = every cosine is the same to 5 decimals "
        f"(spread below {NOISE_STD:.0e}, CLS at the first layers of all-MiniLM-L6-v2): the ranking is float32 "
        "rounding noise, never a result."
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
        csv_bytes(grid_csv_table(evaluations)),
        "embedding-lab-sts-grid.csv",
        mime="text/csv",
        icon=":material/download:",
        key=state.widget_key(state.STS, "download"),
    )
    st.subheader("Measured beside published")
    if pairs.name == BUNDLED_LABEL:
        st.warning(
            "The data in use is the project's small set, not the benchmark: the measured numbers are not "
            "comparable with the published ones. Load the STS benchmark (test split) for that."
        )
    notes.caption("Published: Spearman x 100 on the {}. Measured here: on {}.", PUBLISHED_SPLIT, pairs.name)
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
    if st.session_state.get(state.STS_SCATTER_MODEL) not in models:
        st.session_state[state.STS_SCATTER_MODEL] = models[0]
        st.session_state.pop(state.STS_SCATTER_MODEL_WIDGET, None)
    model_col, config_col = st.columns(2)
    model = model_col.selectbox(
        "Model",
        models,
        format_func=model_label,
        **state.remembered(state.STS_SCATTER_MODEL_WIDGET, state.STS_SCATTER_MODEL, options=models),
    )
    evaluation = by_model[model]
    pairs = pairs_of(pairs, evaluation)
    table = evaluation.table
    keys = [f"{p}|{layers}|{post}" for p, layers, post in zip(table.pooling, table.layers, table.post, strict=True)]
    if st.session_state.get(state.STS_SCATTER_CONFIG) not in keys:
        best = evaluation.best()
        st.session_state[state.STS_SCATTER_CONFIG] = keys[int(best.name)] if best is not None else keys[0]
        st.session_state.pop(state.STS_SCATTER_CONFIG_WIDGET, None)

    def label(key: str) -> str:
        row = keys.index(key)
        value = evaluation.table.spearman.iloc[row]
        if np.isnan(value):
            shown = "undefined: " + undefined_kind(evaluation.table.note.iloc[row])
        else:
            shown = f"Spearman {value:.2f}"
        return f"{describe_row(evaluation, row)} ({shown})"

    key = config_col.selectbox(
        "Configuration",
        keys,
        format_func=label,
        **state.remembered(state.STS_SCATTER_CONFIG_WIDGET, state.STS_SCATTER_CONFIG, options=keys),
    )
    row = keys.index(key)
    st.plotly_chart(present(cosine_scatter(evaluation, row, pairs)), key=state.widget_key(state.STS, "scatter"))
    st.caption(f"The pairs whose {evaluation.score_name} rank is furthest from their gold rank:")
    st.dataframe(
        rank_disagreements(evaluation, row, pairs),
        hide_index=True,
        column_config={
            "gold": st.column_config.NumberColumn(format="%.2f"),
            "cosine": st.column_config.NumberColumn(format="%.3f"),
            "score": st.column_config.NumberColumn(format="%.3f", help="the cross-encoder's score (not a cosine)"),
            "rank_gap": st.column_config.NumberColumn(
                "Rank gap", format="%+.2f", help="cosine rank minus gold rank, as a fraction of the list"
            ),
        },
    )
