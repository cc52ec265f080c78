"""The cost table on the STS evaluation page: faster or smaller variants of one chosen model over the same pairs
(``embedlab.tasks.variants``), beside the model itself in PyTorch with full float32 vectors."""

from __future__ import annotations

import streamlit as st

from components.shared import notes, state
from components.shared.services import shared_engine
from embedlab.embedding.specs import EmbedSpec
from embedlab.errors import EmbedLabError
from embedlab.scorers.registry import kind_of
from embedlab.tasks.negtest import bundled_suite
from embedlab.tasks.sts import ScoredPairs
from embedlab.tasks.variants import CostTable, cost_table

VARIANTS = {  # what the box offers -> (the model's suffix, precision, dims)
    "ONNX": (" (ONNX)", "float32", None),
    "ONNX int8": (" (ONNX int8)", "float32", None),
    "OpenVINO": (" (OpenVINO)", "float32", None),
    "OpenVINO int8": (" (OpenVINO int8)", "float32", None),
    "int8 vectors": ("", "int8", None),
    "binary vectors": ("", "binary", None),
    "first 128 dims": ("", "float32", 128),
    "first 64 dims": ("", "float32", 64),
}
DEFAULT_VARIANTS = ["ONNX int8", "int8 vectors", "binary vectors"]


def variant_specs(model: str, chosen: list[str]) -> list[EmbedSpec]:
    """The chosen variants of ``model`` as configurations."""
    return [
        EmbedSpec(model + VARIANTS[name][0], precision=VARIANTS[name][1], dims=VARIANTS[name][2]) for name in chosen
    ]


def cost_section(pairs: ScoredPairs, models: list[str]) -> None:
    """Choose a model and its variants, measure on demand, show the table and the pairs that changed most."""
    st.subheader("Faster and smaller: what a variant costs")
    st.caption(
        "The chosen variants run over these pairs and the bundled negative tests beside the model itself "
        "(PyTorch, full float32 vectors), in one run on this server: speed, bytes per stored vector, Spearman, "
        "ROC AUC and the pairs whose score moved most. int8 and binary numbers are always shown next to the "
        "float32 ones."
    )
    candidates = []
    for model in models:
        try:
            if "vectors" in kind_of(model).capabilities:
                candidates.append(model)
        except EmbedLabError:
            continue
    if not candidates:
        notes.info("Pick a model with sentence vectors above to measure its variants.")
        return
    model_col, variants_col, threshold_col = st.columns([2, 3, 1])
    model = model_col.selectbox("Model", candidates, key=state.STS_COSTS_MODEL)
    chosen = variants_col.multiselect(
        "Variants",
        list(VARIANTS),
        default=DEFAULT_VARIANTS,
        key=state.STS_COSTS_VARIANTS,
        help="ONNX / OpenVINO: the backbone exported here (once per model) and run in that engine; int8 there means "
        "int8 weights. int8 / binary vectors: the stored vectors. First k dims: the vectors truncated.",
    )
    threshold = threshold_col.number_input(
        "Threshold", value=0.5, step=0.05, key=state.STS_COSTS_THRESHOLD, help="A pair matches at or above it."
    )
    results: dict = st.session_state.setdefault(state.STS_COSTS, {})
    key = (pairs.fingerprint, model, tuple(chosen), float(threshold))
    if key not in results:
        if not chosen or not st.button("Measure the variants", key=state.STS_COSTS_MEASURE):
            return
        status = st.status("Measuring…")
        try:
            results[key] = cost_table(
                model,
                variant_specs(model, chosen),
                pairs,
                bundled_suite(),
                float(threshold),
                engine=shared_engine,
                progress=lambda what: status.update(label=f"Measuring {what}…"),
            )
        except EmbedLabError as error:
            status.update(label="Stopped", state="error")
            notes.error("{}", error, icon="⚠️")
            return
        status.update(label="Measured", state="complete")
    show_costs(results[key])


def show_costs(table: CostTable) -> None:
    st.dataframe(
        table.rows,
        hide_index=True,
        column_config={
            "variant": "Variant",
            "sentences_per_s": st.column_config.NumberColumn("Sentences/s", format="%.0f"),
            "speed_x": st.column_config.NumberColumn(
                "Speed vs PyTorch", format="%.2fx", help="Measured in the same run, same sentences and threads"
            ),
            "bytes_per_vector": st.column_config.NumberColumn("Bytes/vector"),
            "spearman": st.column_config.NumberColumn("STS Spearman", format="%.2f"),
            "auc": st.column_config.NumberColumn("Negative tests AUC", format="%.3f"),
            "largest_change": st.column_config.NumberColumn("Largest score change", format="%.4f"),
            "crossed": st.column_config.NumberColumn("Pairs past the threshold", help="Moved across it"),
        },
    )
    st.caption(
        f"Speeds: {table.n_timed} sentences encoded by each model's own pipeline, no cache, on this server under "
        "its current load: compare them within this run only."
    )
    for label, changed in table.changed.items():
        crossed = int(changed["crossed"].sum())
        with st.expander(f"{notes.literal(label)}: the pairs that changed most"):
            if crossed:
                notes.caption("{} of these pairs moved past your threshold {}.", crossed, f"{table.threshold:g}")
            st.dataframe(
                changed,
                hide_index=True,
                column_config={
                    "reference": st.column_config.NumberColumn("PyTorch float32", format="%.4f"),
                    "variant": st.column_config.NumberColumn("Variant", format="%.4f"),
                    "change": st.column_config.NumberColumn("Change", format="%+.4f"),
                },
            )
