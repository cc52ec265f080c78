"""Retrieval: mine hard negatives from the data in use with one of the chosen bi-encoders, show the triplets, offer
them as a CSV and hand them to the Train page as MNRL with hard negatives (``embedlab.retrieval.hardneg``)."""

from __future__ import annotations

import streamlit as st

from components.shared import notes, state
from components.shared.services import load_encoder
from embedlab.errors import EmbedLabError
from embedlab.limits import MAX_MINED_NEGATIVES
from embedlab.retrieval.data import RetrievalData
from embedlab.retrieval.hardneg import HELD_OUT, MinedNegatives, MiningSettings, mine_negatives, mining_cost
from embedlab.scorers.registry import kind_of

TRAIN_PAGE = "app_pages/train.py"
SHOWN_TRIPLETS = 200  # rows of the table on the page (the download has them all)


def _minable(ref: str) -> bool:
    try:
        return "layers" in kind_of(ref).capabilities
    except EmbedLabError:
        return False


def mine_panel(data: RetrievalData, models: list[str]) -> None:
    """The "Mine hard negatives" action over ``data`` with one of ``models``, then the triplets it found."""
    st.subheader("Hard negatives for training")
    notes.caption(
        "For each query and relevant document, the corpus document the model ranks highest that is NOT judged "
        "relevant: sentence-transformers' mine_hard_negatives, every relevant document masked out, candidates "
        "within 5% of the positive's cosine dropped (likely unjudged paraphrases). {}% of the queries are kept "
        "out of the triplets, to measure retrieval on queries the training never saw.",
        f"{HELD_OUT:.0%}",
    )
    minable = [ref for ref in models if _minable(ref)]
    if not minable:
        notes.info("Mining needs a model loaded here (not an embeddings service): pick one among the bi-encoders.")
        return
    left, right = st.columns([3, 1])
    with left:
        model = st.selectbox(
            "Mine with",
            minable,
            **state.remembered(
                state.RETRIEVAL_MINE_MODEL_WIDGET, state.RETRIEVAL_MINE_MODEL, minable[0], options=minable
            ),
        )
    with right:
        per_pair = st.number_input(
            "Negatives per pair",
            min_value=1,
            max_value=MAX_MINED_NEGATIVES,
            step=1,
            **state.remembered(state.RETRIEVAL_MINE_NEGATIVES_WIDGET, state.RETRIEVAL_MINE_NEGATIVES, 1),
        )
    settings = MiningSettings(num_negatives=int(per_pair))
    label = f"Mine hard negatives ({mining_cost(data, settings)})"
    if st.button(label, key=state.RETRIEVAL_MINE_BUTTON):
        bar = st.progress(0.0, text="Encoding…")
        try:
            st_model = load_encoder(model).model.st_model
            st.session_state[state.RETRIEVAL_MINED] = mine_negatives(
                data,
                st_model,
                model,
                settings,
                lambda done, total: bar.progress(done / total, text=f"Encoding {done:,}/{total:,}"),
            )
        except EmbedLabError as error:
            notes.error("Mining could not run: {}", error)
        finally:
            bar.empty()
    mined: MinedNegatives | None = st.session_state.get(state.RETRIEVAL_MINED)
    if mined is not None and mined.data_fingerprint == data.fingerprint:
        show_mined(mined)


def show_mined(mined: MinedNegatives) -> None:
    """The triplets (literal text), the download, and "Train with these"."""
    notes.caption(
        "{} triplets from {} (query, relevant document) pairs of {}, mined by {} in {} s ({} pairs found no "
        "negative past the margin; {} queries held out). Cost: {}.",
        f"{len(mined.table):,}",
        f"{mined.n_pairs:,}",
        mined.data_name,
        mined.model,
        f"{mined.seconds:.1f}",
        f"{mined.without_negative:,}",
        f"{len(mined.held_out):,}",
        mined.cost,
    )
    if mined.table.empty:
        notes.warning("No negative passed the filters: use a larger corpus.")
        return
    st.dataframe(mined.table.head(SHOWN_TRIPLETS).style.format(precision=3), width="stretch", hide_index=True)
    left, right = st.columns(2)
    with left:
        st.download_button(
            "Download the triplets (CSV: train --method mnrl --data)",
            mined.csv(),
            file_name="hard-negatives.csv",
            mime="text/csv",
            key=state.RETRIEVAL_MINED_DOWNLOAD,
        )
    with right:
        if st.button("Train with these", key=state.RETRIEVAL_TRAIN_BUTTON, type="primary"):
            st.session_state[state.TRAIN_MINED] = mined
            st.session_state[state.TRAIN_MINED_NEW] = True
            st.switch_page(TRAIN_PAGE)
