"""Inside the hidden states: token-level views of one forward pass, for the few sentences a page shows.

``model(**inputs, output_hidden_states=True)`` returns ``last_hidden_state`` (1, T, H) and ``hidden_states``, a
tuple of L + 1 tensors of (1, T, H) for one sentence: index 0 is the embedding layer, 1..L the transformer layers.
This module keeps those (L + 1, T, H) states per sentence, only for at most ``MAX_TOKEN_TEXTS`` sentences (never
for corpora), and derives from them:

- the tokenization as the model sees it (word pieces, special tokens, ids, character offsets);
- token x layer matrices (vector norm, cosine of each token to the sentence's mean vector, and which tokens
  max pooling takes its dimensions from);
- the token-to-token cosine matrix of two sentences at a layer, and the sentence cosines for cls/mean/max at that
  layer (equal to ``Encoder.embed`` with ``EmbedSpec(model, pooling, str(layer))``);
- the word pieces of a word in a sentence (fast tokenizer offsets) and its vector (pieces averaged);
- word in context: per layer, the cosine of a word's vectors between same-sense and different-sense sentences,
  next to the cosine between the word and unrelated words at the same layer.

Example:
    >>> states = token_states(load_model("all-MiniLM-L6-v2"), ["This is a wooden stick."])[0]
    >>> states.tokens, states.hidden.shape   # (n_hidden_states, tokens, hidden)
    (('[CLS]', 'this', 'is', 'a', 'wooden', 'stick', '.', '[SEP]'), (7, 8, 384))
"""

from __future__ import annotations

import csv
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import combinations
from typing import Literal, get_args

import numpy as np
import numpy.typing as npt
import pandas as pd
import torch

from embedlab.corpora import ASSETS
from embedlab.embedding.forward import forward_batches
from embedlab.errors import EmbedLabError
from embedlab.limits import MAX_TOKEN_TEXTS
from embedlab.models.loading import LoadedModel

WORD_IN_CONTEXT_FILE = ASSETS / "word_in_context.csv"  # word, sense, sentence: written for the project
SENTENCE_POOLINGS: tuple[str, ...] = ("cls", "mean", "max")
Measure = Literal["norm", "cosine_to_mean", "max_share"]
MEASURES: tuple[str, ...] = get_args(Measure)
MEASURE_LABELS = {
    "norm": "vector norm",
    "cosine_to_mean": "cosine to the sentence's mean vector",
    "max_share": "share of dimensions max pooling takes from the token",
}


@dataclass(frozen=True, eq=False)
class TokenStates:
    """Every layer's vector of every real token of one sentence.

    Attributes:
        text: the sentence as given.
        tokens: T token strings after truncation, special tokens included.
        ids: T vocabulary ids.
        special: T flags, True for the model's special tokens ([CLS], [SEP], <s>, ...).
        offsets: T (start, end) character spans in ``text`` ((0, 0) for special tokens), or None when the
            tokenizer is not a fast one (then words cannot be located).
        hidden: (n_hidden_states, T, hidden) float32; row 0 is the embedding layer.
        n_tokens_full: tokens of the whole text before truncation, special tokens included.
    """

    text: str
    tokens: tuple[str, ...]
    ids: tuple[int, ...]
    special: tuple[bool, ...]
    offsets: tuple[tuple[int, int], ...] | None
    hidden: npt.NDArray[np.float32]
    n_tokens_full: int

    @property
    def truncated(self) -> bool:
        return self.n_tokens_full > len(self.tokens)

    @property
    def n_hidden_states(self) -> int:
        return int(self.hidden.shape[0])


def check_texts(
    texts: Sequence[str], limit: int, view: str = "token-level views", keeps: str = "every layer of every token"
) -> list[str]:
    """The texts as strings, at least one, none empty, at most ``limit`` (a view that keeps ``keeps`` per text).

    Raises:
        EmbedLabError: no text, an empty one, or too many, in words that name the view.
    """
    cleaned = [str(text) for text in texts]
    if not cleaned or any(not text.strip() for text in cleaned):
        raise EmbedLabError(f"Type a sentence: {view} need at least one non-empty sentence.")
    if len(cleaned) > limit:
        raise EmbedLabError(
            f"{len(cleaned)} sentences: {view} keep {keeps}, so they take at most {limit} sentences at once. "
            "Use fewer sentences."
        )
    return cleaned


def token_states(model: LoadedModel, texts: Sequence[str], limit: int = MAX_TOKEN_TEXTS) -> list[TokenStates]:
    """Run ``texts`` through the model once and keep each one's token states (padding left out).

    Returns:
        One TokenStates per text, in order.

    Raises:
        EmbedLabError: no text, an empty text, or more than ``limit`` texts.
    """
    texts = check_texts(texts, limit)
    tokenizer = model.tokenizer
    max_length = model.facts.max_seq_length
    results: list[TokenStates | None] = [None] * len(texts)
    for batch in forward_batches(model, texts):
        stacked = torch.stack(batch.hidden_states)  # (n_hidden_states, batch, seq, hidden)
        for row, i in enumerate(batch.index):
            real = batch.attention_mask[row].bool()  # (seq,)
            ids = batch.features["input_ids"][row][real].tolist()
            hidden = stacked[:, row][:, real].float().numpy().copy()  # (n_hidden_states, T, hidden)
            results[i] = _with_offsets(tokenizer, texts[i], ids, hidden, batch.tokens[row], max_length)
    return results  # type: ignore[return-value]


def _with_offsets(tokenizer, text: str, ids: list[int], hidden, tokens, max_length: int) -> TokenStates:
    special_ids = set(tokenizer.all_special_ids)
    offsets = None
    if getattr(tokenizer, "is_fast", False):
        encoded = tokenizer(text, truncation=True, max_length=max_length, return_offsets_mapping=True)
        if list(encoded["input_ids"]) == ids:  # the same tokenization as the forward pass, so spans line up
            offsets = tuple((int(start), int(end)) for start, end in encoded["offset_mapping"])
    n_full = len(tokenizer(text, truncation=False, verbose=False)["input_ids"])
    return TokenStates(
        text=text,
        tokens=tuple(tokens),
        ids=tuple(ids),
        special=tuple(token_id in special_ids for token_id in ids),
        offsets=offsets,
        hidden=hidden,
        n_tokens_full=max(n_full, len(ids)),
    )


# -------------------------------------------------------------------------------------------- what the model sees


def tokenization_table(states: TokenStates) -> pd.DataFrame:
    """One row per token: position, token, id, special, the characters of the text it covers."""
    covers = [
        "" if states.offsets is None or is_special else states.text[start:end]
        for is_special, (start, end) in zip(
            states.special, states.offsets or [(0, 0)] * len(states.tokens), strict=True
        )
    ]
    return pd.DataFrame(
        {
            "position": range(len(states.tokens)),
            "token": states.tokens,
            "id": states.ids,
            "special": states.special,
            "covers": covers,
        }
    )


def output_shapes(states: TokenStates) -> list[str]:
    """What ``model(**tokenizer(text, return_tensors="pt"), output_hidden_states=True)`` returns, in words."""
    n_states, n_tokens, hidden = states.hidden.shape
    last = n_states - 1
    lines = [
        f"input_ids: (1, {n_tokens}): {n_tokens} tokens, special tokens included",
        f"last_hidden_state: (1, {n_tokens}, {hidden}) = hidden_states[{last}] = hidden_states[-1]",
        f"hidden_states: a tuple of {n_states} tensors of (1, {n_tokens}, {hidden}): index 0 is the embedding "
        f"layer (token + position embeddings, before any attention), 1..{last} the transformer layers",
    ]
    if states.truncated:
        lines.append(
            f"the text has {states.n_tokens_full} tokens: it was cut to the model's maximum of {n_tokens}, "
            "so the last words are not in any vector"
        )
    return lines


def _unit(vectors: npt.NDArray[np.floating]) -> npt.NDArray[np.float64]:
    vectors = np.asarray(vectors, dtype=np.float64)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)


def sentence_vectors(states: TokenStates, layer: int) -> dict[str, npt.NDArray[np.float32]]:
    """CLS, mean and max of one layer's token vectors: {pooling: (hidden,)} (there is no padding to mask here)."""
    hidden = states.hidden[_layer(states, layer)]  # (T, hidden)
    return {"cls": hidden[0], "mean": hidden.mean(axis=0), "max": hidden.max(axis=0)}


def _layer(states: TokenStates, layer: int) -> int:
    last = states.n_hidden_states - 1
    resolved = layer + states.n_hidden_states if layer < 0 else layer
    if not 0 <= resolved <= last:
        raise EmbedLabError(f"Layer {layer} does not exist: this model has layers 0 (embeddings) to {last}.")
    return resolved


def token_layer_matrix(states: TokenStates, measure: str = "norm") -> npt.NDArray[np.float64]:
    """(n_hidden_states, T) one number per layer and token.

    Measures:
        ``norm``: the token vector's L2 norm;
        ``cosine_to_mean``: cosine of the token vector with the mean of the sentence's token vectors (what mean
        pooling returns) at the same layer;
        ``max_share``: the share of the hidden dimensions whose maximum over tokens (what max pooling returns)
        comes from this token; each layer's row sums to 1.
    """
    if measure not in MEASURES:
        raise EmbedLabError(f"Unknown measure {measure!r}: choose one of {', '.join(MEASURES)}.")
    hidden = states.hidden.astype(np.float64)  # (n_hidden_states, T, hidden)
    if measure == "norm":
        return np.linalg.norm(hidden, axis=-1)
    if measure == "cosine_to_mean":
        mean = hidden.mean(axis=1, keepdims=True)  # (n_hidden_states, 1, hidden)
        return (_unit(hidden) * _unit(mean)).sum(axis=-1)
    winners = hidden.argmax(axis=1)  # (n_hidden_states, hidden): which token holds each dimension's max
    n_tokens = hidden.shape[1]
    counts = np.stack([np.bincount(row, minlength=n_tokens) for row in winners])
    return counts / hidden.shape[2]


def token_cosines(first: TokenStates, second: TokenStates, layer: int) -> npt.NDArray[np.float64]:
    """(T1, T2) cosine of every token of ``first`` with every token of ``second`` at ``layer``."""
    a = _unit(first.hidden[_layer(first, layer)])
    b = _unit(second.hidden[_layer(second, layer)])
    return a @ b.T


def sentence_cosines(first: TokenStates, second: TokenStates, layer: int) -> dict[str, float]:
    """{pooling: cosine} of the two sentences' cls / mean / max vectors at ``layer``."""
    a, b = sentence_vectors(first, layer), sentence_vectors(second, layer)
    return {name: float(_unit(a[name]) @ _unit(b[name])) for name in SENTENCE_POOLINGS}


# -------------------------------------------------------------------------------------------- words in sentences


@dataclass(frozen=True)
class WordSpan:
    """Where a word sits in one tokenized sentence.

    Attributes:
        positions: token positions of the word's pieces (one or more).
        pieces: the pieces themselves, e.g. ("bass", "##oon").
        note: what the reader should know ("averaged 2 word pieces", "occurs twice: the first is used"), or "".
    """

    positions: tuple[int, ...]
    pieces: tuple[str, ...]
    note: str = ""


def word_pattern(word: str) -> re.Pattern[str]:
    """The word as a whole word, case-insensitive (``bank`` matches "Bank" but not "banks" or "embankment")."""
    return re.compile(rf"(?<!\w){re.escape(word.strip())}(?!\w)", re.IGNORECASE)


def word_span(states: TokenStates, word: str) -> WordSpan:
    """The word pieces of ``word``'s first whole-word occurrence in the sentence.

    Raises:
        EmbedLabError: empty word; the word is not in the sentence; it was cut off by truncation; the tokenizer
            gives no character offsets (not a fast tokenizer).
    """
    if not word.strip():
        raise EmbedLabError("Type a word to look for.")
    matches = list(word_pattern(word).finditer(states.text))
    if not matches:
        raise EmbedLabError(f"{word.strip()!r} is not in {states.text!r} as a whole word: pick a sentence with it.")
    if states.offsets is None:
        raise EmbedLabError(
            "This model's tokenizer gives no character offsets (it is not a 'fast' tokenizer), so words cannot be "
            "located in its tokens: use a model with a fast tokenizer."
        )
    start, end = matches[0].span()
    positions = tuple(
        position
        for position, ((piece_start, piece_end), is_special) in enumerate(
            zip(states.offsets, states.special, strict=True)
        )
        if not is_special and piece_start < end and piece_end > start
    )
    covered_to = max((states.offsets[p][1] for p in positions), default=start)
    if not positions or (states.truncated and covered_to < end):
        raise EmbedLabError(
            f"{word.strip()!r} is cut off by truncation in {states.text[:60]!r}…: the model reads only its first "
            f"{len(states.tokens)} tokens. Move the word earlier or shorten the sentence."
        )
    notes = []
    if len(positions) > 1:
        notes.append(f"{len(positions)} word pieces averaged")
    if len(matches) > 1:
        notes.append(f"occurs {len(matches)} times: the first is used")
    return WordSpan(positions, tuple(states.tokens[p] for p in positions), "; ".join(notes))


def _other_positions(states: TokenStates, span: WordSpan) -> list[int]:
    """Positions of the sentence's real tokens that are not the word's pieces."""
    return [p for p in range(len(states.tokens)) if not states.special[p] and p not in span.positions]


def word_vectors(states: TokenStates, span: WordSpan) -> npt.NDArray[np.float32]:
    """(n_hidden_states, hidden): the mean of the word's pieces at every layer."""
    return states.hidden[:, list(span.positions)].mean(axis=1)


# -------------------------------------------------------------------------------------------- word in context


@lru_cache(maxsize=1)
def word_in_context_examples() -> pd.DataFrame:
    """The bundled examples: columns word, sense, sentence (several senses per word, several sentences per sense)."""
    with WORD_IN_CONTEXT_FILE.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return pd.DataFrame(rows, columns=["word", "sense", "sentence"])


@dataclass(frozen=True)
class WordInContext:
    """Per-layer cosines of one word across contexts.

    Attributes:
        word: the word looked for.
        table: one row per layer: layer, same_sense, different_sense, unrelated (mean cosines), gap
            (same_sense - different_sense: the contextual separation).
        used: the sentences used: sense, sentence, pieces (e.g. "bass"), note.
        skipped: sentences left out and why: sense, sentence, reason.
    """

    word: str
    table: pd.DataFrame
    used: pd.DataFrame
    skipped: pd.DataFrame


def word_in_context(model: LoadedModel, word: str, contexts: pd.DataFrame) -> WordInContext:
    """Cosine of ``word``'s vectors between contexts, at every layer.

    For each layer: the mean cosine of the word's vector over pairs of sentences with the same sense, over pairs
    with different senses, and, as the floor, over the word against every other (non-special) token of the other
    sentences: unrelated words at the same layer.

    Args:
        contexts: columns sense and sentence (at most ``MAX_TOKEN_TEXTS`` rows).

    Raises:
        EmbedLabError: fewer than two usable sentences, or no pair with the same sense and none with different
            senses.
    """
    if not word.strip():
        raise EmbedLabError("Type the word to follow across sentences.")
    rows = [
        (str(sense).strip(), str(sentence).strip())
        for sense, sentence in zip(contexts["sense"], contexts["sentence"], strict=True)
        if str(sentence).strip()
    ]
    all_states = token_states(model, [sentence for _, sentence in rows]) if rows else []
    used, skipped, found = [], [], []
    for (sense, sentence), states in zip(rows, all_states, strict=True):
        try:
            span = word_span(states, word)
        except EmbedLabError as error:
            skipped.append({"sense": sense, "sentence": sentence, "reason": str(error)})
            continue
        used.append({"sense": sense, "sentence": sentence, "pieces": " + ".join(span.pieces), "note": span.note})
        found.append((sense, states, span))
    senses = [sense for sense, _, _ in found]
    same = [(i, j) for i, j in combinations(range(len(found)), 2) if senses[i] == senses[j]]
    different = [(i, j) for i, j in combinations(range(len(found)), 2) if senses[i] != senses[j]]
    if not same or not different:
        raise EmbedLabError(
            f"{word.strip()!r} was found in {len(found)} sentence(s) with {len(set(senses))} sense(s): give at least "
            "two sentences of one sense and one of another."
        )
    vectors = np.stack([_unit(word_vectors(states, span)) for _, states, span in found])  # (n, layers, hidden)
    others = [_unit(states.hidden[:, _other_positions(states, span)]) for _, states, span in found]

    def mean_cosine(pairs: list[tuple[int, int]]) -> npt.NDArray[np.float64]:
        return np.mean([(vectors[i] * vectors[j]).sum(axis=-1) for i, j in pairs], axis=0)

    unrelated = np.mean(
        np.concatenate(
            [
                np.einsum("lh,lth->lt", vectors[i], others[j])
                for i in range(len(found))
                for j in range(len(found))
                if i != j and others[j].shape[1]
            ],
            axis=1,
        ),
        axis=1,
    )
    same_cosine, different_cosine = mean_cosine(same), mean_cosine(different)
    table = pd.DataFrame(
        {
            "layer": range(vectors.shape[1]),
            "same_sense": same_cosine,
            "different_sense": different_cosine,
            "unrelated": unrelated,
            "gap": same_cosine - different_cosine,
        }
    )
    return WordInContext(
        word.strip(),
        table,
        pd.DataFrame(used, columns=["sense", "sentence", "pieces", "note"]),
        pd.DataFrame(skipped, columns=["sense", "sentence", "reason"]),
    )
