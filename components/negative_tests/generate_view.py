"""Negative tests from the user's own sentences: generate labelled pairs into the page's editable table, download
them as a file ``negtest`` reads, and show which kinds of edit each configuration fails.

The sentences come from one text area (typed, filled from an uploaded file, or from the Compare table's
sentences), so whatever the source, the user sees and can edit them before generating. Generating replaces the
pairs table (``negtest_view.replace_pairs``): the pairs stay editable there before they are scored.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from components.negative_tests.negtest_view import replace_pairs
from components.shared import notes, state
from components.shared.uploads import flash, new_upload, show_flash
from embedlab.data.csvsafe import csv_bytes
from embedlab.data.pairfiles import decode_text
from embedlab.errors import EmbedLabError
from embedlab.limits import MAX_PERTURB_SENTENCES
from embedlab.tasks.compare import example_pairs
from embedlab.tasks.negtest import LABELLED_COLUMNS, NegTestResult
from embedlab.tasks.perturb import KIND_WORDS, KINDS, kind_results, perturb, sentences_from_text

DOWNLOAD_NAME = "negtest_pairs.csv"


def compare_sentences() -> list[str]:
    """The sentences of the Compare table as the user left it (its example pairs if it was never opened)."""
    table = st.session_state.get(state.PAIRS)
    if not isinstance(table, pd.DataFrame):
        table = example_pairs()
    texts = [str(text) for column in ("sentence1", "sentence2") for text in table.get(column, []) if pd.notna(text)]
    return list(dict.fromkeys(text.strip() for text in texts if text.strip()))


def _seeded(widget: str, store: str, default: object) -> str:
    """A form's widget key, seeded from its plain entry (a widget in a form takes no on_change: the submit stores
    the values back)."""
    if widget not in st.session_state:
        st.session_state[widget] = st.session_state.get(store, default)
    return widget


def _fill(text: str) -> None:
    st.session_state[state.NEGTEST_GENERATE_TEXT] = text
    st.session_state[state.NEGTEST_GENERATE_TEXT_WIDGET] = text


def _fill_from_compare() -> None:
    sentences = compare_sentences()
    _fill("\n".join(sentences))
    flash(state.NEGTEST_GENERATE, f"Took the {len(sentences)} sentences of the Compare table.", "info")


def generate_panel() -> None:
    """The "Generate from my sentences" expander: sentences, kinds, and the button that fills the table."""
    with st.expander("Generate from my sentences", expanded=bool(st.session_state.get(state.NEGTEST_GENERATE_TEXT))):
        st.caption(
            "Each sentence is paired with an edited copy of itself. Edits that change the meaning should score low "
            "(label 0): negation, antonym, number, role reversal, entity swap. Edits that keep it should score high "
            "(label 1): a typo, case and punctuation, a contraction. A kind that does not apply to a sentence "
            "skips it. The pairs replace the table below, where you can edit them before they are scored."
        )
        upload_col, compare_col = st.columns([5, 2], vertical_alignment="bottom")
        with upload_col:
            st.file_uploader(
                "Sentences from a file (text: one per line; CSV/TSV: a sentence or text column)",
                type=["txt", "csv", "tsv"],
                key=state.NEGTEST_GENERATE_UPLOAD,
            )
        compare_col.button(
            "Compare's sentences",
            help="Fill the box with the sentences of the Compare table.",
            on_click=_fill_from_compare,
        )
        _take_upload()
        show_flash(state.NEGTEST_GENERATE)
        with st.form(state.NEGTEST_GENERATE_FORM, border=False):
            text = st.text_area(
                f"Your sentences, one per line (at most {MAX_PERTURB_SENTENCES:,})",
                height=150,
                placeholder="The cat chased the dog.\nShe runs every morning.",
                key=_seeded(state.NEGTEST_GENERATE_TEXT_WIDGET, state.NEGTEST_GENERATE_TEXT, ""),
            )
            kinds = st.multiselect(
                "Kinds of edit",
                list(KINDS),
                format_func=lambda kind: f"{kind}: {KIND_WORDS[kind]}",
                key=_seeded(state.NEGTEST_GENERATE_KINDS_WIDGET, state.NEGTEST_GENERATE_KINDS, list(KINDS)),
            )
            submitted = st.form_submit_button("Generate pairs", type="primary")
        if submitted:
            st.session_state[state.NEGTEST_GENERATE_TEXT] = text
            st.session_state[state.NEGTEST_GENERATE_KINDS] = kinds
            try:
                result = perturb(text.splitlines(), kinds, name="The box")
            except EmbedLabError as error:
                notes.error("{}", error, icon="⚠️")
                return
            replace_pairs(result.pairs, f"Generated {result.summary()}")
            st.rerun()


def _take_upload() -> None:
    """A new file's sentences go into the box (a bad file leaves it as it was, with a message)."""
    try:
        upload = new_upload(state.NEGTEST_GENERATE_UPLOAD)
        if upload is None:
            return
        sentences = sentences_from_text(decode_text(upload.getvalue(), upload.name), upload.name)
    except EmbedLabError as error:
        notes.error("{} The box was left as it was.", error, icon="⚠️")
        return
    sentences = [line.strip() for line in sentences if str(line).strip()]
    _fill("\n".join(sentences))
    notes.info("Took {} sentences from {}: generate when ready.", len(sentences), upload.name, icon="📄")


def download(pairs: pd.DataFrame) -> None:
    """The complete pairs of the table as a CSV file that ``python -m embedlab negtest`` reads back."""
    columns = [*LABELLED_COLUMNS, "category"]
    st.download_button(
        f"Download these {len(pairs)} pairs (CSV for negtest)",
        csv_bytes(pairs[columns]),
        file_name=DOWNLOAD_NAME,
        mime="text/csv",
        help="sentence1, sentence2, label, category: `python -m embedlab negtest negtest_pairs.csv --model M` reads it",
    )


def kind_table(result: NegTestResult) -> None:
    """Per kind of generated edit: pairs, failures, mean score and whether the configuration fails it (only when the
    table holds generated pairs)."""
    table = kind_results(result.pairs, result.scores, result.failed)
    if table.empty:
        return
    failing = table.loc[table["verdict"] == "fails", "kind"].tolist()
    st.markdown(
        f"**Kinds of edit this configuration fails:** {', '.join(failing) if failing else 'none'} "
        f"(half or more of their pairs on the wrong side of {result.threshold:.3f})"
    )
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        column_config={
            "kind": "Kind",
            "expected": "Expected",
            "pairs": "Pairs",
            "failed": "Failed",
            "failed_share": st.column_config.ProgressColumn(
                "Failed share", min_value=0.0, max_value=1.0, format="percent"
            ),
            "mean_score": st.column_config.NumberColumn(f"Mean {result.score_name}", format="%.3f"),
            "verdict": "Verdict",
        },
    )


def kinds_summary(results: list[NegTestResult]) -> None:
    """Across configurations: the share of each generated kind's pairs that each one fails (only with generated
    pairs in the table)."""
    tables = {result.label: kind_results(result.pairs, result.scores, result.failed) for result in results}
    present = [kind for kind in KINDS if any(kind in table["kind"].values for table in tables.values())]
    if not present:
        return
    summary = pd.DataFrame({"kind": present})
    for label, table in tables.items():
        shares = dict(zip(table["kind"], table["failed_share"], strict=True))
        summary[label] = [shares.get(kind) for kind in present]
    st.markdown("**Which kinds of edit each configuration fails** (share of the kind's pairs failed)")
    st.dataframe(
        summary,
        hide_index=True,
        width="stretch",
        column_config={label: st.column_config.NumberColumn(label, format="percent") for label in tables},
    )
