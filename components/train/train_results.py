"""What a finished (or running) Train run shows: the loss curve, the before/after table, the Compare pairs and
the projection before and after, the download, and the saved models with what their training recorded.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from components.projection.projection_view import APPROXIMATE_NOTE, wait_for_umap
from components.shared import notes, state
from components.shared.figures import loss_figure, projection_figure
from components.shared.presentation import present
from components.shared.services import get_encoder
from components.train.train_comparison import comparison_caption, comparison_form, measured
from components.train.train_queue import job_queue
from embedlab.embedding.encoder import Encoder
from embedlab.errors import EmbedLabError
from embedlab.literal import Markdown, markdown_code, markdown_template
from embedlab.models.identity import ModelId, resolve_model
from embedlab.models.registry import saved_models
from embedlab.tasks.compare import example_pairs
from embedlab.tasks.projection import Agreement, Projection, ProjectionSettings, SentenceSet
from embedlab.tasks.projection import bundled_sentences as bundled_projection_sentences
from embedlab.training.compose import Composition, compose
from embedlab.training.queue import JobView
from embedlab.training.report import score_rows
from embedlab.training.run import Scores, model_encoder, pair_cosine_changes, projections_before_after, text_pairs
from embedlab.training.save import read_training_facts, zip_folder

MAX_COMPARE_PAIRS = 200
BEFORE = "before training"


def show(view: JobView) -> None:
    """A run's results so far: the loss curve while it trains; the before/after numbers, the Compare pairs, the
    projection and the download once its model is saved."""
    if view.losses:
        st.plotly_chart(loss_figure(view.losses, view.evals), key=f"train.loss.{view.job_id}.{len(view.losses)}")
    if view.before is not None and view.after is not None:
        st.markdown("**Before / after**")
        comparison = measured(view)
        st.dataframe(before_after_table(view.before, view.after, comparison), hide_index=True)
        if caption := comparison_caption(view):
            st.caption(caption)
        if view.after.baseline_mean - view.before.baseline_mean > 0.1:
            st.warning(
                "The random-pair cosine rose: unrelated sentences now score higher. The scores' absolute values "
                "mean less (the 'extreme high cosine' warning).",
                icon="⚠️",
            )
    if view.saved_to and Path(view.saved_to).is_dir() and not view.active:
        if not view.cross:  # a cross-encoder scores pairs, it has no sentence vectors to compare or project
            comparison_form(view, run_eval_pairs(view))
            compare_pairs_panel(view)
            projection_panel(view)
        st.download_button(
            "Download the model (zip)",
            data=zip_bytes(view.saved_to),
            file_name=f"{Path(view.saved_to).name}.zip",
            mime="application/zip",
            key=f"train.download.{view.job_id}",
        )


def run_eval_pairs(view: JobView):
    """The evaluation pairs the run was measured on (kept in the queue beside its record), or None."""
    return job_queue().eval_pairs(view.job_id)


def compare_pairs_panel(view: JobView) -> None:
    """The Compare page's pairs (its examples when the page was not opened): cosine before and after."""
    table = st.session_state.get(state.PAIRS)
    if table is None or len(table) == 0:
        table = example_pairs()
    pairs = text_pairs(zip(table["sentence1"], table["sentence2"], strict=True), limit=MAX_COMPARE_PAIRS)
    if not pairs:
        return
    with st.expander("The Compare pairs, cosine before -> after", expanded=False):
        try:
            changes = pair_changes(*_run_models(view), pairs)
        except EmbedLabError as error:
            notes.error("{}", error)
            return
        st.dataframe(changes.round(3), hide_index=True)


def _run_models(view: JobView) -> tuple[Composition, ModelId, int, ModelId]:
    """What identifies a finished run's two models: the composition, its start model and seed (the 'before'), and
    the saved folder's identity (the 'after'; its revision changes if the folder is rewritten)."""
    return (
        view.composition,
        resolve_model(view.composition.model),
        int(view.seed),
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
        notes.error("{}", error)
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
    trained_on_them = view.source.startswith("bundled sentences")
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


def saved_text(view: JobView) -> Markdown:
    """Where the run saved its model, as Markdown (the names, typed by a user, are literal)."""
    if not view.saved_to:
        return Markdown("Not saved.")
    asked = Path(view.save_to).name
    renamed = (
        markdown_template(
            "{} was taken while the run trained, so the model was saved under the next free name. ",
            markdown_code(asked),
        )
        if Path(view.saved_to).name != asked
        else ""
    )
    return markdown_template(
        "{}Saved to {}: use it as a start model here, or `--model` on the command line.",
        Markdown(renamed),
        markdown_code(view.saved_to),
    )


@st.cache_data(show_spinner=False, max_entries=4)
def zip_bytes(folder: str) -> bytes:
    return zip_folder(folder)


def before_after_table(before: Scores, after: Scores, comparison=None) -> pd.DataFrame:
    """The run's numbers; with ``comparison`` (reference, Scores, texts sent) a third column named after it."""
    if comparison is None:
        return pd.DataFrame(score_rows(before, after), columns=["measure", "before", "after"])
    ref, scores, _ = comparison
    return pd.DataFrame(score_rows(before, after, scores), columns=["measure", "before", "after", ref])


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
                    "method": f"{facts.get('method', '?')}{'+matryoshka' * ('matryoshka_dims' in facts)}",
                    "start": facts.get("start_model", "?"),
                    "steps": facts.get("steps"),
                    "Spearman before": before.get("spearman"),
                    "Spearman after": after.get("spearman"),
                    "folder": folder,
                }
            )
        st.dataframe(pd.DataFrame(rows), hide_index=True)
