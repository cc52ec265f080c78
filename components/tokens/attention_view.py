"""Tokens & layers page, "What [CLS] looks at": attention weights of the page's sentences, raw or trained model.

The pages' shared models run with SDPA attention, which returns no weights. This section runs a private eager
copy of the backbone (``embedlab.tasks.attention.eager_backbone``, cached per model for every session) on the page's
one or two sentences only, so nothing on the other pages slows down or changes.
"""

from __future__ import annotations

import streamlit as st

from components.shared import notes, state
from components.shared.figures import attention_heatmap, attention_shares_chart
from components.shared.services import get_encoder
from embedlab.embedding.specs import EmbedSpec
from embedlab.errors import EmbedLabError
from embedlab.models.identity import ModelId, resolve_model
from embedlab.scorers.registry import kind_of
from embedlab.tasks.attention import SHARE_LABELS, AttentionMaps, attention_maps, eager_backbone

SIDE = "tokens.attention.side"  # "raw" or "trained": whose attention is shown
SIDE_WIDGET = "tokens.attention.side.widget"
SENTENCE_WIDGET = "tokens.attention.sentence"
TOKEN = "tokens.attention.token"  # position of the token whose attention is shown (0: [CLS])
TOKEN_WIDGET = "tokens.attention.token.widget"
PER_HEAD = "tokens.attention.per_head"
PER_HEAD_WIDGET = "tokens.attention.per_head.widget"
HEAD_LAYER_WIDGET = "tokens.attention.head_layer"
SIDES = {"raw": "raw model", "trained": "trained model"}


@st.cache_resource(show_spinner=False, max_entries=2)
def _eager(model: ModelId):
    """The eager-attention copy of one model's backbone, shared by every session (it is only read)."""
    return eager_backbone(get_encoder(model).model)


@st.cache_data(show_spinner=False, max_entries=32)
def cached_attention(model: ModelId, texts: tuple[str, ...]) -> list[AttentionMaps]:
    """Attention maps of the page's sentences, once per (model identity, sentences)."""
    return attention_maps(_eager(model), get_encoder(model).model, texts)


def _model_of(side: str) -> EmbedSpec:
    return st.session_state[state.RAW_SPEC if side == "raw" else state.TRAINED_SPEC]


def section(texts: tuple[str, ...]) -> None:
    """The attention section: [CLS]'s (or a picked token's) attention as a layer x token heatmap, the shares on
    [CLS], [SEP] and punctuation by layer, and each head of one layer on demand."""
    st.subheader("What [CLS] looks at")
    top = st.columns([2, 2, 1])
    side = top[0].segmented_control(
        "Attention of", list(SIDES), format_func=SIDES.get, **state.remembered(SIDE_WIDGET, SIDE, "raw", options=SIDES)
    )
    side = side or "raw"
    spec = _model_of(side)
    index = 0
    if len(texts) > 1:
        index = top[1].radio(
            "Sentence",
            range(len(texts)),
            key=SENTENCE_WIDGET,
            format_func=lambda i: f"sentence {i + 1}",
            horizontal=True,
        )
    try:
        kind_of(spec.model).refuse_unless(spec.model, "attention", "attention")
        with st.spinner("Reading the attention weights (an eager copy of the model, for these sentences only)…"):
            maps = cached_attention(resolve_model(spec.model), texts)[index]
    except EmbedLabError as error:
        notes.error("{}", error, icon="⚠️")
        return
    positions = list(range(len(maps.tokens)))
    stored = st.session_state.get(TOKEN, 0)
    if stored not in positions:
        st.session_state[TOKEN] = 0
        st.session_state.pop(TOKEN_WIDGET, None)
    position = top[2].selectbox(
        "Token",
        positions,
        format_func=lambda i: f"{i} {maps.tokens[i]}",
        **state.remembered(TOKEN_WIDGET, TOKEN, 0, options=positions),
    )
    label = f"{position} {maps.tokens[position]}"
    shares = maps.shares(position)
    left, right = st.columns(2)
    with left:
        st.plotly_chart(attention_heatmap(maps.from_token(position), maps.tokens, label), key="attention.heatmap")
    with right:
        st.plotly_chart(attention_shares_chart(shares, SHARE_LABELS), key="attention.shares")
    on_self = shares["cls"] if position == 0 else maps.from_token(position)[:, position]
    strongest = int(on_self.argmax())
    st.caption(
        f"{spec.model}: token {label} in each of the {maps.n_layers} layers, averaged over {maps.n_heads} heads. "
        f"It keeps {on_self.max():.0%} of its attention on itself in layer {strongest + 1} and "
        f"{on_self[-1]:.0%} in the last; [SEP] gets {shares['sep'].max():.0%} at most. "
        "A token that attends mostly to itself keeps its own vector: that is why early-layer [CLS] vectors of raw "
        "models are nearly the same for every sentence. Attention weights say how much of each token's value "
        "vector is mixed in, not how large that vector is: much attention on [SEP] can change little (Clark et al. "
        "2019). Computed with eager attention on a private copy of the model; the other pages are untouched."
    )
    if st.toggle("Per head", **state.remembered(PER_HEAD_WIDGET, PER_HEAD, False)):
        layer = st.slider("Layer", 1, maps.n_layers, maps.n_layers, key=HEAD_LAYER_WIDGET)
        st.plotly_chart(
            attention_heatmap(maps.heads_from_token(position, layer), maps.tokens, label, rows="head"),
            key="attention.heads",
        )
