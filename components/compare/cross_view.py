"""The optional cross-encoder of Compare and Projection: its box, its cached random-pair baseline, and what each
kind of score costs (measured live on request).

The choice is one session entry (``state.CROSS_ENCODER``): picked on one page, it holds on the other. A
cross-encoder's score is not a cosine (a sigmoid, 0..1, for one label): it is always labelled "score" and shown
beside its own random-pair baseline.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from components.shared import notes, state
from components.shared.config_panels import Configured
from components.shared.model_box import cross_encoder_box
from components.shared.served_notes import served_mode
from components.shared.services import get_pair_scorer, load_pair_scorer
from embedlab.corpora import reference_sentences
from embedlab.embedding.scoring import Baseline
from embedlab.errors import EmbedLabError
from embedlab.models.cross import CROSS_BASELINE_PAIRS, CrossScorer
from embedlab.models.identity import ModelId, resolve_model
from embedlab.scorers.base import Scorer
from embedlab.tasks.costs import (
    COST_SENTENCES,
    DEFAULT_QUERY,
    FRESH_NOTE,
    cost_table,
    measure_pair_costs,
    measure_query_cost,
)

TRAIN_HINT = (
    "No cross-encoder is saved yet: train one on the Train page (method cross-encoder) or with "
    "`python -m embedlab train --method cross-encoder --data bundled --max-steps 40 --out models/my-cross`."
)
CROSS_HELP = (
    "A cross-encoder reads both sentences at once ([CLS] a [SEP] b [SEP]) and a head on [CLS] gives one score per "
    "pair (0..1, not a cosine): no sentence vector, so every pair is a forward pass. The saved ones are listed; a "
    "folder can be typed."
)


@dataclass(frozen=True)
class CrossChoice:
    """The cross-encoder in use: its identity (folder and revision) and its scorer (``embedlab.scorers``)."""

    model: ModelId
    scorer: Scorer

    @property
    def engine(self) -> CrossScorer:
        """The shared ``CrossScorer`` (its pair cache and pass count): what the costs and the re-ranking time."""
        return self.scorer.engine

    @property
    def name(self) -> str:
        return Path(self.model.key).name

    @property
    def label(self) -> str:
        return f"cross-encoder: {self.name}"


def cross_choice(namespace: str, label: str = "Cross-encoder (optional third scorer)") -> CrossChoice | None:
    """The cross-encoder box ("None" by default) and the loaded choice; an unusable folder shows why (the box keeps
    what was typed) and the page carries on without a cross-encoder."""
    help_text = CROSS_HELP + (" Served mode: no folder paths here; the saved ones are in the list." * served_mode())
    remembered = state.remembered(state.widget_key(namespace, "cross.model"), state.CROSS_ENCODER)
    ref = cross_encoder_box(label=label, help=help_text, **remembered)
    if ref is None:
        return None
    try:
        model = resolve_model(ref)
        scorer = load_pair_scorer(model)
    except EmbedLabError as error:
        notes.error("{}  \nNo cross-encoder is used until another is picked.", error, icon="⚠️")
        return None
    return CrossChoice(model, scorer)


@st.cache_data(show_spinner=False, max_entries=16)
def _cross_baseline(model: ModelId, corpus: tuple[str, ...]) -> Baseline:
    return get_pair_scorer(model).random_pair_baseline(corpus)


def cross_baseline(choice: CrossChoice, corpus: Sequence[str] | None = None) -> Baseline:
    """The cross-encoder's random-pair baseline over ``corpus`` (the bundled reference sentences by default):
    ``Scorer.baseline_pairs`` passes once per (model revision, corpus), shared by every session."""
    return _cross_baseline(choice.model, tuple(corpus if corpus is not None else reference_sentences()))


BASELINE_SPINNER = f"The cross-encoder's random-pair baseline ({CROSS_BASELINE_PAIRS} pairs, first time only)…"


# ---------------------------------------------------------------- what each costs


def costs_expander(
    namespace: str,
    choice: CrossChoice,
    trained: Configured,
    sentences: Sequence[str],
    query: str | None = None,
    where: str = "the Projection set",
) -> None:
    """An expander measuring, on request, pairs per second and the passes of one query against ``sentences``."""
    with st.expander("What each score costs: cross-encoder against bi-encoder", icon=":material/timer:"):
        st.markdown(
            "A bi-encoder encodes each sentence once and reuses its vector for every pair; a cross-encoder runs "
            "once per pair. Searching N sentences for one query costs the cross-encoder N passes, the bi-encoder "
            "one (its N vectors are computed once, for every query)."
        )
        query = (query or "").strip() or DEFAULT_QUERY
        key = (choice.model, trained.spec.model, len(sentences), hash(tuple(sentences)), query)
        store = st.session_state.setdefault(state.CROSS_COSTS, {})
        if st.button(
            f"Measure now ({COST_SENTENCES} sentences, and one query against the {len(sentences):,} of {where})",
            key=state.widget_key(namespace, "costs.measure"),
            icon=":material/timer:",
        ):
            try:
                with st.spinner("Scoring from scratch with both models…"):
                    pairs = measure_pair_costs(
                        choice.engine, trained.encoder, trained.spec, reference_sentences()[:COST_SENTENCES]
                    )
                    searched = measure_query_cost(choice.engine, trained.encoder, trained.spec, query, sentences)
                store[key] = (pairs, searched, time.strftime("%H:%M:%S"))
            except EmbedLabError as error:
                notes.info("{}", error, icon="ℹ️")
        if key not in store:
            return
        pairs, searched, when = store[key]
        table_key = state.widget_key(namespace, "costs.table")
        st.dataframe(cost_table(pairs, searched), hide_index=True, width="stretch", key=table_key)
        st.caption(
            f"{choice.label} against {trained.spec.model}; the query: “{query}”. {FRESH_NOTE} Measured at {when}."
        )
