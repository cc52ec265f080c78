"""The Negative tests page's widgets and state: labelled pairs table, extra configurations, results.

The pairs table persists like the Compare table (``components.shared.persistent_table``): ``state.NEGTEST_PAIRS`` holds
the table as the user left it, the editor is mounted on ``PAIRS_TABLE.base_key`` under a versioned key and
remounted on return.

Row numbers: the editor shows its index as the "Row" column, numbered 1..n whenever the editor is (re)mounted
with a new table; edits keep it (a deleted row leaves a gap, an added row gets the next number). Every message,
note and the failures table name rows by that index label, so they match the editor.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from typing import TypeVar

import pandas as pd
import streamlit as st

from components.shared import notes, state
from components.shared.config_panels import Configured
from components.shared.explain_view import explain_failure
from components.shared.figures import CROSS_COLOR, RAW_COLOR, TRAINED_COLOR, score_distributions, undefined_kind
from components.shared.model_box import cross_encoder_box, model_box
from components.shared.persistent_table import PersistentTable
from components.shared.presentation import present
from components.shared.services import (
    baseline,
    encode_unseen,
    get_encoder,
    get_scorer,
    load_encoder,
    load_pair_scorer,
)
from components.shared.uploads import flash, new_upload
from embedlab.data.pairtable import row_list
from embedlab.embedding.postprocess import POST_LABELS, POSTS, POSTS_WITH_DIMS
from embedlab.embedding.readability import pair_readability
from embedlab.embedding.scoring import Baseline, percentile_text, score_percentiles
from embedlab.embedding.specs import DEFAULT_LAYERS, POOLINGS, EmbedSpec
from embedlab.errors import EmbedLabError
from embedlab.limits import MAX_NEGTEST_PAIRS
from embedlab.literal import Markdown, markdown_template
from embedlab.models.loading import PACKAGED
from embedlab.models.registry import model_label
from embedlab.scorers.base import Scorer
from embedlab.tasks.negtest import (
    BEST,
    THRESHOLD_HOW,
    NegTestResult,
    bundled_suite,
    category_failures,
    caught_by_cross,
    check_labelled,
    cross_verdict,
    editor_table,
    parse_labelled_text,
    renumbered,
    require_both_labels,
    run_negtest,
    run_scorer_negtest,
    summary_table,
)

# ---------------------------------------------------------------- the pairs table


PAIRS_TABLE = PersistentTable(
    prefix=state.NEGTEST_PAIRS,
    default=bundled_suite,
    clean=editor_table,
    renumber=renumbered,
    flash_namespace=state.NEGTEST,
)


def replace_pairs(frame: pd.DataFrame, message: str | None = None) -> None:
    """Remount the editor on ``frame``, renumbered 1..n (upload, bundled suite)."""
    PAIRS_TABLE.replace(frame, message)


def pairs_editor() -> pd.DataFrame:
    """The editable labelled table; returns it as the user left it (label may be <NA> where not set), indexed by
    the row numbers the editor shows."""
    return PAIRS_TABLE.editor(
        width="stretch",
        height=320,
        column_config={
            "_index": st.column_config.Column(
                "Row", help="Row number used in the notes and failures below; a new row gets the next one"
            ),
            "sentence1": st.column_config.TextColumn("Sentence 1", width="large"),
            "sentence2": st.column_config.TextColumn("Sentence 2", width="large"),
            "label": st.column_config.SelectboxColumn(
                "Label", options=[1, 0], help="1 = should be similar, 0 = should not", width="small"
            ),
            "category": st.column_config.TextColumn("Category", help="optional: groups the failures"),
        },
    )


def table_tools() -> None:
    """Upload (replaces the table; a bad file leaves it), restore the bundled suite."""
    upload_col, restore_col = st.columns([5, 2], vertical_alignment="bottom")
    with upload_col:
        st.file_uploader(
            "Upload labelled pairs (CSV or TSV with sentence1, sentence2, label; optional category)",
            type=["csv", "tsv", "txt"],
            key=state.NEGTEST_UPLOAD,
        )
    if restore_col.button("Bundled suite", help="Replace the table with the project's 78 labelled pairs."):
        replace_pairs(bundled_suite(), "Loaded the bundled suite.")
        st.rerun()
    try:
        upload = new_upload(state.NEGTEST_UPLOAD)
        if upload is None:
            return
        frame = parse_labelled_text(upload.getvalue(), upload.name)
    except EmbedLabError as error:
        flash(state.NEGTEST, f"{error} Your table was left as it was.", "error")
    else:
        replace_pairs(frame, f"Loaded {len(frame)} labelled pairs from {upload.name}.")
    st.rerun()


def added_rows(table: pd.DataFrame) -> list:
    """Row labels of the rows added in the editor since it was mounted (the editor shows no number for them)."""
    edits = st.session_state.get(PAIRS_TABLE.editor_key()) or {}
    added = len(edits.get("added_rows") or [])
    return list(table.index[len(table) - added :]) if added else []


def validated(table: pd.DataFrame, new_rows: list | None = None) -> pd.DataFrame | None:
    """The complete rows of the table, ready to test, indexed by the editor's row numbers.

    Incomplete rows (a blank sentence or no label) get a note naming them and are left out; a label other than
    0/1, or no complete pair of one label, shows an error and returns None.
    """
    try:
        check = check_labelled(table, "The table")
        if check.incomplete:
            new = set(new_rows or [])
            rows = [f"{row} (new)" if row in new else str(row) for row in check.incomplete]
            notes.info(
                "{}: incomplete (a sentence or the label is empty), not scored.", row_list(rows, capital=True), icon="✏️"
            )
        pairs = check.pairs
        if len(pairs) > MAX_NEGTEST_PAIRS:
            notes.warning(
                "The table has {} complete pairs; the page tests the first {} (up to row {}). Use `python "
                "-m embedlab negtest FILE` for more.",
                len(pairs),
                MAX_NEGTEST_PAIRS,
                pairs.index[MAX_NEGTEST_PAIRS - 1],
            )
            pairs = pairs.iloc[:MAX_NEGTEST_PAIRS]
        require_both_labels(pairs, "The table", skipped=len(check.incomplete))
    except EmbedLabError as error:
        notes.error("{}", error, icon="⚠️")
        return None
    return pairs


# ---------------------------------------------------------------- configurations


def extra_configurations() -> list[Configured]:
    """The configurations the user added (form to add one, multiselect to keep or drop them)."""
    specs: list[EmbedSpec] = st.session_state.setdefault(state.NEGTEST_EXTRA_SPECS, [])
    with st.expander(f"More configurations ({len(specs)} added)", expanded=False):
        with st.form(state.NEGTEST_ADD_FORM, border=False):
            model_col, pooling_col, layers_col, post_col, dims_col = st.columns([3, 2, 2, 3, 2])
            model_key = state.widget_key(state.NEGTEST_ADD, "model")
            state.remembered(model_key, None, PACKAGED)
            with model_col:
                model = model_box(model_key)
            pooling = pooling_col.selectbox(
                "Pooling", POOLINGS, index=1, key=state.widget_key(state.NEGTEST_ADD, "pooling")
            )
            layers = layers_col.text_input("Layers", DEFAULT_LAYERS, key=state.widget_key(state.NEGTEST_ADD, "layers"))
            post = post_col.selectbox(
                "Post-processing", POSTS, key=state.widget_key(state.NEGTEST_ADD, "post"), format_func=POST_LABELS.get
            )
            dims = dims_col.number_input(
                "Dims (abtt/whiten)", min_value=1, value=None, key=state.widget_key(state.NEGTEST_ADD, "dims")
            )
            if st.form_submit_button("Add configuration"):
                try:
                    spec = EmbedSpec(
                        model=model or "",
                        pooling=pooling,
                        layers=layers or DEFAULT_LAYERS,
                        post=post,
                        post_dims=int(dims) if dims is not None and post in POSTS_WITH_DIMS else None,
                    )
                    encoder = load_encoder(spec.model)
                    encoder.vectors([], spec)  # checks layers and fits the post-processing now
                except EmbedLabError as error:
                    notes.error("{}", error, icon="⚠️")
                else:
                    if spec not in specs:
                        specs.append(spec)
                    st.session_state[state.NEGTEST_EXTRA_KEEP] = [spec.label for spec in specs]
        if specs:
            labels = [spec.label for spec in specs]
            st.session_state.setdefault(state.NEGTEST_EXTRA_KEEP, labels)
            kept = st.multiselect("Added configurations (remove one with its ×)", labels, key=state.NEGTEST_EXTRA_KEEP)
            specs[:] = [spec for spec in specs if spec.label in kept]
    configured = []
    for spec in specs:
        try:
            configured.append(Configured(spec, load_encoder(spec.model)))
        except EmbedLabError as error:
            notes.error("{}: {}", spec.label, error, icon="⚠️")
    return configured


def cross_choice() -> Scorer | None:
    """The cross-encoder box (remembered across pages); returns its scorer, or None for none or a folder that
    cannot be loaded (said in an error; the box keeps what was typed)."""
    kept = state.remembered(state.NEGTEST_CROSS_WIDGET, state.NEGTEST_CROSS)
    chosen = st.session_state.get(state.NEGTEST_CROSS)
    with st.expander(
        f"Cross-encoder: {'none' if chosen is None else notes.literal(model_label(chosen))}", expanded=False
    ):
        ref = cross_encoder_box(
            kept["key"],
            "Cross-encoder (reads both sentences at once)",
            "A pair classifier on [CLS] of '[CLS] a [SEP] b [SEP]': one score per pair (0..1, not a cosine), one "
            "forward pass per pair. Train one on the Train page (method cross-encoder), or type its folder.",
            on_change=kept["on_change"],
        )
    if ref is None:
        return None
    try:
        return load_pair_scorer(ref)
    except EmbedLabError as error:
        notes.error("{}: {}", ref, error, icon="⚠️")
        return None


def distinct(configurations: list[Configured]) -> list[Configured]:
    seen: set[EmbedSpec] = set()
    unique = []
    for configured in configurations:
        if configured.spec not in seen:
            seen.add(configured.spec)
            unique.append(configured)
    return unique


# ---------------------------------------------------------------- results


def unreadable_rows(configurations: list[Configured], pairs: pd.DataFrame) -> dict[str, list]:
    """Per model: the rows whose texts it cannot read (mostly [UNK]); encodes what it has not seen (progress bar).

    The states are cached, so testing the configurations afterwards runs no model again.
    """
    texts = list(zip(pairs["sentence1"], pairs["sentence2"], strict=True))
    rows: dict[str, list] = {}
    for configured in configurations:
        model = configured.spec.model
        if model in rows:
            continue
        encode_unseen(configured.encoder, [*pairs["sentence1"], *pairs["sentence2"]], model)
        notes = [note for _, _, note in pair_readability(configured.encoder, texts)]
        rows[model] = [row for row, note in zip(pairs.index, notes, strict=True) if note]
    return rows


def skip_unreadable_choice(unreadable: dict[str, list], n_pairs: int) -> bool:
    """Say how many pairs each model cannot read and offer to leave them out (remembered across pages).

    Returns:
        True to leave them out of the AUC, the threshold and the failures; False when none is affected.
    """
    affected = {model: rows for model, rows in unreadable.items() if rows}
    if not affected:
        return False
    counts = Markdown(
        "; ".join(
            markdown_template("**{}**: {} of {} ({})", model, len(rows), n_pairs, row_list(rows))
            for model, rows in affected.items()
        )
    )
    notes.warning(
        "Pairs with a text the model cannot read (half or more of its tokens are [UNK]): {}. Their "
        "cosines are meaningless, so passing or failing them says nothing; the failures table notes "
        "them.",
        counts,
        icon="🔤",
    )
    return st.checkbox(
        "Leave out pairs the model cannot read",
        help="Left out of the AUC, the threshold and the failures of the configurations whose model cannot read "
        "them. The same choice holds on STS evaluation.",
        **state.remembered(state.NEGTEST_SKIP_WIDGET, state.SKIP_UNREADABLE, False),
    )


def test_configuration(
    configured: Configured, pairs: pd.DataFrame, threshold: float | None, skip_unreadable: bool = False
) -> NegTestResult:
    """Score the pairs (progress bar only when the model must run) and judge them."""
    encoder, spec = configured.encoder, configured.spec
    encode_unseen(encoder, [*pairs["sentence1"], *pairs["sentence2"]], spec.model)
    with st.spinner("Random-pair baseline (first time for a configuration)…"):
        typical = baseline(spec)
    return shared_negtest(spec, pairs, threshold, typical, skip_unreadable)


@st.cache_resource(show_spinner=False, max_entries=32)
def shared_negtest(
    spec: EmbedSpec, pairs: pd.DataFrame, threshold: float | None, typical: Baseline, skip_unreadable: bool
) -> NegTestResult:
    """``run_negtest`` once per configuration and table content, shared by every session (every new session tests
    the bundled suite): a result is never changed in place. The spec names the model's identity and revision."""
    return run_negtest(get_encoder(spec.model), spec, pairs, threshold, typical, skip_unreadable=skip_unreadable)


T = TypeVar("T")
_DERIVED: weakref.WeakKeyDictionary[NegTestResult, dict[str, object]] = weakref.WeakKeyDictionary()
_DERIVED_LOCK = threading.Lock()


def derived(result: NegTestResult, what: str, build: Callable[[], T]) -> T:
    """``build()`` once per result object: a shared result's figure and category table are the same for every session
    that shows it (results are immutable; an entry goes with its result). Cheaper than hashing the result's tables
    again to look the figure up."""
    with _DERIVED_LOCK:
        memo = _DERIVED.setdefault(result, {})
    if what not in memo:
        memo[what] = build()
    return memo[what]  # type: ignore[return-value]


def test_cross(scorer: Scorer, pairs: pd.DataFrame, threshold: float | None) -> NegTestResult:
    """The cross-encoder's scores of the pairs and of its random pairs (a pass each, cached per pair: the first
    time only), judged like a configuration."""
    with st.spinner(
        f"Scoring {len(pairs)} pairs and {scorer.baseline_pairs} random pairs with the {scorer.kind} (one forward "
        "pass per pair, the first time only)…"
    ):
        return run_scorer_negtest(scorer, pairs, threshold)


def cross_tab_label(scorer: Scorer, index: int) -> str:
    return f"{index + 1}. {model_label(scorer.ref)} · {scorer.kind}"


def cross_tab(scorer: Scorer, pairs: pd.DataFrame) -> NegTestResult | None:
    """The cross-encoder's tab: its threshold box, verdict, numbers, score distribution and failures."""
    threshold = threshold_input(scorer.label, scorer.score_name)
    try:
        result = test_cross(scorer, pairs, threshold)
    except EmbedLabError as error:
        notes.error("{}", error, icon="⚠️")
        return None
    show_result(result, CROSS_COLOR)
    return result


def auc_text(result: NegTestResult) -> str:
    """The AUC as shown: three decimals, or "undefined" (never "nan")."""
    return "undefined" if result.auc_reason else f"{result.auc:.3f}"


def threshold_input(label: str, score_name: str = "cosine") -> float | None:
    """Per-configuration threshold box; empty = the best one. Kept per configuration label for the session."""
    value = st.number_input(
        "Threshold (empty: the best one)",
        min_value=-1.0,
        max_value=1.0,
        step=0.01,
        format="%.3f",
        placeholder="best (Youden's J)",
        help=f"A pair 'matches' when its {score_name} is at or above the threshold. Empty: the threshold that best "
        "separates the groups, maximising Youden's J = true-positive rate − false-positive rate.",
        **state.remembered(state.negtest_threshold_widget(label), state.negtest_threshold(label)),
    )
    return None if value is None else float(value)


def show_result(result: NegTestResult, color: str) -> None:
    """Verdict, numbers, distribution plot, failures (worst first) and failures per category."""
    st.markdown(f"**Verdict:** {result.verdict()}")
    auc_col, threshold_col, failures_col, baseline_col = st.columns(4)
    auc_help = "P(a should-match pair outscores a should-not one)"
    auc_col.metric(
        "ROC AUC",
        auc_text(result),
        undefined_kind(result.auc_reason) if result.auc_reason else None,
        delta_color="off",
        delta_arrow="off",
        help=f"{auc_help}. {result.auc_reason}" if result.auc_reason else auc_help,
    )
    threshold_col.metric(
        "Threshold",
        f"{result.threshold:.3f}",
        "best (Youden's J)" if result.threshold_how == BEST else "set by you",
        delta_color="off",
        delta_arrow="off",
        help=THRESHOLD_HOW[result.threshold_how],
    )
    failures_col.metric(
        "Failures",
        f"{len(result.failures)} of {len(result.pairs)}",
        f"{result.false_matches} too high, {result.missed} too low",
        delta_color="off",
        delta_arrow="off",
    )
    baseline_col.metric(
        "Random pairs",
        f"{result.baseline.mean:.3f}",
        f"95% below {result.baseline.p95:.3f}",
        delta_color="off",
        delta_arrow="off",
        help=f"{result.score_name.capitalize()} of mismatched reference sentences under this configuration"
        + (f" (its own: a {result.kind}'s scores are not cosines)" if not result.of_vectors else ""),
    )
    if result.auc_reason:
        notes.warning("ROC AUC {}.", result.auc_reason, icon="🎲")
    if result.left_out:
        notes.caption("Left out ({}, the model cannot read them): {}.", len(result.left_out), row_list(result.left_out))
    st.caption(f"The threshold {result.threshold:.3f} is at the {percentile_text(_percentile(result))}.")
    st.plotly_chart(present(derived(result, f"figure.{color}", lambda: score_distributions(result, color))))
    st.markdown(f"**Failures, worst first** ({len(result.failures)})")
    if result.failures.empty:
        st.success("No pair is on the wrong side of the threshold.")
    else:
        chosen = st.dataframe(
            result.failures,
            hide_index=True,
            width="stretch",
            on_select="rerun",
            selection_mode="single-row",
            key=state.widget_key(state.NEGTEST, f"failures.{color}"),
            column_config={
                "row": st.column_config.NumberColumn("Row", help="The pair's row number in the table above"),
                "sentence1": "Sentence 1",
                "sentence2": "Sentence 2",
                "label": "Label",
                "category": "Category",
                "cosine": st.column_config.NumberColumn(result.score_name.capitalize(), format="%.3f"),
                "percentile": st.column_config.NumberColumn(
                    "Percentile", format="%.0f", help="Share of random pairs scoring lower, in %"
                ),
                "kind": "Failure",
                "margin": st.column_config.NumberColumn(
                    "Wrong by", format="%.3f", help="Distance to the threshold, on the wrong side"
                ),
                "note": st.column_config.TextColumn(
                    "Note", help="A text the model cannot read: its score is meaningless"
                ),
            },
        )
        # one click on a failure takes its score apart (the worst one until then); a cross-encoder's after a click
        if result.of_vectors or get_scorer(result.spec).can("joint_tokens"):
            explain_failure(
                get_scorer(result.spec),
                result.failures,
                chosen.selection.rows,
                state.widget_key(state.NEGTEST, f"explain.{color}"),
            )
    if (result.pairs["category"] != "").any():
        with st.expander("Failures per category"):
            st.dataframe(
                derived(result, "categories", result.category_table),
                hide_index=True,
                column_config={
                    "mean_cosine": st.column_config.NumberColumn(f"Mean {result.score_name}", format="%.3f")
                },
            )


def _percentile(result: NegTestResult) -> float:
    return float(score_percentiles([result.threshold], result.baseline)[0])


def summary(results: list[NegTestResult]) -> None:
    table = summary_table(results).assign(
        auc=[auc_text(result) for result in results],  # text: the grid would draw a NaN as "None"
        note=[result.auc_reason or "" for result in results],
        left_out=[len(result.left_out) for result in results],
    )
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        column_config={
            "configuration": st.column_config.TextColumn("Configuration", width="large"),
            "kind": st.column_config.TextColumn(
                "Kind", help="bi-encoder: cosine of two sentence vectors; cross-encoder: its own score of the pair"
            ),
            "auc": st.column_config.TextColumn("ROC AUC", help="'undefined': see the note", alignment="right"),
            "threshold": st.column_config.NumberColumn("Threshold", format="%.3f"),
            "threshold_how": "Threshold chosen by",
            "failures": "Failures",
            "false_matches": st.column_config.NumberColumn("Too high", help="should not match, score ≥ threshold"),
            "missed": st.column_config.NumberColumn("Too low", help="should match, score < threshold"),
            "accuracy": st.column_config.NumberColumn("Accuracy", format="%.2f"),
            "baseline_mean": st.column_config.NumberColumn(
                "Random pairs: mean", format="%.3f", help="a bi-encoder's cosine, a cross-encoder's own score"
            ),
            "baseline_p95": st.column_config.NumberColumn("Random pairs: p95", format="%.3f"),
            "note": st.column_config.TextColumn("Note", help="Why the ROC AUC is undefined"),
            "left_out": st.column_config.NumberColumn(
                "Left out", help="Pairs left out because the model cannot read them"
            ),
        },
    )


def cross_comparison(results: list[NegTestResult]) -> None:
    """Does reading both sentences at once help? Failures per kind of pair for every configuration, and the pairs
    every bi-encoder fails that the cross-encoder gets right (and those it fails that a bi-encoder gets right)."""
    cross = next((result for result in results if not result.of_vectors), None)
    bi = [result for result in results if result.of_vectors]
    if cross is None or not bi:
        return
    st.markdown("**Does reading both sentences at once help?** " + cross_verdict(bi, cross))
    st.caption(
        "Failures per kind of pair, each configuration at its own threshold; 'every bi-encoder': the pairs that "
        "all of the bi-encoders above fail."
    )
    st.dataframe(category_failures(results), hide_index=True, width="stretch")
    table = caught_by_cross(bi, cross)
    if len(table):
        st.dataframe(
            table,
            hide_index=True,
            width="stretch",
            column_config={
                "row": st.column_config.NumberColumn("Row", help="The pair's row number in the table below"),
                "score": st.column_config.NumberColumn("Cross-encoder score", format="%.3f"),
                "best cosine": st.column_config.NumberColumn(
                    "Best bi-encoder cosine", format="%.3f", help="the one nearest to the right side of its threshold"
                ),
                "outcome": "Outcome",
            },
        )


def color_of(index: int) -> str:
    return (RAW_COLOR, TRAINED_COLOR)[index] if index < 2 else "#5f3dc4"
