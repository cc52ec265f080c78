"""Compare's answer while the server starts (``embedlab.tasks.first_look``): under the starting notice, on a plain
visit to Compare, the table's scores with their baselines and the first pair's two metrics, drawn as the page draws
them (``score_table``); the page itself replaces them once the libraries have loaded (``warmup.starting_notice``)."""

from __future__ import annotations

import streamlit as st

from components.compare.pairs_table import current_pairs
from components.compare.score_table import pair_metrics, show_scores
from components.shared.first_screen import browser_connected
from embedlab.data.pairtable import row_list
from embedlab.errors import EmbedLabError
from embedlab.models.numpy_bert import NumpyEncoder
from embedlab.tasks.first_look import (
    first_look,
    first_look_engine,
    first_look_specs,
    plain_compare_address,
    raw_model_is_packaged,
)


def opens_on_compare() -> bool:
    """Whether this run is a browser's plain visit to Compare (``plain_compare_address``). ``serve``'s warming
    run has no browser: it would only delay the warm-up it asks for."""
    return browser_connected() and plain_compare_address(
        st.context.url or "", str(st.get_option("server.baseUrlPath") or ""), st.query_params.to_dict()
    )


@st.cache_resource(show_spinner=False)
def _engine() -> NumpyEncoder | None:
    """The packaged model in numpy, once per process; None when a new session's raw model is not the packaged one
    (then the first look would not be the page's answer) or the engine cannot run it."""
    if not raw_model_is_packaged():
        return None
    try:
        return first_look_engine()
    except EmbedLabError:
        return None


def first_look_view() -> None:
    """On a browser's plain visit to Compare, the answer a new session's Compare will show; nothing when it is
    another visit or the answer cannot be computed here."""
    if not opens_on_compare():
        return
    engine = _engine()
    if engine is None:
        return
    table = current_pairs()
    try:
        scored = first_look(engine, table)
    except EmbedLabError:
        return  # the page says what is wrong once it runs
    if scored is None:
        return
    raw, trained = first_look_specs()
    st.caption(
        "While the libraries load, the packaged model runs without them (in numpy, to the library's scores within "
        "float32 rounding). The full page, with the table editor, the charts and every other model, replaces this "
        "by itself."
    )
    show_scores(st.empty(), scored)
    st.subheader("One pair, up close")
    row = scored["trained_cosine"].first_valid_index()
    st.text(f"{row_list([row])}: {table.at[row, 'sentence1']} / {table.at[row, 'sentence2']}")  # literal text
    pair_metrics(scored.loc[row], raw, trained, *st.columns(2))
