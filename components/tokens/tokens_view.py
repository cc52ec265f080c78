"""Tokens & layers page: cached token-level services and the page's sections (figures: components.shared.figures).

Token states are kept only for the page's own sentences (one or two, plus the word-in-context set: at most
``MAX_TOKEN_TEXTS``), cached per (model, sentences); the anisotropy table is cached per model.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from components.shared import notes, state
from components.shared.config_panels import Configured, init_specs, raw_panel
from components.shared.figures import anisotropy_chart, token_cosine_heatmap, token_layer_heatmap, word_in_context_chart
from components.shared.services import get_encoder
from embedlab.embedding.encoder import cosine_rows
from embedlab.embedding.specs import EmbedSpec, parse_layers
from embedlab.errors import EmbedLabError
from embedlab.limits import MAX_TOKEN_SENTENCE_CHARS
from embedlab.tasks.anisotropy import anisotropy_by_layer
from embedlab.tasks.tokens import (
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


# ------------------------------------------------------------------------------------------------ sections


def configuration() -> Configured | None:
    """The raw configuration in force (shared with the other pages), its panel one click away."""
    init_specs()
    spec: EmbedSpec = st.session_state[state.RAW_SPEC]
    try:
        with st.expander(f"Configuration: {notes.literal(spec.label)}", icon=":material/tune:"):
            return raw_panel(NAMESPACE)
    except EmbedLabError as error:
        notes.error("{}", error, icon="⚠️")
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
                notes.error(
                    "Sentence {} has {} characters: the limit is {} per sentence (for typing and for a shared "
                    "view alike). Shorten it; the sentences shown are kept.",
                    number,
                    f"{length:,}",
                    f"{MAX_TOKEN_SENTENCE_CHARS:,}",
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
            notes.markdown("**Sentence {}:** {}", number, one.text)
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
            notes.error("{}", error, icon="⚠️")
            return
    else:
        contexts = examples.loc[examples.word == word, ["sense", "sentence"]].reset_index(drop=True)
    try:
        with st.spinner(f"Following '{word}' through every layer…"):
            result = cached_word_in_context(configured.spec.model, word, contexts)
    except EmbedLabError as error:
        notes.error("{}", error, icon="⚠️")
        return
    for line in result.skipped.itertuples():
        notes.warning("Left out: {}", line.reason, icon="✏️")
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
            notes.caption("Word pieces: {} (their vectors are averaged).", "; ".join(dict.fromkeys(pieces)))
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
        notes.error("{}", error, icon="⚠️")
        return
    finally:
        bar.empty()
    posts = [post for post in dict.fromkeys(table.post) if post != "none"]
    post = st.selectbox("Compare with", posts, key=ANISOTROPY_POST)
    st.plotly_chart(anisotropy_chart(table, post), key="anisotropy")
    wide = table.pivot_table(index="layer", columns=["vectors", "post"], values="mean_cosine")
    wide.columns = [f"{kind} · {shown}" for kind, shown in wide.columns]
    st.dataframe(wide.round(3), width="stretch")
