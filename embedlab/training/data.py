"""Training data for each method, parsed with the project's own readers and checked before any model loads.

| method                  | loss                                  | data                                         |
|-------------------------|---------------------------------------|----------------------------------------------|
| cosine                  | CosineSimilarityLoss                  | sentence1, sentence2, score (0-5 or 0-1)     |
| cosent                  | CoSENTLoss                            | sentence1, sentence2, score (0-5 or 0-1)     |
| mnrl                    | MultipleNegativesRankingLoss          | sentence1, sentence2 (positive pairs)        |
|                         |   with hard negatives                 |   + negative (a hard negative per pair)      |
| pitfall-random-labels   | CosineSimilarityLoss, labels 0.85-0.95| sentence1, sentence2 (positive pairs)        |
| simcse                  | MultipleNegativesRankingLoss on (s, s)| plain sentences                              |
| tsdae                   | DenoisingAutoEncoderLoss              | plain sentences                              |

Any of them but TSDAE can be wrapped in ``MatryoshkaLoss`` (``TrainingData.matryoshka``,
``embedlab.training.matryoshka``): the same data, the loss also computed on the first k dimensions of each embedding.

MNRL's optional ``negative`` column (mined by the Retrieval page, ``embedlab.retrieval.hardneg``) becomes the
dataset's third column: MultipleNegativesRankingLoss reads (anchor, positive, negative) natively, each row's
negative joining the in-batch negatives of every anchor. Other methods ignore it.

Scores on 0-5 are divided by 5 (the losses want 0-1). TSDAE's noise deletes 60% of the whitespace-separated
words (seeded; at least one word kept): no nltk data needed. Its dataset columns are (damaged, original), the
order DenoisingAutoEncoderLoss reads them in.

Offline sources: the bundled sentences (``bundled_sentences``, for SimCSE/TSDAE) and positive pairs built from
the bundled paraphrase groups (``bundled_paraphrase_pairs``); both are small, and ``TrainingData.source`` says so.
"""

from __future__ import annotations

import itertools
import math
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, get_args

import pandas as pd

from embedlab.corpora import PROJECTION_FILE, reference_sentences
from embedlab.data.pairfiles import PAIR_COLUMNS, _looks_like_sts, decode_text, parse_pairs_text
from embedlab.data.paths import read_data_file
from embedlab.errors import EmbedLabError

Method = Literal["cosine", "cosent", "mnrl", "pitfall-random-labels", "simcse", "tsdae"]
METHODS: tuple[str, ...] = get_args(Method)
SCORED_METHODS = ("cosine", "cosent")
PAIR_METHODS = ("mnrl", "pitfall-random-labels")
SENTENCE_METHODS = ("simcse", "tsdae")
METHOD_LABELS = {
    "cosine": "supervised: CosineSimilarityLoss on scored pairs",
    "cosent": "supervised: CoSENTLoss on scored pairs",
    "mnrl": "positive pairs (+ optional hard negatives): MultipleNegativesRankingLoss (in-batch negatives)",
    "pitfall-random-labels": "PITFALL: positive pairs with random labels 0.85-0.95 + CosineSimilarityLoss",
    "simcse": "unsupervised SimCSE: MultipleNegativesRankingLoss on (s, s), dropout is the noise",
    "tsdae": "unsupervised TSDAE: DenoisingAutoEncoderLoss, tied decoder, 60% word deletion",
}
LOSS_NAMES = {
    "cosine": "CosineSimilarityLoss",
    "cosent": "CoSENTLoss",
    "mnrl": "MultipleNegativesRankingLoss",
    "pitfall-random-labels": "CosineSimilarityLoss",
    "simcse": "MultipleNegativesRankingLoss",
    "tsdae": "DenoisingAutoEncoderLoss",
}
PITFALL_LABEL_RANGE = (0.85, 0.95)
POSITIVE_THRESHOLD = 0.8  # scored pairs at or above 4 of 5 (0.8 of 1) are the positives of mnrl / the pitfall
TSDAE_DELETION = 0.6
MIN_EXAMPLES = 2
SENTENCE_COLUMNS = ("sentence", "text")
NEGATIVE_COLUMN = "negative"  # mnrl's optional hard negative per pair

# The bundled paraphrase groups of assets/projection_sentences.csv: consecutive rows of one topic that say the
# same thing, named by their first sentence and size (tests check that each group is where it says it is).
PARAPHRASE_GROUPS: tuple[tuple[str, int], ...] = (
    ("The home team won the match in the final minute.", 4),
    ("The sprinter set a new world record in the hundred meters.", 3),
    ("The champion defended her title for the fourth year in a row.", 3),
    ("Whisk the eggs and milk together until smooth.", 3),
    ("Knead the dough for ten minutes until it becomes elastic.", 3),
    ("Preheat the oven before you put the bread in.", 3),
    ("Interest rates were increased by the central bank.", 3),
    ("Stock prices plunged after the earnings report.", 3),
    ("The doctor prescribed antibiotics for the infection.", 3),
    ("Symptoms include fever, cough, and fatigue.", 3),
    ("A healthy diet reduces the risk of heart disease.", 3),
    ("The app crashed when I opened the camera.", 3),
    ("Restart the router to restore the connection.", 3),
    ("The update will install automatically tonight.", 3),
    ("Tomorrow will be sunny and warm.", 4),
    ("Temperatures will drop below freezing tonight.", 3),
    ("The band released a new album on Friday.", 4),
    ("The concert sold out in minutes.", 3),
    ("Our flight was delayed by three hours.", 4),
    ("Book your tickets early for cheaper fares.", 3),
)


@dataclass(frozen=True)
class TrainingData:
    """Rows ready for a loss: ``columns`` in the order the loss reads them, plus ``score`` where it has one.

    Attributes:
        method: the training method the rows are for.
        columns: column name -> values (texts, or float scores in 0-1 for ``score``), all of one length.
        source: where the rows came from and how many there are, in words.
        n_sentences: distinct sentences in the rows (before TSDAE's noise).
        retrieval: a retrieval set (``embedlab.retrieval.data.RetrievalData``) of queries the rows never saw, when
            the rows were mined from one: the run measures nDCG@10, MRR@10 and Recall@10 on it before and after.
        matryoshka: None to train the method's loss as it is; else the widths to train it at too, wrapped in
            ``MatryoshkaLoss`` (``embedlab.training.matryoshka``: the full width always, ``()`` for "auto"); the
            run then measures the STS Spearman of the first k dimensions at each width.
    """

    method: str
    columns: dict[str, list] = field(compare=False)
    source: str
    n_sentences: int
    retrieval: object = field(default=None, compare=False)
    matryoshka: tuple[int, ...] | None = None

    @property
    def n_examples(self) -> int:
        return len(next(iter(self.columns.values())))

    @property
    def method_label(self) -> str:
        """The method as runs and lists show it: "cosent", or "cosent+matryoshka" when wrapped."""
        return self.method if self.matryoshka is None else f"{self.method}+matryoshka"

    @property
    def loss_name(self) -> str:
        """The loss's class name: "CoSENTLoss", or "MatryoshkaLoss(CoSENTLoss)" when wrapped."""
        name = LOSS_NAMES[self.method]
        return name if self.matryoshka is None else f"MatryoshkaLoss({name})"

    def dataset(self):
        """The rows as a ``datasets.Dataset`` (column order kept)."""
        from datasets import Dataset

        return Dataset.from_dict(self.columns)


def check_method(method: str) -> Method:
    if method not in METHODS:
        raise EmbedLabError(f"Unknown method {method!r}: choose one of {', '.join(METHODS)}.")
    return method  # type: ignore[return-value]


def _clean(values) -> list[str]:
    """Cells as stripped strings; empty, None and NaN become ""."""
    return [
        "" if value is None or (isinstance(value, float) and math.isnan(value)) else str(value).strip()
        for value in values
    ]


def from_scored(sentence1, sentence2, scores, method: str, source: str) -> TrainingData:
    """Scored pairs (0-5 or 0-1) for cosine/cosent, scores normalised to 0-1."""
    from embedlab.tasks.sts import scored_pairs_from_frame

    frame = pd.DataFrame({"sentence1": list(sentence1), "sentence2": list(sentence2), "score": list(scores)})
    pairs = scored_pairs_from_frame(frame, source, min_pairs=MIN_EXAMPLES, purpose="training")
    scale = pairs.scale
    columns = {
        "sentence1": list(pairs.sentence1),
        "sentence2": list(pairs.sentence2),
        "score": [float(score) / scale for score in pairs.gold],
    }
    return TrainingData(method, columns, f"{source}: {pairs.n_pairs} scored pairs", len(pairs.unique_sentences()))


def from_pairs(sentence1, sentence2, method: str, source: str, seed: int = 0, negatives=None) -> TrainingData:
    """Positive pairs for mnrl, or for the random-label pitfall (labels drawn in 0.85-0.95 from ``seed``).

    ``negatives``: one hard negative per pair, mnrl only (the dataset's third column, ``negative``).
    """
    firsts, seconds = _clean(sentence1), _clean(sentence2)
    for row, (first, second) in enumerate(zip(firsts, seconds, strict=True), start=1):
        if not first or not second:
            raise EmbedLabError(f"{source}, pair {row}: a sentence is empty: every pair needs two sentences.")
    if len(firsts) < MIN_EXAMPLES:
        raise EmbedLabError(f"{source} has {len(firsts)} pair(s): training needs at least {MIN_EXAMPLES}.")
    columns: dict[str, list] = {"anchor": firsts, "positive": seconds}
    if negatives is not None and method == "mnrl":
        hard = _clean(negatives)
        empty = [row for row, negative in enumerate(hard, start=1) if not negative]
        if empty:
            raise EmbedLabError(
                f"{source}, pair {empty[0]}: the negative is empty: fill every negative or drop the column."
            )
        columns["negative"] = hard
        n_sentences = len(set(firsts) | set(seconds) | set(hard))
        return TrainingData(method, columns, f"{source}: {len(firsts)} triplets with hard negatives", n_sentences)
    if method == "pitfall-random-labels":
        rng = random.Random(seed)
        low, high = PITFALL_LABEL_RANGE
        columns = {"sentence1": firsts, "sentence2": seconds, "score": [rng.uniform(low, high) for _ in firsts]}
    n_sentences = len(set(firsts) | set(seconds))
    return TrainingData(method, columns, f"{source}: {len(firsts)} positive pairs", n_sentences)


def delete_words(text: str, rng: random.Random, ratio: float = TSDAE_DELETION) -> str:
    """TSDAE's noise: drop each whitespace-separated word with probability ``ratio``, keeping at least one."""
    words = text.split()
    if not words:
        return text
    kept = [word for word in words if rng.random() >= ratio]
    return " ".join(kept) if kept else rng.choice(words)


def from_sentences(sentences, method: str, source: str, seed: int = 0) -> TrainingData:
    """Plain sentences for simcse ((s, s) pairs) or tsdae ((damaged, original) pairs), de-duplicated in order."""
    unique = list(dict.fromkeys(text for text in _clean(sentences) if text))
    if len(unique) < MIN_EXAMPLES:
        raise EmbedLabError(
            f"{source} has {len(unique)} distinct sentence(s): {method} needs at least {MIN_EXAMPLES} "
            "(one sentence per line)."
        )
    if method == "simcse":
        columns: dict[str, list] = {"anchor": unique, "positive": list(unique)}
    else:
        rng = random.Random(seed)
        columns = {"damaged": [delete_words(text, rng) for text in unique], "original": unique}
    return TrainingData(method, columns, f"{source}: {len(unique)} sentences", len(unique))


def from_frame(frame: pd.DataFrame, method: str, source: str, seed: int = 0) -> TrainingData:
    """Rows of a table (an uploaded file, the Compare or Negative tests table) for ``method``.

    Pair methods need sentence1 and sentence2 (+ score for cosine/cosent; given a score, mnrl and the pitfall
    keep the pairs scoring at least 4 of 5 as positives; mnrl reads an optional ``negative`` column); sentence
    methods take a ``sentence`` or ``text`` column, or every distinct sentence of sentence1 and sentence2.

    Raises:
        EmbedLabError: a column the method needs is missing, too few rows, bad scores.
    """
    method = check_method(method)
    columns = {str(column).strip().lower(): column for column in frame.columns}
    if method in SENTENCE_METHODS:
        for name in SENTENCE_COLUMNS:
            if name in columns:
                return from_sentences(frame[columns[name]], method, source, seed)
        if all(name in columns for name in PAIR_COLUMNS):
            both = [*frame[columns["sentence1"]], *frame[columns["sentence2"]]]
            return from_sentences(both, method, source, seed)
        raise EmbedLabError(
            f"{source} has no sentence, text or sentence1/sentence2 column: {method} needs plain sentences "
            "(a text file with one sentence per line, or a table with a sentence column)."
        )
    needed = ("sentence1", "sentence2", "score") if method in SCORED_METHODS else PAIR_COLUMNS
    missing = [name for name in needed if name not in columns]
    if missing:
        hint = (
            "scored pairs (sentence1, sentence2, score 0-5 or 0-1)"
            if method in SCORED_METHODS
            else "positive pairs (sentence1, sentence2)"
        )
        raise EmbedLabError(
            f"{source} has no {', '.join(missing)} column: {method} needs {hint}; "
            "for plain sentences choose simcse or tsdae."
        )
    if method in SCORED_METHODS:
        return from_scored(
            frame[columns["sentence1"]], frame[columns["sentence2"]], frame[columns["score"]], method, source
        )
    if "score" in columns:  # scored pairs given for a positive-pair method: the high-scoring ones are the positives
        scored = from_scored(
            frame[columns["sentence1"]], frame[columns["sentence2"]], frame[columns["score"]], method, source
        )
        keep = [i for i, score in enumerate(scored.columns["score"]) if score >= POSITIVE_THRESHOLD]
        firsts = [scored.columns["sentence1"][i] for i in keep]
        seconds = [scored.columns["sentence2"][i] for i in keep]
        cut = f"{source} (pairs scoring at least {POSITIVE_THRESHOLD * 5:g} of 5 kept as positives)"
        return from_pairs(firsts, seconds, method, cut, seed)
    negatives = frame[columns[NEGATIVE_COLUMN]] if NEGATIVE_COLUMN in columns else None
    return from_pairs(frame[columns["sentence1"]], frame[columns["sentence2"]], method, source, seed, negatives)


def parse_training_text(text: str, method: str, name: str = "file", seed: int = 0) -> TrainingData:
    """Training rows from file text: CSV/TSV with a header or STS format (``embedlab.data.pairfiles``), or, for
    a ``.txt`` file (or any file whose first line is no header), plain text with one sentence per line.

    Raises:
        EmbedLabError: unknown method, empty file, a file that does not fit the method.
    """
    method = check_method(method)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        raise EmbedLabError(f"{name} is empty: give one sentence per line, or a CSV/TSV with a header.")
    suffix = Path(name).suffix.lower()
    is_table = suffix in (".csv", ".tsv") or _looks_like_sts(lines[0]) or _has_known_header(lines[0])
    if not is_table:
        if method not in SENTENCE_METHODS:
            needs = "sentence1, sentence2, score" if method in SCORED_METHODS else "sentence1, sentence2"
            raise EmbedLabError(
                f"{name} is plain text (one sentence per line), but {method} needs pairs: give a CSV/TSV with "
                f"a {needs} header, or choose simcse or tsdae for plain sentences."
            )
        return from_sentences(lines, method, name, seed)
    frame = parse_pairs_text(text, (), name)
    return from_frame(frame, method, name, seed)


def _has_known_header(first_line: str) -> bool:
    delimiter = "\t" if "\t" in first_line else ","
    fields = {field.strip().strip('"').lower() for field in first_line.split(delimiter)}
    return bool(fields & {"sentence1", "sentence2", "score", "label", *SENTENCE_COLUMNS}) and len(fields) > 1


def read_training_file(path: str | Path, method: str, seed: int = 0) -> TrainingData:
    """``parse_training_text`` on a file from disk."""
    check_method(method)
    data, name = read_data_file(path)  # only .csv, .tsv and .txt files are opened
    return parse_training_text(decode_text(data, name), method, name, seed)


def bundled_sentences() -> list[str]:
    """The project's own sentences: the reference set and the projection set (~700, small for training)."""
    table = pd.read_csv(PROJECTION_FILE, dtype=str)
    return list(dict.fromkeys([*reference_sentences(), *table["sentence"].str.strip()]))


def paraphrase_groups() -> list[list[str]]:
    """The bundled paraphrase groups (``PARAPHRASE_GROUPS``) as lists of sentences.

    Raises:
        EmbedLabError: a group's first sentence is missing from the bundled file (a packaging error).
    """
    sentences = list(pd.read_csv(PROJECTION_FILE, dtype=str)["sentence"].str.strip())
    groups = []
    for first, size in PARAPHRASE_GROUPS:
        if first not in sentences:
            raise EmbedLabError(f"The bundled paraphrase group starting {first!r} is missing from {PROJECTION_FILE}.")
        start = sentences.index(first)
        groups.append(sentences[start : start + size])
    return groups


def bundled_paraphrase_pairs() -> tuple[list[str], list[str]]:
    """Every pair within each bundled paraphrase group: (sentence1 list, sentence2 list), ~70 pairs."""
    firsts, seconds = [], []
    for group in paraphrase_groups():
        for first, second in itertools.combinations(group, 2):
            firsts.append(first)
            seconds.append(second)
    return firsts, seconds


def bundled_data(method: str, seed: int = 0) -> TrainingData:
    """Something trainable offline for ``method``: bundled sentences, or pairs from the paraphrase groups.

    Raises:
        EmbedLabError: cosine/cosent need scored pairs, which the project does not bundle for training.
    """
    method = check_method(method)
    if method in SENTENCE_METHODS:
        return from_sentences(bundled_sentences(), method, "bundled sentences (small: a demo, not a corpus)", seed)
    if method in PAIR_METHODS:
        firsts, seconds = bundled_paraphrase_pairs()
        return from_pairs(firsts, seconds, method, "bundled paraphrase groups (small: a demo)", seed)
    raise EmbedLabError(
        f"{method} needs scored pairs: upload them or give the STS train split (sts-train.csv); the bundled data "
        "holds only positive pairs (mnrl) and plain sentences (simcse, tsdae)."
    )
