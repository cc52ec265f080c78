"""The Projection page's two maps (raw and trained side by side: search, placed sentences, the picked
sentence's neighbours) and the two nearest-neighbour lists."""

from __future__ import annotations

import streamlit as st

from components.projection.projection_view import (
    APPROXIMATE_NOTE,
    PLACED_NOTE,
    agreement,
    embeddings,
    pick_sentence,
    place_box,
    placed,
    placed_neighbours,
    search_box,
    sentence_source,
    settings_panel,
)
from components.shared import notes, state
from components.shared.config_panels import Configured
from components.shared.figures import projection_figure
from components.shared.presentation import present
from components.shared.services import baseline
from embedlab.errors import EmbedLabError
from embedlab.tasks.projection import (
    Projection,
    ProjectionSettings,
    SentenceSet,
    matches,
    neighbour_table,
)

SIDES = ("raw", "trained")


PLACED_NEIGHBOURS = 3  # neighbours listed beside each map for each placed sentence


def agreement_metric(sentences: SentenceSet, configured: Configured) -> None:
    found = agreement(sentences.sentences, sentences.labels, configured.spec)
    if found is None:
        st.metric("Nearest neighbour shares the label", "–", help="Give labels (label<TAB>sentence) to see it.")
        return
    st.metric(
        "Nearest neighbour shares the label",
        f"{found.rate:.0%}",
        f"chance: {found.chance:.0%}",
        delta_color="off",
        help=f"Of {found.counted:,} labelled sentences, how many have as nearest neighbour (cosine, original "
        "space, itself excluded) a sentence with the same label. Chance: a random other sentence.",
    )


def plots(
    sentences: SentenceSet,
    configured: dict[str, Configured],
    shown: dict[str, Projection],
    marks: dict[str, list[str]],
    settings: ProjectionSettings,
) -> None:
    query_column, place_column = st.columns(2, gap="large")
    with query_column:
        query = search_box()
    with place_column:
        new = place_box()
    highlight = matches(sentences.sentences, query)
    if query.strip():
        notes.caption("“{}”: {} of {} sentences match.", query.strip(), int(highlight.sum()), f"{len(sentences):,}")
    # the picker below keeps the picked sentence; start with the first one
    picked = st.session_state.setdefault(state.PROJECTION_PICKED, 0)
    picked = picked if isinstance(picked, int) and 0 <= picked < len(sentences) else None
    columns = st.columns(2, gap="large")
    for column, side in zip(columns, SIDES, strict=True):
        with column:
            agreement_metric(sentences, configured[side])
            result = shown[side]
            neighbours = ()
            if picked is not None:
                k = st.session_state.get(state.PROJECTION_K, 5)
                vectors = embeddings(sentences.sentences, configured[side].spec)
                neighbours = tuple(neighbour_table(sentences.sentences, sentences.labels, vectors, picked, k)["index"])
            title = f"{side.capitalize()} · {configured[side].spec.label} · {result.method.upper()}"
            spec = configured[side].spec
            new_points = (placed(sentences.sentences, spec, settings, new), new) if new else None
            figure = projection_figure(
                result.coords,
                sentences.sentences,
                sentences.labels,
                title,
                highlight,
                picked,
                neighbours,
                marks[side],
                new_points,
            )
            st.plotly_chart(present(figure), key=state.widget_key(state.PROJECTION, f"plot.{side}"))
            if result.note:
                st.caption(result.note)
            for number, text in enumerate(new, start=1):
                near = placed_neighbours(sentences.sentences, sentences.labels, spec, text, PLACED_NEIGHBOURS)
                listed = "; ".join(f"{row.sentence} ({row.cosine:.2f})" for row in near.itertuples())
                notes.markdown("**P{}** “{}” is nearest to: {}", number, text, listed)
    st.caption(APPROXIMATE_NOTE + (" " + PLACED_NOTE if new else ""))


def neighbour_lists(sentences: SentenceSet, configured: dict[str, Configured], marks: dict[str, list[str]]) -> None:
    st.subheader("Nearest neighbours, raw and trained")
    st.caption(
        "By cosine in the original embedding space, not from the picture. Where the two lists differ is the lesson."
    )
    index, k = pick_sentence(sentences)
    tables = {
        side: neighbour_table(
            sentences.sentences, sentences.labels, embeddings(sentences.sentences, configured[side].spec), index, k
        )
        for side in SIDES
    }
    columns = st.columns(2, gap="large")
    for column, side in zip(columns, SIDES, strict=True):
        other = set(tables[SIDES[1 - SIDES.index(side)]]["index"])
        table = tables[side].assign(
            **{
                "in both": [i in other for i in tables[side]["index"]],
                "note": [marks[side][i] for i in tables[side]["index"]],
            }
        )
        noted = bool(table["note"].any() or marks[side][index])
        with column:
            notes.markdown("**{}** · {}", side.capitalize(), configured[side].spec.label)
            if marks[side][index]:
                notes.warning("The picked sentence: {}; its neighbours mean nothing.", marks[side][index], icon="🔤")
            columns_shown = [
                "rank",
                "cosine",
                "in both",
                *(["label"] if sentences.has_labels else []),
                "sentence",
                *(["note"] if noted else []),
            ]
            st.dataframe(
                table[columns_shown],
                hide_index=True,
                width="stretch",
                key=state.widget_key(state.PROJECTION, f"neighbours.{side}"),
                column_config={
                    "cosine": st.column_config.NumberColumn("cosine", format="%.3f"),
                    "in both": st.column_config.CheckboxColumn("in both", help="Also in the other list"),
                    "sentence": st.column_config.TextColumn("sentence", width="large"),
                    "note": st.column_config.TextColumn("note", help="The model cannot read this sentence"),
                },
            )
            try:
                typical = baseline(configured[side].spec)
                st.caption(f"Typical cosine of random pairs in this configuration: {typical.mean:.2f}.")
            except EmbedLabError:
                pass


def sentences_and_settings() -> tuple[SentenceSet, ProjectionSettings] | None:
    """The sentence source and the projection settings, with what was skipped; None (said why) when there is
    nothing to project."""
    try:
        sentences = sentence_source()
    except EmbedLabError as error:
        notes.error("{}", error, icon="⚠️")
        return None
    if sentences is None:
        return None
    if sentences.skipped_empty:
        st.caption(f"{sentences.skipped_empty} empty line{'s' if sentences.skipped_empty != 1 else ''} skipped.")
    if len(sentences) < 2:
        st.info("Give at least two sentences to project.")
        return None
    st.caption(
        f"{len(sentences):,} sentences"
        + (f", {len(set(sentences.labels) - {''})} labels" if sentences.has_labels else ", no labels")
    )
    settings = settings_panel(len(sentences))
    return sentences, settings
