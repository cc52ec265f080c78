"""Tokens & layers page: cached token-level services, figure builders and the page's sections.

Token states are kept only for the page's own sentences (one or two, plus the word-in-context set: at most
``MAX_TOKEN_TEXTS``), cached per (model, sentences); the anisotropy table is cached per model.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from components import state
from components.config import Configured, init_specs, raw_panel
from components.services import get_encoder
from embedlab.embedding.encoder import cosine_rows
from embedlab.embedding.specs import EmbedSpec, parse_layers
from embedlab.errors import EmbedLabError
from embedlab.tasks.anisotropy import VECTOR_KINDS, anisotropy_by_layer
from embedlab.tasks.tokens import (
    MAX_TOKEN_SENTENCE_CHARS,
    MEASURE_LABELS,
    MEASURES,
    TokenStates,
    WordInContext,
    output_shapes,
    sentence_cosines,
    token_cosines,
    token_layer_matrix,
    token_states,
    tokenization_table,
    word_in_context,
    word_in_context_examples,
)

NAMESPACE = "tokens"
SENTENCES = "tokens.sentences"  # (first, second): what the user typed, kept for the whole session
FIRST_INPUT = "tokens.first"
SECOND_INPUT = "tokens.second"
MEASURE = "tokens.measure"
HEATMAP_SENTENCE = "tokens.heatmap_sentence"
LAYER = "tokens.layer"
WORD = "tokens.word"  # the Word box (a widget: Streamlit drops it when the page is left)
WORD_CHOICE = "tokens.word_choice"  # the word chosen, kept for the session (the box is seeded from it)
OWN_WORD = "tokens.own_word"
OWN_CONTEXTS = "tokens.own_contexts"  # text: one "sense | sentence" per line
OWN_CONTEXTS_INPUT = "tokens.own_contexts_input"
OWN_WORD_INPUT = "tokens.own_word_input"
ANISOTROPY_ON = "tokens.anisotropy_on"
ANISOTROPY_POST = "tokens.anisotropy_post"
OWN = "your own…"
DEFAULT_SENTENCES = ("This is a wooden stick.", "Stick to the work.")
KIND_COLORS = {"tokens": "#868e96", "cls": "#c2255c", "mean": "#2b8a3e", "max": "#1971c2"}


# ------------------------------------------------------------------------------------------------ cached services


@st.cache_data(show_spinner=False, max_entries=32)
def cached_token_states(model: str, texts: tuple[str, ...]) -> list[TokenStates]:
    """Token states of the page's few sentences (bounded by the engine), cached per model and sentences."""
    return token_states(get_encoder(model).model, texts)


@st.cache_data(show_spinner=False, max_entries=64)
def cached_word_in_context(model: str, word: str, contexts: pd.DataFrame) -> WordInContext:
    return word_in_context(get_encoder(model).model, word, contexts)


@st.cache_data(show_spinner=False, max_entries=8)
def anisotropy_table(model: str, _progress=None) -> pd.DataFrame:
    """Anisotropy by layer over the bundled reference sentences, every post-processing; once per model.

    ``_progress`` (not part of the cache key) receives (steps done, steps in all) while it is computed.
    """
    return anisotropy_by_layer(get_encoder(model).model, progress=_progress)


# ------------------------------------------------------------------------------------------------ figures


def _token_labels(tokens: tuple[str, ...]) -> list[str]:
    return [f"{position} {token}" for position, token in enumerate(tokens)]


def token_layer_heatmap(
    matrix: np.ndarray, tokens: tuple[str, ...], measure: str, layers: tuple[int, ...]
) -> go.Figure:
    """Heatmap of one number per (layer, token), with what CLS, mean and max pooling take marked.

    Args:
        matrix: (n_hidden_states, T) from ``token_layer_matrix``.
        layers: the hidden-state indices the configuration in force pools (outlined rows).
    """
    labels = _token_labels(tokens)
    n_states, n_tokens = matrix.shape
    figure = go.Figure(
        go.Heatmap(
            z=matrix,
            x=list(range(n_tokens)),
            y=list(range(n_states)),
            colorscale="Viridis",
            colorbar={"title": {"text": measure.replace("_", " ")}},
            customdata=np.array([labels] * n_states),
            hovertemplate="layer %{y}, token %{customdata}: %{z:.3f}<extra></extra>",
        )
    )
    figure.add_shape(  # CLS pooling: column 0
        type="rect", x0=-0.5, x1=0.5, y0=-0.5, y1=n_states - 0.5, line={"color": "#c2255c", "width": 3}
    )
    figure.add_annotation(x=0, y=n_states - 0.5, text="CLS takes this column", showarrow=False, yshift=12)
    figure.add_shape(  # mean / max pooling: every real token
        type="line",
        x0=-0.5,
        x1=n_tokens - 0.5,
        y0=-0.9,
        y1=-0.9,
        line={"color": "#2b8a3e", "width": 4},
    )
    figure.add_annotation(
        x=(n_tokens - 1) / 2,
        y=-0.9,
        text="mean averages all these columns; max takes each dimension's largest (padding excluded)",
        showarrow=False,
        yshift=-14,
    )
    for layer in layers:
        figure.add_shape(
            type="rect",
            x0=-0.5,
            x1=n_tokens - 0.5,
            y0=layer - 0.5,
            y1=layer + 0.5,
            line={"color": "#f08c00", "width": 2, "dash": "dot"},
        )
    figure.update_layout(
        xaxis={"tickmode": "array", "tickvals": list(range(n_tokens)), "ticktext": labels, "tickangle": -45},
        yaxis={"title": "layer (0 = embeddings)", "dtick": 1},
        margin={"t": 40, "b": 20, "l": 10, "r": 10},
        height=380,
    )
    return figure


def token_cosine_heatmap(matrix: np.ndarray, first: tuple[str, ...], second: tuple[str, ...], layer: int) -> go.Figure:
    """(T1, T2) cosine of every token of sentence 1 with every token of sentence 2 at one layer."""
    figure = go.Figure(
        go.Heatmap(
            z=matrix,
            x=_token_labels(second),
            y=_token_labels(first),
            zmin=-1,
            zmax=1,
            colorscale="RdBu",
            reversescale=True,
            colorbar={"title": {"text": "cosine"}},
            hovertemplate="%{y} · %{x}: %{z:.3f}<extra></extra>",
        )
    )
    figure.update_layout(
        title=f"Token-to-token cosine at layer {layer}",
        xaxis={"title": "sentence 2", "tickangle": -45},
        yaxis={"title": "sentence 1", "autorange": "reversed"},
        margin={"t": 40, "b": 10, "l": 10, "r": 10},
        height=420,
    )
    return figure


def word_in_context_chart(table: pd.DataFrame, word: str) -> go.Figure:
    """Per layer: same-sense, different-sense and unrelated-word cosines of one word."""
    figure = go.Figure()
    for column, name, color, dash in (
        ("same_sense", "same sense", "#2b8a3e", "solid"),
        ("different_sense", "different sense", "#e8590c", "solid"),
        ("unrelated", "unrelated words", "#868e96", "dot"),
    ):
        figure.add_scatter(
            x=table.layer,
            y=table[column],
            mode="lines+markers",
            name=name,
            line={"color": color, "dash": dash},
            hovertemplate="layer %{x}: %{y:.3f}<extra>" + name + "</extra>",
        )
    figure.update_layout(
        title=f"'{word}' in context: cosine of its vectors at every layer",
        xaxis={"title": "layer (0 = embeddings)", "dtick": 1},
        yaxis={"title": "mean cosine"},
        legend={"orientation": "h", "y": -0.25},
        margin={"t": 50, "b": 10, "l": 10, "r": 10},
        height=400,
    )
    return figure


def anisotropy_chart(table: pd.DataFrame, post: str) -> go.Figure:
    """Mean cosine of random pairs by layer: solid without post-processing, dashed with ``post``."""
    figure = go.Figure()
    for kind in VECTOR_KINDS:
        for shown_post, dash in (("none", "solid"), (post, "dash")):
            if shown_post == "none" and dash == "dash":
                continue
            rows = table[(table.vectors == kind) & (table.post == shown_post)]
            name = kind if shown_post == "none" else f"{kind}, {shown_post}"
            figure.add_scatter(
                x=rows.layer,
                y=rows.mean_cosine,
                mode="lines+markers",
                name=name,
                line={"color": KIND_COLORS[kind], "dash": dash},
                hovertemplate="layer %{x}: %{y:.3f}<extra>" + name + "</extra>",
            )
    figure.update_layout(
        title="Anisotropy: mean cosine of random pairs, by layer",
        xaxis={"title": "layer (0 = embeddings)", "dtick": 1},
        yaxis={"title": "mean cosine of random pairs", "range": [-0.1, 1.05]},
        legend={"orientation": "h", "y": -0.25},
        margin={"t": 50, "b": 10, "l": 10, "r": 10},
        height=420,
    )
    return figure


# ------------------------------------------------------------------------------------------------ sections


def configuration() -> Configured | None:
    """The raw configuration in force (shared with the other pages), its panel one click away."""
    init_specs()
    spec: EmbedSpec = st.session_state[state.RAW_SPEC]
    try:
        with st.expander(f"Configuration: {spec.label}", icon=":material/tune:"):
            return raw_panel(NAMESPACE)
    except EmbedLabError as error:
        st.error(str(error), icon="⚠️")
        return None


def sentences() -> tuple[str, ...]:
    """One or two sentences, typed in a form and kept in session state."""
    stored = st.session_state.setdefault(SENTENCES, DEFAULT_SENTENCES)
    st.session_state.setdefault(FIRST_INPUT, stored[0])
    st.session_state.setdefault(SECOND_INPUT, stored[1] if len(stored) > 1 else "")
    with st.form("tokens.sentences_form", border=False):
        first_col, second_col = st.columns(2)
        first = first_col.text_input("Sentence 1", key=FIRST_INPUT)
        second = second_col.text_input("Sentence 2 (optional)", key=SECOND_INPUT)
        if st.form_submit_button("Show the tokens", icon=":material/search:"):
            typed = tuple(text.strip() for text in (first, second) if text.strip())
            too_long = [(n, len(text)) for n, text in enumerate(typed, start=1) if len(text) > MAX_TOKEN_SENTENCE_CHARS]
            if not typed:
                st.error("Type at least one sentence.")
            elif too_long:
                number, length = too_long[0]
                st.error(
                    f"Sentence {number} has {length:,} characters: the limit is {MAX_TOKEN_SENTENCE_CHARS:,} per "
                    "sentence (for typing and for a shared view alike). Shorten it; the sentences shown are kept.",
                    icon="⚠️",
                )
            else:
                st.session_state[SENTENCES] = typed
    return st.session_state[SENTENCES]


def tokenization(states: list[TokenStates]) -> None:
    st.subheader("What the model sees")
    columns = st.columns(len(states))
    for number, (column, one) in enumerate(zip(columns, states, strict=True), start=1):
        with column:
            st.markdown(f"**Sentence {number}:** {one.text}")
            st.code("\n".join(output_shapes(one)), language=None, wrap_lines=True)
            st.dataframe(
                tokenization_table(one),
                hide_index=True,
                width="stretch",
                height=min(36 * (len(one.tokens) + 1) + 2, 320),
            )


def token_layers(states: list[TokenStates], spec: EmbedSpec) -> None:
    st.subheader("Token × layer")
    left, right = st.columns([2, 1])
    measure = left.radio(
        "Show", MEASURES, key=MEASURE, format_func=MEASURE_LABELS.get, horizontal=True, label_visibility="collapsed"
    )
    index = 0
    if len(states) > 1:
        index = right.radio(
            "Sentence", range(len(states)), key=HEATMAP_SENTENCE, format_func=lambda i: f"sentence {i + 1}"
        )
    one = states[index]
    layers = () if spec.pooling == "model" else parse_layers(spec.layers, one.n_hidden_states)
    st.plotly_chart(token_layer_heatmap(token_layer_matrix(one, measure), one.tokens, measure, layers), key="heatmap")
    st.caption(
        "Rows are hidden states (0 = embedding layer), columns the tokens. CLS pooling takes column 0 at the chosen "
        "layer(s) (dotted rows: the configuration in force); mean pooling averages every column; max pooling takes, "
        "per dimension, the largest value of any column ('share of dimensions' shows which tokens win)."
    )


def token_pairs(states: list[TokenStates], configured: Configured) -> None:
    st.subheader("Token to token, at one layer")
    if len(states) < 2:
        st.info("Type a second sentence to see its tokens against the first one's.")
        return
    first, second = states
    last = first.n_hidden_states - 1
    if st.session_state.get(LAYER, last) > last:  # a model with fewer layers than the last one
        del st.session_state[LAYER]
    st.session_state.setdefault(LAYER, last)
    layer = st.slider("Layer", 0, last, key=LAYER, help="0 = embedding layer, the last = last_hidden_state")
    matrix_col, numbers_col = st.columns([3, 1])
    matrix_col.plotly_chart(
        token_cosine_heatmap(token_cosines(first, second, layer), first.tokens, second.tokens, layer), key="pairs"
    )
    cosines = sentence_cosines(first, second, layer)
    with numbers_col:
        st.markdown(f"**Sentence cosine at layer {layer}**")
        for name, label in (("cls", "CLS"), ("mean", "mean"), ("max", "max")):
            st.metric(f"{label} · layer {layer}", f"{cosines[name]:.3f}")
        spec = configured.spec
        vectors = configured.encoder.embed([first.text, second.text], spec)
        st.metric(f"In force · {spec.label}", f"{float(cosine_rows(vectors[0], vectors[1])):.3f}")
        st.caption("The same numbers as the Compare page for this pair and configuration.")


def _own_contexts(text: str) -> pd.DataFrame:
    rows = []
    for line in text.splitlines():
        if not line.strip():
            continue
        sense, separator, sentence = line.partition("|")
        if not separator:
            raise EmbedLabError(f"Line {line.strip()!r} has no '|': write each line as 'sense | sentence'.")
        rows.append({"sense": sense.strip(), "sentence": sentence.strip()})
    return pd.DataFrame(rows, columns=["sense", "sentence"])


def word_context(configured: Configured) -> None:
    st.subheader("Word in context")
    st.caption(
        "The same word in different senses. A contextual model gives it different vectors: at each layer, compare "
        "its cosine across same-sense sentences with its cosine across different senses. The separation is the "
        "gap between the two lines, not their height; the dotted line is the word against unrelated words."
    )
    examples = word_in_context_examples()
    words = [*dict.fromkeys(examples.word), OWN]
    word = st.selectbox("Word", words, **state.remembered(WORD, WORD_CHOICE, words[0], options=words))
    if word == OWN:
        st.session_state.setdefault(OWN_WORD_INPUT, st.session_state.get(OWN_WORD, ""))
        st.session_state.setdefault(OWN_CONTEXTS_INPUT, st.session_state.get(OWN_CONTEXTS, ""))
        with st.form("tokens.own_form", border=False):
            typed_word = st.text_input("Your word", key=OWN_WORD_INPUT)
            typed = st.text_area(
                "Your sentences, one per line as 'sense | sentence'", key=OWN_CONTEXTS_INPUT, height=160
            )
            if st.form_submit_button("Compare the contexts"):
                st.session_state[OWN_WORD] = typed_word
                st.session_state[OWN_CONTEXTS] = typed
        word = st.session_state.get(OWN_WORD, "")
        if not word.strip() or not st.session_state.get(OWN_CONTEXTS, "").strip():
            st.info("Type a word and a few sentences with it, in at least two senses.")
            return
        try:
            contexts = _own_contexts(st.session_state[OWN_CONTEXTS])
        except EmbedLabError as error:
            st.error(str(error), icon="⚠️")
            return
    else:
        contexts = examples.loc[examples.word == word, ["sense", "sentence"]].reset_index(drop=True)
    try:
        with st.spinner(f"Following '{word}' through every layer…"):
            result = cached_word_in_context(configured.spec.model, word, contexts)
    except EmbedLabError as error:
        st.error(str(error), icon="⚠️")
        return
    for line in result.skipped.itertuples():
        st.warning(f"Left out: {line.reason}", icon="✏️")
    chart_col, table_col = st.columns([3, 2])
    chart_col.plotly_chart(word_in_context_chart(result.table, result.word), key="word_in_context")
    with table_col:
        last = result.table.iloc[-1]
        st.metric(
            f"Gap at the last layer ({int(last.layer)})",
            f"{last.gap:+.3f}",
            f"same {last.same_sense:.3f} vs different {last.different_sense:.3f}",
            delta_color="off",
        )
        pieces = [note for note in result.used.note if note]
        if pieces:
            st.caption("Word pieces: " + "; ".join(dict.fromkeys(pieces)) + " (their vectors are averaged).")
        st.dataframe(result.used, hide_index=True, width="stretch", height=240)


def anisotropy(configured: Configured) -> None:
    st.subheader("Anisotropy by layer")
    st.caption(
        "Mean cosine between random pairs of token vectors and of sentence vectors (CLS, mean, max) over the "
        "bundled reference sentences: how high a cosine is before it means anything. Post-processing is fitted on "
        "half the sentences and measured on the other half."
    )
    model = configured.spec.model
    if not st.session_state.get(ANISOTROPY_ON):
        if st.button("Measure anisotropy (one pass over 320 sentences, cached)", icon=":material/speed:"):
            st.session_state[ANISOTROPY_ON] = True
            st.rerun()
        return
    bar = st.progress(0.0, text=f"Anisotropy of {model}: one pass over the reference sentences, then every layer…")
    try:
        table = anisotropy_table(
            model,
            lambda done, total: bar.progress(done / total, text=f"Anisotropy of {model}: step {done:,}/{total:,}"),
        )
    except EmbedLabError as error:
        st.error(str(error), icon="⚠️")
        return
    finally:
        bar.empty()
    posts = [post for post in dict.fromkeys(table.post) if post != "none"]
    post = st.selectbox("Compare with", posts, key=ANISOTROPY_POST)
    st.plotly_chart(anisotropy_chart(table, post), key="anisotropy")
    wide = table.pivot_table(index="layer", columns=["vectors", "post"], values="mean_cosine")
    wide.columns = [f"{kind} · {shown}" for kind, shown in wide.columns]
    st.dataframe(wide.round(3), width="stretch")
