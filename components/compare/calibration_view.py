"""Compare: what a score means for this model. A "same meaning" column beside each calibrated score in the table
(``with_same_meaning``), and a section that fits a configuration's calibration on labelled pairs, with progress,
and shows how well it holds on pairs not used for the fit (``calibration_section``). The engine room is
``embedlab.tasks.calibration``; fits are cached there for every session, so nothing is refitted on a rerun."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import streamlit as st

from components.compare.cross_view import CrossChoice
from components.shared import notes, state
from components.shared.config_panels import Configured
from components.shared.figures import CROSS_COLOR, RAW_COLOR, TRAINED_COLOR, reliability_diagram
from components.shared.presentation import present
from components.shared.services import get_scorer
from components.shared.uploads import new_upload
from embedlab.errors import EmbedLabError
from embedlab.scorers.base import Scorer
from embedlab.tasks.calibration import (
    BOOTSTRAP_CONFIDENCE,
    BOOTSTRAP_RESAMPLES,
    DEFAULT_PRECISION,
    METHOD_WORDS,
    METHODS,
    N_BINS,
    CalibrationReport,
    CalibrationSets,
    LabelledPairs,
    bundled_labelled,
    cached_calibration,
    cached_report,
    default_sets,
    distinct_counts,
    held_out,
    parse_labelled_data,
    threshold_text,
)
from embedlab.tasks.compare import same_meaning_column

DEFAULT_SOURCE = "default"
BUNDLED = "bundled"
UPLOADED = "uploaded"
SOURCES = {
    DEFAULT_SOURCE: "STS benchmark: train split to fit, dev split to judge",
    BUNDLED: "the bundled negative-test suite (70% to fit, 30% to judge)",
    UPLOADED: "my labelled pairs (70% to fit, 30% to judge)",
}
SIDE_WORDS = {"raw": "Raw", "trained": "Trained", "cross": "Cross-encoder"}
SIDE_COLORS = {"raw": RAW_COLOR, "trained": TRAINED_COLOR, "cross": CROSS_COLOR}
METHOD_LABELS = {"auto": "auto (isotonic from 1,000 fit pairs, Platt below)", **METHOD_WORDS}
CURVE_POINTS = 201


def side_scorers(raw: Configured, trained: Configured, cross: CrossChoice | None) -> dict[str, Scorer]:
    """The configurations on the page, by table prefix."""
    scorers = {"raw": get_scorer(raw.spec), "trained": get_scorer(trained.spec)}
    if cross is not None:
        scorers["cross"] = cross.scorer
    return scorers


def chosen_sets() -> CalibrationSets | None:
    """The labelled pairs the session chose (``SOURCES``); None when the upload is chosen but none parsed yet."""
    source = st.session_state.get(state.CALIBRATION_SOURCE, DEFAULT_SOURCE)
    if source == UPLOADED:
        uploaded: LabelledPairs | None = st.session_state.get(state.CALIBRATION_UPLOADED)
        if uploaded is None:
            return None
        fit, held = held_out(uploaded)
        return CalibrationSets(fit, held, f"fitted on 70% of {uploaded.name}, judged on the other 30%", False)
    if source == BUNDLED:
        fit, held = held_out(bundled_labelled())
        return CalibrationSets(
            fit, held, "fitted on 70% of the bundled negative-test suite, judged on the other 30%", False
        )
    return default_sets()


def chosen_method() -> str:
    return st.session_state.get(state.CALIBRATION_METHOD, "auto")


def chosen_precision() -> float:
    return float(st.session_state.get(state.CALIBRATION_PRECISION, DEFAULT_PRECISION))


def with_same_meaning(
    scored: pd.DataFrame, raw: Configured, trained: Configured, cross: CrossChoice | None
) -> pd.DataFrame:
    """The scored table with a ``<side>_same_meaning`` column for every configuration already calibrated on the
    session's labelled pairs (nothing is fitted here: the section below does that on request)."""
    try:
        sets = chosen_sets()
        if sets is None:
            return scored
        for side, scorer in side_scorers(raw, trained, cross).items():
            column = f"{side}_{scorer.score_name}"
            report = cached_report(scorer, sets.fit, sets.held, chosen_method(), chosen_precision())
            if report is not None and column in scored:
                scored = same_meaning_column(scored, side, scorer.score_name, report.probability(scored[column]))
    except EmbedLabError:
        return scored  # the section below says what is wrong with the pairs
    return scored


def _source_widget() -> str:
    source = st.radio(
        "Labelled pairs",
        list(SOURCES),
        format_func=SOURCES.get,
        horizontal=True,
        **state.remembered(
            state.CALIBRATION_SOURCE_WIDGET, state.CALIBRATION_SOURCE, DEFAULT_SOURCE, options=list(SOURCES)
        ),
    )
    if source == UPLOADED:
        st.file_uploader(
            "CSV or TSV with sentence1, sentence2 and label (1 = same meaning, 0 = not), or STS-scored pairs",
            type=["csv", "tsv", "txt"],
            key=state.CALIBRATION_UPLOAD_WIDGET,
        )
        try:
            upload = new_upload(state.CALIBRATION_UPLOAD_WIDGET)
            if upload is not None:
                st.session_state[state.CALIBRATION_UPLOADED] = parse_labelled_data(upload.getvalue(), upload.name)
        except EmbedLabError as error:
            notes.error("{}", error, icon="⚠️")
    return source


def _progress_callback(bar):
    start = time.monotonic()

    def report(stage: str, done: int, total: int) -> None:
        share = done / total if total else 1.0
        elapsed = time.monotonic() - start
        left = f" · about {elapsed / share * (1 - share):.0f} s left for this part" if 0 < share < 1 else ""
        bar.progress(share, text=f"Scoring the {stage} pairs: {done:,} of {total:,}{left}")

    return report


def cost_text(scorer: Scorer, sets: CalibrationSets) -> str:
    """What a fit costs, in model passes, before it runs."""
    texts, pairs = distinct_counts(sets)
    if scorer.can("vectors"):
        return (
            f"Fitting encodes {texts:,} distinct sentences ({len(sets.fit):,} fit pairs, {len(sets.held):,} held-out "
            "pairs) with this configuration once (sentences it has already seen are not encoded again); all-MiniLM-"
            "L6-v2 takes about 40 s for the STS train split on 2 CPU cores. The fit is then kept for every session."
        )
    return (
        f"Fitting scores {pairs:,} distinct pairs one by one ({len(sets.fit):,} fit, {len(sets.held):,} "
        "held out): a forward pass per pair. The fit is then kept for every session."
    )


def show_report(report: CalibrationReport, color: str) -> None:
    metrics = pd.DataFrame(
        {
            "Brier score": [report.before.brier, report.after.brier],
            "expected calibration error": [report.before.ece, report.after.ece],
        },
        index=[f"before: raw {report.score_name} read as a probability", "after: calibrated"],
    )
    chart, numbers = st.columns([3, 2])
    with numbers:
        st.dataframe(metrics.style.format("{:.4f}"), width="stretch")
        notes.markdown("**Threshold:** {}.", threshold_text(report.threshold, report.score_name))
        notes.caption(
            "Method: {}. Fitted on {} ({} pairs), judged on {} ({} pairs not used for the fit); labels: {}. "
            "Lower is better for both numbers; ECE: {} equal-width bins, each weighted by its share of pairs. "
            "Threshold interval: {} percentile bootstrap, {} seeded resamples of the held-out pairs.",
            report.method_why,
            report.fit_name,
            f"{report.n_fit:,}",
            report.held_name,
            f"{report.n_held:,}",
            report.how,
            N_BINS,
            f"{BOOTSTRAP_CONFIDENCE:.0%}",
            f"{BOOTSTRAP_RESAMPLES:,}",
        )
    grid = np.linspace(-0.2 if report.score_name == "cosine" else 0.0, 1.0, CURVE_POINTS)
    curve = (tuple(float(v) for v in grid), tuple(float(v) for v in report.probability(grid)))
    parts = [(r.mean_probability, r.fraction_positive, r.counts) for r in (report.before, report.after)]
    with chart:
        st.plotly_chart(present(reliability_diagram(*parts, curve, report.score_name, color)))


def calibration_section(raw: Configured, trained: Configured, cross: CrossChoice | None) -> None:
    """Fit (on request) and show one configuration's calibration; bad pairs get a note, the page carries on."""
    st.subheader("What a score means for this model")
    st.caption(
        "A cosine of 0.83 means different things for different models. Fitted on pairs people labelled, this "
        "gives the probability that a pair is the same meaning at each score, for one model and configuration, "
        "and says how well that holds on pairs the fit never saw. Once fitted, the table above shows it beside "
        "every score."
    )
    _source_widget()
    scorers = side_scorers(raw, trained, cross)
    side_col, method_col, precision_col = st.columns(3)
    side = side_col.selectbox(
        "Configuration",
        list(scorers),
        format_func=lambda name: f"{SIDE_WORDS[name]}: {scorers[name].label}",
        **state.remembered(state.CALIBRATION_SIDE_WIDGET, state.CALIBRATION_SIDE, "trained", options=list(scorers)),
    )
    method = method_col.selectbox(
        "Method",
        METHODS,
        format_func=METHOD_LABELS.get,
        **state.remembered(state.CALIBRATION_METHOD_WIDGET, state.CALIBRATION_METHOD, "auto", options=METHODS),
    )
    precision = precision_col.slider(
        "Precision of the threshold",
        0.5,
        0.99,
        step=0.01,
        help="The lowest score at which pairs at or above it are 'same meaning' this often on the held-out pairs.",
        **state.remembered(state.CALIBRATION_PRECISION_WIDGET, state.CALIBRATION_PRECISION, DEFAULT_PRECISION),
    )
    try:
        sets = chosen_sets()
    except EmbedLabError as error:
        notes.error("{}", error, icon="⚠️")
        return
    if sets is None:
        st.caption("Upload labelled pairs to fit on them.")
        return
    if not sets.sts and st.session_state.get(state.CALIBRATION_SOURCE, DEFAULT_SOURCE) == DEFAULT_SOURCE:
        notes.info("{}.", sets.note, icon="ℹ️")
    scorer = scorers[side]
    report = cached_report(scorer, sets.fit, sets.held, method, precision)
    if report is None:
        notes.caption("{}", cost_text(scorer, sets))
        if not st.button(f"Fit {SIDE_WORDS[side].lower()}: {scorer.label}", key=state.CALIBRATION_FIT_BUTTON):
            return
        bar = st.progress(0.0, text="Scoring the fit pairs…")
        try:
            cached_calibration(scorer, sets.fit, sets.held, method, precision, _progress_callback(bar))
        except EmbedLabError as error:
            bar.empty()
            notes.error("{}", error, icon="⚠️")
            return
        st.rerun()  # the table above gains its "same meaning" column
    show_report(report, SIDE_COLORS[side])
