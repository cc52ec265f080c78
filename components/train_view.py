"""The Train page's parts: the composer, method and data, settings, the background run and its before/after.

The run itself belongs to one ``TrainingJobs`` object (``embedlab.training.jobs``) kept in ``st.cache_resource``:
shared by every session, so progress survives reruns and page switches; one run at a time (the CPU is the limit),
stopped and shown in full only to the session that started it (``OWNER``). The progress panel polls it.

What the user chose is kept under plain session keys (``CHOICES``); widgets are seeded from them on every visit.
"""

from __future__ import annotations

import copy
import uuid
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from components import state
from components.figures import projection_figure
from components.presentation import present
from components.projection_view import APPROXIMATE_NOTE, wait_for_umap
from components.services import get_encoder, load_encoder
from embedlab.data.pairfiles import decode_text
from embedlab.embedding.encoder import Encoder
from embedlab.errors import EmbedLabError
from embedlab.models.identity import ModelId, resolve_model
from embedlab.models.names import PACKAGED, UNTRAINED, models_dir
from embedlab.models.registry import model_label, saved_models
from embedlab.tasks.compare import example_pairs
from embedlab.tasks.projection import Agreement, Projection, ProjectionSettings, SentenceSet
from embedlab.tasks.projection import bundled_sentences as bundled_projection_sentences
from embedlab.tasks.sts import bundled_pairs, load_hub_benchmark, read_scored_pairs
from embedlab.training.compose import ACTIVATIONS, TRAIN_POOLINGS, Composition, compose, module_list
from embedlab.training.data import (
    LOSS_NAMES,
    METHOD_LABELS,
    METHODS,
    SENTENCE_METHODS,
    TrainingData,
    bundled_data,
    from_frame,
    parse_training_text,
    read_training_file,
)
from embedlab.training.jobs import JobView, TrainingJobs, TrainRequest
from embedlab.training.run import (
    PRECISIONS,
    Scores,
    TrainSettings,
    default_learning_rate,
    estimate_peak_memory_gb,
    model_encoder,
    pair_cosine_changes,
    projections_before_after,
    resolve_precision,
)
from embedlab.training.save import check_model_name, model_folder, read_training_facts, zip_folder
from embedlab.training.script import python_script

CHOICES = "train.choices"  # dict: what the user chose on the page (survives page switches)
UPLOAD_WIDGET = "train.upload"
START_BUTTON = "train.start"
STOP_BUTTON = "train.stop"
KEEP_PARTIAL = "train.keep_partial"
LAST_ERROR = "train.error"
OWNER = "train.owner"  # this session's token: the runs it starts are its own to stop and to see
POLL_SECONDS = 1.0
MAX_COMPARE_PAIRS = 200
BEFORE = "before training"
STS_TRAIN_PATH = "../shared/data/stsbenchmark/sts-train.csv"
STS_DEV_PATH = "../shared/data/stsbenchmark/sts-dev.csv"
DATA_SOURCES = {
    "bundled": "Bundled (offline, small)",
    "upload": "Upload a file",
    "path": "Local path (e.g. the STS train split)",
    "compare": "The Compare page's pairs",
    "negtest": "The Negative tests table (positive pairs)",
    "hub": "STS benchmark train split via Hugging Face datasets (needs a network)",
}
DEFAULTS = {
    "model": PACKAGED,
    "pooling": "cls",
    "max_seq_length": 128,
    "dense": False,
    "dense_out": 256,
    "activation": "tanh",
    "normalize": False,
    "normalize_first": False,
    "method": "cosine",
    "source": "path",
    "path": STS_TRAIN_PATH,
    "eval_path": STS_DEV_PATH,
    "length": "epochs",
    "epochs": 1.0,
    "max_steps": 100,
    "batch_size": 16,
    "learning_rates": {},  # method -> the rate the user set (else the method's default_learning_rate)
    "precision": "auto",
    "group_by_length": True,
    "warmup_ratio": 0.1,
    "seed": 0,
    "eval_every": 50,
    "name": "",
}


@st.cache_resource(show_spinner=False)
def training_jobs() -> TrainingJobs:
    """The process's one training runner, shared by every session. Start models come from the model cache."""
    return TrainingJobs(load=lambda ref: get_encoder(ref).model)


def init_state() -> None:
    if CHOICES not in st.session_state:
        st.session_state[CHOICES] = copy.deepcopy(DEFAULTS)  # nested values too: never shared between sessions


def choice(name: str):
    return st.session_state[CHOICES][name]


def keep(name: str, value) -> None:
    st.session_state[CHOICES][name] = value


def _key(name: str) -> str:
    return f"train.{name}.widget"


# ---------------------------------------------------------------- composer


def composer() -> Composition | None:
    """The module list to train: start model, pooling, Dense, Normalize. Shows the list as the library prints it."""
    options = [PACKAGED, UNTRAINED, *saved_models()]
    current = choice("model")
    left, right = st.columns([3, 2])
    with left:
        picked = st.selectbox(
            "Start model",
            options + ["other…"],
            index=options.index(current) if current in options else len(options),
            key=_key("model_pick"),
            format_func=model_label,
        )
        if picked == "other…":
            typed = st.text_input(
                "Hub id or local folder",
                value="" if current in options else current,
                key=_key("model_typed"),
                placeholder="bert-base-uncased",
            ).strip()
            ref = typed
        else:
            ref = picked
        keep("model", ref or current)
        row = st.columns(3)
        pooling = row[0].selectbox(
            "Pooling", TRAIN_POOLINGS, index=TRAIN_POOLINGS.index(choice("pooling")), key=_key("pooling")
        )
        max_seq_length = row[1].number_input(
            "max_seq_length", 8, 512, int(choice("max_seq_length")), step=8, key=_key("max_seq_length")
        )
        normalize = row[2].checkbox("Normalize", value=choice("normalize"), key=_key("normalize"))
        row = st.columns(3)
        dense = row[0].checkbox("Dense layer", value=choice("dense"), key=_key("dense"))
        dense_out = row[1].number_input(
            "Dense out", 1, 4096, int(choice("dense_out")), key=_key("dense_out"), disabled=not dense
        )
        activation = row[2].selectbox(
            "Activation",
            ACTIVATIONS,
            index=ACTIVATIONS.index(choice("activation")),
            key=_key("activation"),
            disabled=not dense,
        )
        normalize_first = st.checkbox(
            "Put Normalize before Dense (the pitfall)",
            value=choice("normalize_first"),
            key=_key("normalize_first"),
            disabled=not (dense and normalize),
        )
    for name, value in (
        ("pooling", pooling),
        ("max_seq_length", int(max_seq_length)),
        ("normalize", normalize),
        ("dense", dense),
        ("dense_out", int(dense_out)),
        ("activation", activation),
        ("normalize_first", normalize_first),
    ):
        keep(name, value)
    if not ref:
        st.info("Type a Hub id or a folder for the start model.")
        return None
    try:
        composition = Composition(
            ref,
            pooling=pooling,
            max_seq_length=int(max_seq_length),
            dense_out=int(dense_out) if dense else None,
            activation=activation,
            normalize=normalize,
            normalize_before_dense=normalize_first and dense and normalize,
        )
        encoder = load_encoder(ref)
    except EmbedLabError as error:
        st.error(str(error))
        return None
    with right:
        st.markdown("**The module list** (as sentence-transformers prints it)")
        st.code(printed_modules(composition), language="text", wrap_lines=True)
        for warning in composition.warnings():
            st.warning(warning, icon="⚠️")
        facts = encoder.model.facts
        st.caption(f"{facts.source}; {facts.n_parameters / 1e6:.1f} M parameters in the backbone.")
    return composition


@st.cache_data(show_spinner=False, max_entries=32)
def printed_modules(composition: Composition) -> str:
    return module_list(compose(composition, get_encoder(composition.model).model))


# ---------------------------------------------------------------- method and data


def method_choice() -> str:
    method = st.selectbox(
        "Method",
        METHODS,
        index=METHODS.index(choice("method")),
        format_func=lambda name: f"{name}: {METHOD_LABELS[name]}",
        key=_key("method"),
    )
    keep("method", method)
    if method == "pitfall-random-labels":
        st.warning(
            "This is the recipe to avoid: every positive pair labelled 0.85-0.95 teaches that everything is "
            "similar. Watch the random-pair cosine rise in the before/after table.",
            icon="⚠️",
        )
    if method == "tsdae":
        st.info(
            "TSDAE is made for large unlabelled in-domain corpora. On 2,000 STS train sentences it measured STS dev "
            "79.7 -> 82.1 here (a prototype measured no gain: 79.8), below SimCSE's 84.1 on the same sentences, and "
            "it pushed the random-pair cosine up from 0.60 to 0.82."
        )
    return method


def data_choice(method: str, seed: int) -> TrainingData | None:
    """Training rows for ``method`` from the chosen source; an error is shown, never raised."""
    sources = list(DATA_SOURCES)
    current = choice("source") if choice("source") in sources else "bundled"
    source = st.radio(
        "Data",
        sources,
        index=sources.index(current),
        format_func=DATA_SOURCES.get,
        horizontal=True,
        key=_key("source"),
    )
    keep("source", source)
    try:
        if source == "bundled":
            data = bundled_data(method, seed)
        elif source == "upload":
            upload = st.file_uploader("CSV, TSV, STS format, or text (one sentence per line)", key=UPLOAD_WIDGET)
            if upload is None:
                st.info("Upload a file to train on.")
                return None
            data = parse_training_text(decode_text(upload.getvalue(), upload.name), method, upload.name, seed)
        elif source == "path":
            path = st.text_input("Path", value=choice("path"), key=_key("path")).strip()
            keep("path", path)
            data = read_path(path, _modified(path), method, seed)
        elif source == "hub":
            pairs = hub_train_split()
            data = from_frame(pairs.frame(), method, pairs.name, seed)
        elif source == "compare":
            data = from_frame(_table(state.PAIRS, "Compare"), method, "the Compare pairs", seed)
        else:
            table = _table(state.NEGTEST_PAIRS, "Negative tests")
            if method not in SENTENCE_METHODS:
                table = table[pd.to_numeric(table["label"], errors="coerce") == 1]
            data = from_frame(table, method, "the Negative tests positive pairs", seed)
    except EmbedLabError as error:
        st.error(str(error))
        return None
    st.caption(f"{data.source}, {data.n_sentences:,} distinct sentences · loss: {LOSS_NAMES[method]}")
    return data


def _modified(path: str) -> float:
    try:
        return Path(path).expanduser().stat().st_mtime
    except OSError:
        return 0.0


@st.cache_data(show_spinner="Reading the training file…", max_entries=8)
def read_path(path: str, modified: float, method: str, seed: int) -> TrainingData:
    """A training file read once per (path, modification time, method, seed); errors are not cached."""
    return read_training_file(path, method, seed)


@st.cache_data(show_spinner="Loading the STS train split…", max_entries=1)
def hub_train_split():
    return load_hub_benchmark("train")


@st.cache_data(show_spinner="Reading the evaluation file…", max_entries=8)
def read_eval(path: str, modified: float):
    return read_scored_pairs(path)


def _table(key: str, page: str) -> pd.DataFrame:
    table = st.session_state.get(key)
    if table is None or len(table) == 0:
        raise EmbedLabError(f"The {page} table is empty in this session: open the {page} page first, or upload.")
    return table


def eval_choice():
    """The STS evaluation set (before, during and after): a path (the dev split by default) or the bundled set."""
    path = st.text_input(
        "STS evaluation file (empty: the small bundled set)", value=choice("eval_path"), key=_key("eval_path")
    ).strip()
    keep("eval_path", path)
    if not path:
        return bundled_pairs()
    try:
        return read_eval(path, _modified(path))
    except EmbedLabError as error:
        st.error(str(error))
        return None


# ---------------------------------------------------------------- settings


def settings_choice(composition: Composition, method: str) -> TrainSettings | None:
    row = st.columns(4)
    lengths = ["epochs", "max steps"]
    length = row[0].radio(
        "Length", lengths, index=lengths.index(choice("length").replace("_", " ")), key=_key("length")
    )
    if length == "epochs":
        epochs = row[1].number_input("Epochs", 0.1, 20.0, float(choice("epochs")), step=0.5, key=_key("epochs"))
        keep("epochs", float(epochs))
        max_steps = None
    else:
        max_steps = int(row[1].number_input("Max steps", 1, 100_000, int(choice("max_steps")), key=_key("steps")))
        keep("max_steps", max_steps)
    keep("length", length)
    batch_size = int(row[2].number_input("Batch size", 1, 256, int(choice("batch_size")), key=_key("batch")))
    rates = choice("learning_rates")
    learning_rate = row[3].number_input(
        "Learning rate",
        1e-7,
        1e-2,
        float(rates.get(method, default_learning_rate(method))),
        format="%.1e",
        key=_key(f"lr.{method}"),  # one per method: each starts from its own default
        help=f"Default for {method}: {default_learning_rate(method):.0e} (2e-5; SimCSE 5e-5, sentence-transformers' "
        "default, measured best here; TSDAE 3e-5, its paper's).",
    )
    row = st.columns(4)
    warmup = row[0].number_input("Warmup ratio", 0.0, 0.9, float(choice("warmup_ratio")), key=_key("warmup"))
    seed = int(row[1].number_input("Seed", 0, 2**31 - 1, int(choice("seed")), key=_key("seed")))
    eval_every = int(
        row[2].number_input(
            "Evaluate every N steps (0: never)", 0, 10_000, int(choice("eval_every")), key=_key("eval_every")
        )
    )
    precision = row[3].selectbox(
        "Precision",
        PRECISIONS,
        index=PRECISIONS.index(choice("precision")),
        format_func=lambda name: f"auto: {resolve_precision('auto', method)} here" if name == "auto" else name,
        key=_key("precision"),
        help="bf16 autocast: about half the time per step on a CPU with native bfloat16 (AVX512-BF16 or AMX); the "
        "saved model is float32 either way. auto uses it there, except for MNRL and SimCSE: in-batch negatives "
        "measured 0.5 STS points worse in bf16. Elsewhere bf16 is emulated and slower: auto picks fp32.",
    )
    group_by_length = st.checkbox(
        "Group batches by length",
        value=bool(choice("group_by_length")),
        key=_key("group_by_length"),
        help="Batches of similar-length texts, still in a shuffled order: less padding per step. Measured on "
        "SimCSE over 2,000 STS sentences: 36 s for the epoch instead of 62 s, the same STS score within noise.",
    )
    rates[method] = float(learning_rate)
    for name, value in (
        ("batch_size", batch_size),
        ("learning_rates", rates),
        ("warmup_ratio", float(warmup)),
        ("seed", seed),
        ("eval_every", eval_every),
        ("precision", precision),
        ("group_by_length", group_by_length),
    ):
        keep(name, value)
    facts = get_encoder(composition.model).model.facts
    memory = estimate_peak_memory_gb(batch_size, facts.n_parameters, facts.n_layers, facts.hidden_size)
    st.metric("Estimated peak memory", f"{memory:.1f} GB", help=memory_help(), border=False)
    try:
        return TrainSettings(
            epochs=float(choice("epochs")),
            max_steps=max_steps,
            batch_size=batch_size,
            learning_rate=float(learning_rate),
            warmup_ratio=float(warmup),
            seed=seed,
            eval_every=eval_every,
            precision=precision,
            group_by_length=group_by_length,
        )
    except EmbedLabError as error:
        st.error(str(error))
        return None


def memory_help() -> str:
    return (
        "Estimated from two runs measured on this machine (packaged backbone: 1.5 GB at batch 16, 3.5 GB for "
        "SimCSE at batch 64), scaled by the model's size. Each step holds two texts per example."
    )


# ---------------------------------------------------------------- start, progress, results


def start_controls(composition: Composition, data: TrainingData, settings: TrainSettings, eval_pairs) -> None:
    jobs = training_jobs()
    view = jobs.view(session_owner())
    default_name = choice("name") or free_name(f"{data.method}-{composition.pooling}")
    name = st.text_input("Save as (a folder under the models directory)", value=default_name, key=_key("name"))
    st.caption(f"Models directory: `{models_dir()}` (set EMBEDLAB_MODELS_DIR to move it).")
    busy = view is not None and view.active
    if st.button("Start training", type="primary", key=START_BUTTON, disabled=busy):
        try:
            folder = model_folder(check_model_name(name))
            jobs.submit(TrainRequest(composition, data, settings, str(folder), eval_pairs), owner=session_owner())
            keep("name", "")
            st.session_state.pop(LAST_ERROR, None)
        except EmbedLabError as error:
            st.session_state[LAST_ERROR] = str(error)
            keep("name", name)
        st.rerun()
    if busy:
        st.caption("A run is in progress on this server: one at a time (the CPU is the limit).")
    if st.session_state.get(LAST_ERROR):
        st.error(st.session_state[LAST_ERROR])


def free_name(stem: str) -> str:
    """``stem``, or ``stem-2``, ``stem-3``...: the first name not yet taken in the models directory."""
    taken = {Path(folder).name for folder in saved_models()}
    if stem not in taken:
        return stem
    return next(f"{stem}-{n}" for n in range(2, 10_000) if f"{stem}-{n}" not in taken)


def progress_panel() -> None:
    """The current or last run: polled every second while it runs (a fragment), a full rerun when it ends."""
    view = training_jobs().view(session_owner())
    if view is None:
        st.info("No training has run on this server yet: compose a model, pick a method and data, and start.")
        return
    if view.active:
        st.fragment(run_every=POLL_SECONDS)(_live_panel)(view.job_id)
    else:
        _render(view)


def _live_panel(job_id: int) -> None:
    view = training_jobs().view(session_owner())
    if view is None or view.job_id != job_id or not view.active:
        st.rerun(scope="app")  # the run ended: the whole page updates (the model list, the results)
    _render(view)


def session_owner() -> str:
    return st.session_state.setdefault(OWNER, uuid.uuid4().hex)


def _render(view: JobView) -> None:
    if not view.mine:  # another session's run: no data source, results, error, zip or Stop
        st.info(
            "A run by another session is in progress: one at a time on this server."
            if view.active
            else "No training has run in this session yet: compose a model, pick a method and data, and start."
        )
        return
    request = view.request
    title = f"Run {view.job_id}: {request.data.method} on {request.composition.model} · {request.data.source}"
    st.markdown(f"**{title}**")
    latest = view.latest
    if view.active:
        if latest is None or latest.step == 0:
            st.progress(0.0, text=f"{view.phase}…")
        else:
            eta = f", ETA {latest.eta_seconds:.0f} s" if latest.eta_seconds is not None else ""
            st.progress(
                min(1.0, latest.step / latest.total),
                text=f"{view.phase}: step {latest.step}/{latest.total} · {latest.steps_per_second:.2f} steps/s{eta}",
            )
        keep_partial = st.checkbox("Keep the partial model when stopping", value=True, key=KEEP_PARTIAL)
        if st.button("Stop", key=STOP_BUTTON):
            training_jobs().stop(view.job_id, session_owner(), keep_partial=keep_partial)
    elif view.status == "failed":
        st.error(view.error)
    else:
        stopped = " (stopped early)" if view.status == "stopped" else ""
        st.success(f"{view.steps} steps in {view.seconds:.0f} s{stopped}. " + _saved_text(view))
    if view.losses:
        st.plotly_chart(loss_figure(view), key=f"train.loss.{view.job_id}.{len(view.losses)}")
    if view.before is not None and view.after is not None:
        st.markdown("**Before / after**")
        st.dataframe(before_after_table(view.before, view.after), hide_index=True)
        if view.after.baseline_mean - view.before.baseline_mean > 0.1:
            st.warning(
                "The random-pair cosine rose: unrelated sentences now score higher. The scores' absolute values "
                "mean less (the 'extreme high cosine' warning).",
                icon="⚠️",
            )
    if view.saved_to and Path(view.saved_to).is_dir() and not view.active:
        compare_pairs_panel(view)
        projection_panel(view)
        st.download_button(
            "Download the model (zip)",
            data=zip_bytes(view.saved_to),
            file_name=f"{Path(view.saved_to).name}.zip",
            mime="application/zip",
            key=f"train.download.{view.job_id}",
        )


def compare_pairs_panel(view: JobView) -> None:
    """The Compare page's pairs (its examples when the page was not opened): cosine before and after."""
    table = st.session_state.get(state.PAIRS)
    if table is None or len(table) == 0:
        table = example_pairs()
    pairs = tuple(
        (str(first), str(second))
        for first, second in zip(table["sentence1"], table["sentence2"], strict=True)
        if str(first).strip() and str(second).strip()
    )[:MAX_COMPARE_PAIRS]
    if not pairs:
        return
    with st.expander("The Compare pairs, cosine before -> after", expanded=False):
        try:
            changes = pair_changes(*_run_models(view), pairs)
        except EmbedLabError as error:
            st.error(str(error))
            return
        st.dataframe(changes.round(3), hide_index=True)


def _run_models(view: JobView) -> tuple[Composition, ModelId, int, ModelId]:
    """What identifies a finished run's two models: the composition, its start model and seed (the 'before'), and
    the saved folder's identity (the 'after'; its revision changes if the folder is rewritten)."""
    request = view.request
    return (
        request.composition,
        resolve_model(request.composition.model),
        int(request.settings.seed),
        resolve_model(view.saved_to),
    )


@st.cache_resource(show_spinner=False, max_entries=2)
def start_encoder(composition: Composition, start: ModelId, seed: int) -> Encoder:
    """The run's composed start model, untrained: the 'before' of every comparison on this page. One Encoder, so
    the pairs and the projection share its forward passes. ``seed`` initialises a Dense layer as the run did."""
    return model_encoder(compose(composition, get_encoder(start).model, seed=seed), BEFORE)


@st.cache_data(show_spinner="Scoring the Compare pairs before and after…", max_entries=8)
def pair_changes(
    composition: Composition, start: ModelId, seed: int, saved: ModelId, pairs: tuple[tuple[str, str], ...]
) -> pd.DataFrame:
    return pair_cosine_changes(start_encoder(composition, start, seed), get_encoder(saved), pairs)


def projection_panel(view: JobView) -> None:
    """The bundled labelled sentences projected with the start model and the trained one, side by side, with the
    label agreement of each (how often a sentence's nearest neighbour, by cosine, shares its topic)."""
    sentences = bundled_projection_sentences()
    settings = st.session_state.get(state.PROJECTION_SETTINGS) or ProjectionSettings()
    st.markdown(f"**The same {len(sentences)} sentences, projected before and after** ({settings.method.upper()})")
    if settings.method == "umap":
        wait_for_umap()
    try:
        with st.spinner("Projecting before and after…"):
            shown = projections(*_run_models(view), sentences, settings)
    except EmbedLabError as error:
        st.error(str(error))
        return
    for column, (side, (result, agreement)) in zip(st.columns(2), shown.items(), strict=True):
        with column:
            if agreement is not None:
                st.metric(
                    f"{side}: nearest neighbour shares the topic",
                    f"{agreement.rate:.0%}",
                    help=f"Over {agreement.counted} labelled sentences; chance would be {agreement.chance:.0%}. "
                    "Counted by cosine in the full space, not on the plot.",
                )
            figure = projection_figure(result.coords, sentences.sentences, sentences.labels, side.capitalize())
            st.plotly_chart(present(figure), key=f"train.projection.{view.job_id}.{side}")
            if result.note:
                st.caption(result.note)
    trained_on_them = view.request.data.source.startswith("bundled sentences")
    st.caption(
        APPROXIMATE_NOTE
        + " Settings: the Projection page's."
        + (" This run trained on these very sentences: a demo, not a held-out test." if trained_on_them else "")
    )


@st.cache_data(show_spinner=False, max_entries=4)
def projections(
    composition: Composition,
    start: ModelId,
    seed: int,
    saved: ModelId,
    sentences: SentenceSet,
    settings: ProjectionSettings,
) -> dict[str, tuple[Projection, Agreement | None]]:
    return projections_before_after(start_encoder(composition, start, seed), get_encoder(saved), sentences, settings)


def _saved_text(view: JobView) -> str:
    if view.saved_to:
        return f"Saved to `{view.saved_to}`: use it as a start model here, or `--model` on the command line."
    return "Not saved."


@st.cache_data(show_spinner=False, max_entries=4)
def zip_bytes(folder: str) -> bytes:
    return zip_folder(folder)


def loss_figure(view: JobView) -> go.Figure:
    steps = [step for step, _ in view.losses]
    losses = [loss for _, loss in view.losses]
    figure = go.Figure(go.Scatter(x=steps, y=losses, mode="lines", name="training loss"))
    if view.evals:
        figure.add_trace(
            go.Scatter(
                x=[step for step, _ in view.evals],
                y=[value for _, value in view.evals],
                mode="lines+markers",
                name="STS Spearman (eval slice)",
                yaxis="y2",
            )
        )
    figure.update_layout(
        height=280,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        xaxis_title="step",
        yaxis_title="loss",
        yaxis2={"title": "Spearman x 100", "overlaying": "y", "side": "right"},
        legend={"orientation": "h", "y": 1.15},
    )
    return figure


def before_after_table(before: Scores, after: Scores) -> pd.DataFrame:
    def number(value, digits):
        return "n/a" if value is None else round(value, digits)

    rows = [
        ("STS Spearman x 100", number(before.spearman, 1), number(after.spearman, 1)),
        ("random-pair cosine, mean", round(before.baseline_mean, 3), round(after.baseline_mean, 3)),
        ("random-pair cosine, p95", round(before.baseline_p95, 3), round(after.baseline_p95, 3)),
        ("negative-test ROC AUC", round(before.negtest_auc, 3), round(after.negtest_auc, 3)),
        (f"negative-test failures (of {before.negtest_pairs})", before.negtest_failures, after.negtest_failures),
    ]
    return pd.DataFrame(rows, columns=["measure", "before", "after"], dtype=object).astype(str)  # counts stay ints


def code_panel(composition: Composition, method: str, settings: TrainSettings) -> None:
    data_path = choice("path") if choice("source") == "path" else "train.csv"
    if method in SENTENCE_METHODS and choice("source") != "path":
        data_path = "sentences.txt"
    with st.expander("The same thing in Python (sentence-transformers 6), ready to copy"):
        st.code(python_script(composition, method, settings, data_path=data_path), language="python")


def saved_models_panel() -> None:
    models = saved_models()
    if not models:
        return
    with st.expander(f"Saved models ({len(models)}), with what training recorded"):
        rows = []
        for folder in models:
            facts = read_training_facts(folder) or {}
            after = facts.get("after") or {}
            before = facts.get("before") or {}
            rows.append(
                {
                    "model": Path(folder).name,
                    "method": facts.get("method", "?"),
                    "start": facts.get("start_model", "?"),
                    "steps": facts.get("steps"),
                    "Spearman before": before.get("spearman"),
                    "Spearman after": after.get("spearman"),
                    "folder": folder,
                }
            )
        st.dataframe(pd.DataFrame(rows), hide_index=True)
