"""The Train page's form: the composer, method and data, the evaluation set and the settings.

What the user chose is kept under plain session keys (``CHOICES``); widgets are seeded from them on every visit,
so a choice survives reruns and page switches. The run and its results: ``components.train.train_run`` and
``components.train.train_results``.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from pathlib import Path

import pandas as pd
import streamlit as st

from components.shared import notes, state
from components.shared.served_notes import no_path_note, served_mode
from components.shared.services import get_encoder, load_encoder
from components.shared.uploads import flash, new_upload, show_flash
from embedlab import corpora
from embedlab.data.pairfiles import decode_text
from embedlab.errors import EmbedLabError
from embedlab.limits import SERVED_MAX_TRAIN_STEPS
from embedlab.models.names import PACKAGED, UNTRAINED
from embedlab.models.registry import model_label, saved_models
from embedlab.retrieval.hardneg import TRIPLET_COLUMNS
from embedlab.tasks.sts import bundled_pairs, load_hub_benchmark, read_scored_pairs
from embedlab.training import ranges
from embedlab.training.compose import ACTIVATIONS, TRAIN_POOLINGS, Composition, compose, module_list
from embedlab.training.data import (
    LOSS_NAMES,
    METHOD_LABELS,
    SENTENCE_METHODS,
    TrainingData,
    bundled_data,
    from_frame,
    parse_training_text,
    read_training_file,
)
from embedlab.training.matryoshka import AUTO, AUTO_TEXT, parse_dims
from embedlab.training.methods import (
    CROSS_METHOD,
    TRAIN_METHODS,
    composition_problem,
    matryoshka_problem,
    start_problem,
)
from embedlab.training.run import (
    PRECISIONS,
    TrainSettings,
    default_learning_rate,
    estimate_peak_memory_gb,
    resolve_precision,
)
from embedlab.training.script import python_script

CHOICES = "train.choices"  # dict: what the user chose on the page (survives page switches)
NAMESPACE = "train"  # of the page's one-shot messages (components.shared.uploads.flash)
UPLOAD_WIDGET = "train.upload"
UPLOADED = "train.uploaded"  # dict: name, text, {(method, seed): TrainingData or error message} of the last file
DATA_SOURCES = {
    "bundled": "Bundled (offline, small)",
    "upload": "Upload a file",
    "path": "Local path (e.g. the STS train split)",
    "compare": "The Compare page's pairs",
    "negtest": "The Negative tests table (positive pairs)",
    "mined": "Hard negatives mined on the Retrieval page (MNRL triplets)",
    "hub": "STS benchmark train split via Hugging Face datasets (needs a network)",
}
SERVED_PATH_LABEL = "STS benchmark on this server"  # the "path" source in served mode: the server's splits only
BUNDLED_EVAL = "the small bundled set"
BUNDLED_NOTE = (
    "The bundled data was written for this project (assets/), small and offline: positive pairs from the "
    "paraphrase groups of its projection sentences (mnrl, the pitfall), or its ~700 plain sentences (SimCSE, "
    "TSDAE). A demo, not a corpus; it holds no scored pairs for cosine or CoSENT."
)
DEFAULTS = {
    "model": PACKAGED,
    "pooling": "cls",
    "max_seq_length": 128,
    "dense": False,
    "dense_out": 256,
    "activation": "tanh",
    "normalize": False,
    "normalize_first": False,
    "method": "mnrl",  # with the bundled paraphrase groups: trainable offline (see default_choices)
    "matryoshka": False,  # wrap the method's loss in MatryoshkaLoss
    "matryoshka_dims": AUTO_TEXT,  # its widths below the full one, as typed
    "source": "bundled",
    "path": "",
    "eval_path": "",  # empty: the bundled scored pairs
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


def default_choices() -> dict:
    """A new session's choices: supervised training on the STS benchmark's train split, evaluated on its dev split,
    when the benchmark is beside the repository (``embedlab.corpora``); else the bundled data, which a plain clone
    has (positive pairs from the project's paraphrase groups, the project's own scored pairs for evaluation)."""
    choices = copy.deepcopy(DEFAULTS)  # nested values too: never shared between sessions
    choices["path"] = str(corpora.STS_TRAIN_FILE)  # what the path box suggests, found or not
    if corpora.STS_TRAIN_FILE.is_file():
        choices.update(method="cosine", source="path")
    if corpora.STS_DEV_FILE.is_file():
        choices["eval_path"] = str(corpora.STS_DEV_FILE)
    return choices


def missing_sts_note() -> str:
    return (
        f"The STS benchmark's train split was not found at `{corpora.STS_TRAIN_FILE}` (beside the repository, in "
        "../shared/data/stsbenchmark/): upload scored pairs or give a path to train cosine or CoSENT on them."
    )


def init_state() -> None:
    if CHOICES not in st.session_state:
        st.session_state[CHOICES] = default_choices()
    if st.session_state.pop(state.TRAIN_MINED_NEW, False):  # "Train with these" on the Retrieval page
        keep("method", "mnrl")
        keep("source", "mined")
        for name in ("method", "source"):
            st.session_state.pop(key_of(name), None)


def choice(name: str):
    return st.session_state[CHOICES][name]


def keep(name: str, value) -> None:
    st.session_state[CHOICES][name] = value


def key_of(name: str) -> str:
    """The session key of the page's widget ``name`` (its value is kept in ``CHOICES``, not here)."""
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
            key=key_of("model_pick"),
            format_func=model_label,
        )
        if picked == "other…":
            typed = st.text_input(
                "Hub id" if served_mode() else "Hub id or local folder",
                value="" if current in options else current,
                key=key_of("model_typed"),
                placeholder="bert-base-uncased",
                help="Served mode: a Hub id; saved models are in the list above." if served_mode() else None,
            ).strip()
            ref = typed
        else:
            ref = picked
        keep("model", ref or current)
        row = st.columns(3)
        pooling = row[0].selectbox(
            "Pooling", TRAIN_POOLINGS, index=TRAIN_POOLINGS.index(choice("pooling")), key=key_of("pooling")
        )
        max_seq_length = row[1].number_input(
            "max_seq_length",
            *ranges.MAX_SEQ_LENGTH,
            int(choice("max_seq_length")),
            step=8,
            key=key_of("max_seq_length"),
        )
        normalize = row[2].checkbox("Normalize", value=choice("normalize"), key=key_of("normalize"))
        row = st.columns(3)
        dense = row[0].checkbox("Dense layer", value=choice("dense"), key=key_of("dense"))
        dense_out = row[1].number_input(
            "Dense out", *ranges.DENSE_OUT, int(choice("dense_out")), key=key_of("dense_out"), disabled=not dense
        )
        activation = row[2].selectbox(
            "Activation",
            ACTIVATIONS,
            index=ACTIVATIONS.index(choice("activation")),
            key=key_of("activation"),
            disabled=not dense,
        )
        normalize_first = st.checkbox(
            "Put Normalize before Dense (the pitfall)",
            value=choice("normalize_first"),
            key=key_of("normalize_first"),
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
        if problem := start_problem(ref):  # what no method can start from, before anything loads
            raise EmbedLabError(problem)
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
        notes.error("{}", error)
        return None
    with right:
        st.markdown("**The module list** (as sentence-transformers prints it)")
        st.code(printed_modules(composition), language="text", wrap_lines=True)
        for warning in composition.warnings():
            notes.warning("{}", warning, icon="⚠️")
        facts = encoder.model.facts
        st.caption(f"{facts.source}; {facts.n_parameters / 1e6:.1f} M parameters in the backbone.")
    return composition


@st.cache_data(show_spinner=False, max_entries=32)
def printed_modules(composition: Composition) -> str:
    return module_list(compose(composition, get_encoder(composition.model).model))


# ---------------------------------------------------------------- method and data


PAGE_METHODS = TRAIN_METHODS
PAGE_METHOD_LABELS = {
    **METHOD_LABELS,
    CROSS_METHOD: "cross-encoder: a score head on [CLS] of the pair, BinaryCrossEntropyLoss on scored pairs",
}
PAGE_LOSS_NAMES = {**LOSS_NAMES, CROSS_METHOD: "BinaryCrossEntropyLoss"}


def data_method(method: str) -> str:
    """The data kind a method reads: a cross-encoder learns from scored pairs, as cosine does."""
    return "cosine" if method == CROSS_METHOD else method


def method_choice() -> str:
    method = st.selectbox(
        "Method",
        PAGE_METHODS,
        index=PAGE_METHODS.index(choice("method")) if choice("method") in PAGE_METHODS else 0,
        format_func=lambda name: f"{name}: {PAGE_METHOD_LABELS[name]}",
        key=key_of("method"),
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
    if method == CROSS_METHOD:
        st.info(
            "A cross-encoder reads both sentences together and outputs a score: no sentence vectors, so no cosine, "
            "no projection. Its before/after numbers are read from its scores (STS Spearman of the scores, the "
            "random-pair score, the negative tests). It starts from the start model's weights with a new head; "
            "pooling, Dense and Normalize do not apply."
        )
    return method


def matryoshka_choice() -> tuple[tuple[int, ...] | None, str | None]:
    """Whether to wrap the method's loss in MatryoshkaLoss, and at which widths (``embedlab.training.matryoshka``):
    (None, None) when not asked; (widths, None), ``()`` for auto; (None, why) when the widths typed do not read
    (shown as an error here; Start stays off). Whether the method's loss can be wrapped: ``method_fit``."""
    row = st.columns([2, 3])
    wrapped = row[0].checkbox(
        "Train for truncation too (Matryoshka)",
        value=bool(choice("matryoshka")),
        key=key_of("matryoshka"),
        help="Wraps the method's loss in sentence-transformers' MatryoshkaLoss: the same loss on the first k "
        "dimensions of each embedding as well, so a model truncated to k dimensions (the precision and dimensions "
        "settings of the other pages) keeps more of its accuracy. The before/after table adds the STS Spearman of "
        "the first k dimensions at each width. Wraps cosine, CoSENT, MNRL, SimCSE and the pitfall's loss.",
    )
    typed = row[1].text_input(
        "Widths below the full one (the full width is always trained)",
        value=str(choice("matryoshka_dims")),
        key=key_of("matryoshka_dims"),
        disabled=not wrapped,
        help="Comma-separated, e.g. 256,128,64; auto: up to three of 512, 256, 128, 64, 32, 16 below the full width",
    )
    typed = typed.strip()
    keep("matryoshka", wrapped)
    keep("matryoshka_dims", typed)
    if not wrapped:
        return None, None
    try:
        dims = parse_dims(typed)
    except EmbedLabError as error:
        notes.error("{}", error)
        return None, str(error)
    return (AUTO if dims is None else dims), None


def method_fit(composition: Composition, method: str, matryoshka: tuple[int, ...] | None = None) -> str | None:
    """Why ``method`` (wrapped in MatryoshkaLoss at ``matryoshka``'s widths, when given) cannot train
    ``composition`` (shown as an error here), or None: checked before Start, not after the model was loaded and
    measured, by the rule the ``train`` command uses (``embedlab.training.methods``)."""
    hidden_size = get_encoder(composition.model).model.facts.hidden_size
    problem = (
        start_problem(composition.model, method)
        or composition_problem(composition, method, hidden_size)
        or matryoshka_problem(method, matryoshka, composition, hidden_size)
    )
    if problem:
        notes.error("{}", problem)
    return problem


def data_choice(method: str, seed: int, matryoshka: tuple[int, ...] | None = None) -> TrainingData | None:
    """Training rows for ``method`` from the chosen source, its loss wrapped in MatryoshkaLoss at ``matryoshka``'s
    widths when given (``TrainingData.matryoshka``); an error is shown, never raised."""
    loss = PAGE_LOSS_NAMES[method]
    loss = loss if matryoshka is None else f"MatryoshkaLoss({loss})"
    method = data_method(method)
    sources = list(DATA_SOURCES)
    current = choice("source") if choice("source") in sources else "bundled"
    source = st.radio(
        "Data",
        sources,
        index=sources.index(current),
        format_func=lambda source: SERVED_PATH_LABEL if source == "path" and served_mode() else DATA_SOURCES[source],
        horizontal=True,
        key=key_of("source"),
    )
    keep("source", source)
    try:
        if source == "bundled":
            st.caption(BUNDLED_NOTE + ("" if corpora.STS_TRAIN_FILE.is_file() else f" {missing_sts_note()}"))
            data = bundled_data(method, seed)
        elif source == "upload":
            data = uploaded_data(method, seed)
            if data is None:
                return None
        elif source == "path" and served_mode():
            path = server_split_choice()
            if path is None:
                return None
            keep("path", path)
            data = read_path(path, _modified(path), method, seed)
        elif source == "path":
            path = st.text_input("Path", value=choice("path"), key=key_of("path")).strip()
            keep("path", path)
            data = read_path(path, _modified(path), method, seed)
        elif source == "hub":
            pairs = hub_train_split()
            data = from_frame(pairs.frame(), method, pairs.name, seed)
        elif source == "compare":
            data = from_frame(_table(state.PAIRS, "Compare"), method, "the Compare pairs", seed)
        elif source == "mined":
            data = mined_data(method, seed)
        else:
            table = _table(state.NEGTEST_PAIRS, "Negative tests")
            if method not in SENTENCE_METHODS:
                table = table[pd.to_numeric(table["label"], errors="coerce") == 1]
            data = from_frame(table, method, "the Negative tests positive pairs", seed)
    except EmbedLabError as error:
        notes.error("{}", error)
        return None
    notes.caption("{}, {} distinct sentences · loss: {}", data.source, f"{data.n_sentences:,}", loss)
    return replace(data, matryoshka=matryoshka)


def _split_label(path: str) -> str:
    names = {str(split): f"{name} split" for name, split in corpora.sts_splits().items()}
    return names.get(path, path) if path else BUNDLED_EVAL


def server_split_choice() -> str | None:
    """Served mode: no path box; the STS benchmark splits this server has (train first). None when it has none."""
    no_path_note("training file", ", or pick one of the STS benchmark splits this server has")
    splits = [str(path) for path in corpora.sts_splits().values()]
    if not splits:
        st.info("This server has no STS benchmark splits: upload a file, or pick another source.")
        return None
    current = choice("path")
    return st.selectbox(
        "Split",
        splits,
        index=splits.index(current) if current in splits else 0,
        format_func=_split_label,
        key=key_of("server_split"),
    )


def uploaded_data(method: str, seed: int) -> TrainingData | None:
    """The uploader, and the last file it read, parsed for ``method``: None until a file was read.

    As on the other pages (``components.shared.uploads.new_upload``), a file is read once, when it arrives, and refused
    over the upload limit. Its text is kept for the session (it outlives the widget when the page is left) and
    each (method, seed) is parsed once; a new file replaces all of it, a file that cannot be read leaves it.

    Raises:
        EmbedLabError: the file does not fit ``method`` (kept too: it is not re-parsed on every rerun).
    """
    st.file_uploader("CSV, TSV, STS format, or text (one sentence per line)", key=UPLOAD_WIDGET)
    try:
        upload = new_upload(UPLOAD_WIDGET)
        if upload is not None:
            text = decode_text(upload.getvalue(), upload.name)
            st.session_state[UPLOADED] = {"name": upload.name, "text": text, "parsed": {}}
            flash(NAMESPACE, f"Read {upload.name} ({len(text.splitlines()):,} lines).")
    except EmbedLabError as error:
        kept = st.session_state.get(UPLOADED)
        flash(NAMESPACE, f"{error}" + (f" Still using {kept['name']}." if kept else ""), "error")
    show_flash(NAMESPACE)
    uploaded = st.session_state.get(UPLOADED)
    if uploaded is None:
        st.info("Upload a file to train on.")
        return None
    parsed = uploaded["parsed"]
    if (method, seed) not in parsed:
        try:
            with st.spinner(f"Reading {uploaded['name']}…"):
                parsed[(method, seed)] = parse_training_text(uploaded["text"], method, uploaded["name"], seed)
        except EmbedLabError as error:
            parsed[(method, seed)] = str(error)
    found = parsed[(method, seed)]
    if isinstance(found, str):
        raise EmbedLabError(found)
    return found


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


def mined_data(method: str, seed: int) -> TrainingData:
    """The triplets handed over by the Retrieval page's "Train with these" (mnrl reads their negative column).

    Raises:
        EmbedLabError: nothing was handed over in this session.
    """
    mined = st.session_state.get(state.TRAIN_MINED)
    if mined is None:
        raise EmbedLabError(
            "No hard negatives were handed over in this session: mine them on the Retrieval page, then press "
            "Train with these."
        )
    if method != "mnrl":
        notes.info("Only mnrl reads the negative column: {} leaves it out.", method)
    source = f"hard negatives mined from {mined.data_name} by {mined.model}"
    data = from_frame(mined.table[list(TRIPLET_COLUMNS)], method, source, seed)
    if mined.held_out_set is None:
        return data
    notes.caption(
        "Measured before and after on retrieval too: nDCG@10, MRR@10 and Recall@10 on the {} held-out queries "
        "({} corpus encodes each time).",
        f"{len(mined.held_out_set.queries):,}",
        f"{len(mined.held_out_set.corpus):,}",
    )
    return replace(data, retrieval=mined.held_out_set)


def _table(key: str, page: str) -> pd.DataFrame:
    table = st.session_state.get(key)
    if table is None or len(table) == 0:
        raise EmbedLabError(f"The {page} table is empty in this session: open the {page} page first, or upload.")
    return table


def eval_choice():
    """The STS evaluation set (before, during and after): a path (the dev split by default) or the bundled set;
    in served mode the bundled set or one of the server's STS splits."""
    if served_mode():
        no_path_note("evaluation file", ", or pick one of the STS benchmark splits this server has")
        options = ["", *(str(path) for path in reversed(corpora.sts_splits().values()))]  # dev split first
        current = choice("eval_path")
        path = st.selectbox(
            "STS evaluation set",
            options,
            index=options.index(current) if current in options else 0,
            format_func=_split_label,
            key=key_of("server_eval"),
        )
    else:
        path = st.text_input(
            "STS evaluation file (empty: the small bundled set)", value=choice("eval_path"), key=key_of("eval_path")
        ).strip()
    keep("eval_path", path)
    if not path:
        pairs = bundled_pairs()
        st.caption(
            f"Evaluated on the bundled set: {pairs.n_pairs} scored pairs written for this project, not the STS "
            "benchmark, so its Spearman is not comparable with published numbers."
        )
        return pairs
    try:
        return read_eval(path, _modified(path))
    except EmbedLabError as error:
        notes.error("{}", error)
        return None


# ---------------------------------------------------------------- settings


def settings_choice(composition: Composition, method: str) -> TrainSettings | None:
    row = st.columns(4)
    lengths = ["epochs", "max steps"]
    length = row[0].radio(
        "Length", lengths, index=lengths.index(choice("length").replace("_", " ")), key=key_of("length")
    )
    if length == "epochs":
        epochs = row[1].number_input("Epochs", *ranges.EPOCHS, float(choice("epochs")), step=0.5, key=key_of("epochs"))
        keep("epochs", float(epochs))
        max_steps = None
    else:
        low, high = ranges.MAX_STEPS
        high = min(high, SERVED_MAX_TRAIN_STEPS) if served_mode() else high
        max_steps = int(
            row[1].number_input("Max steps", low, high, min(int(choice("max_steps")), high), key=key_of("steps"))
        )
        keep("max_steps", max_steps)
    keep("length", length)
    batch_size = int(
        row[2].number_input("Batch size", *ranges.BATCH_SIZE, int(choice("batch_size")), key=key_of("batch"))
    )
    rates = choice("learning_rates")
    learning_rate = row[3].number_input(
        "Learning rate",
        *ranges.LEARNING_RATE,
        float(rates.get(method, default_learning_rate(method))),
        format="%.1e",
        key=key_of(f"lr.{method}"),  # one per method: each starts from its own default
        help=f"Default for {method}: {default_learning_rate(method):.0e} (2e-5; SimCSE 5e-5, sentence-transformers' "
        "default, measured best here; TSDAE 3e-5, its paper's).",
    )
    row = st.columns(4)
    warmup = row[0].number_input(
        "Warmup ratio", *ranges.WARMUP_RATIO, float(choice("warmup_ratio")), key=key_of("warmup")
    )
    seed = int(row[1].number_input("Seed", 0, 2**31 - 1, int(choice("seed")), key=key_of("seed")))
    eval_every = int(
        row[2].number_input(
            "Evaluate every N steps (0: never)", *ranges.EVAL_EVERY, int(choice("eval_every")), key=key_of("eval_every")
        )
    )
    precision = row[3].selectbox(
        "Precision",
        PRECISIONS,
        index=PRECISIONS.index(choice("precision")) if choice("precision") in PRECISIONS else 0,
        key=key_of("precision"),  # plain labels: a label that changed with the method lost the choice
        help="bf16 autocast: about half the time per step on a CPU with native bfloat16 (AVX512-BF16 or AMX); the "
        "saved model is float32 either way. auto uses it there, except for MNRL and SimCSE: in-batch negatives "
        "measured 0.5 STS points worse in bf16. Elsewhere bf16 is emulated and slower: auto picks fp32.",
    )
    row[3].caption(f"auto: {resolve_precision('auto', method)} for {method} here")
    group_by_length = st.checkbox(
        "Group batches by length",
        value=bool(choice("group_by_length")),
        key=key_of("group_by_length"),
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
        notes.error("{}", error)
        return None


def memory_help() -> str:
    return (
        "Estimated from two runs measured on this machine (packaged backbone: 1.5 GB at batch 16, 3.5 GB for "
        "SimCSE at batch 64), scaled by the model's size. Each step holds two texts per example."
    )


def code_panel(
    composition: Composition, method: str, settings: TrainSettings, matryoshka: tuple[int, ...] | None = None
) -> None:
    if method == CROSS_METHOD:
        st.caption(
            "The command line trains the same cross-encoder: `python -m embedlab train sts-train.csv --model "
            f"{composition.model} --method cross-encoder --out my-cross-encoder`."
        )
        return
    data_path = choice("path") if choice("source") == "path" else "train.csv"
    if method in SENTENCE_METHODS and choice("source") != "path":
        data_path = "sentences.txt"
    with st.expander("The same thing in Python (sentence-transformers 6), ready to copy"):
        code = python_script(composition, method, settings, data_path=data_path, matryoshka=matryoshka)
        st.code(code, language="python")
