"""Cross-encoders: a classifier head on [CLS] of the pair, one score per pair (``models.cross.CrossScorer``).

No sentence vector: every pair is a forward pass, its score is the model's own (a sigmoid, 0..1, for one label),
never a cosine, read against its own random-pair baseline. A pooling, layers, post-processing, a grid, a script
or the readability of single sentences cannot apply, and are refused with the one message of ``errors.refusal``.
This module holds everything particular to the kind: the refusals, the per-pair notes (texts its tokenizer cannot
read) and when its percentiles are undefined.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import ClassVar

import numpy as np
import numpy.typing as npt

from embedlab.embedding.baseline import Baseline, random_pair_indices
from embedlab.embedding.encoder import TokenCounts
from embedlab.embedding.precision import NOISE_STD, spread
from embedlab.embedding.readability import unreadable_note
from embedlab.embedding.specs import EmbedSpec
from embedlab.models.cross import (
    CROSS_BASELINE_PAIRS,
    CROSS_WHAT_IT_IS,
    CrossScorer,
    JointInput,
    is_cross_encoder_folder,
)
from embedlab.models.identity import ModelId
from embedlab.scorers.base import Progress, Scorer, corpus_or_reference
from embedlab.scorers.registry import register

CROSS_ENCODER = "cross-encoder"  # the kind's name: in labels, the JSON of the command line, the STS row
CROSS_CHUNK = 128  # pairs scored between two progress reports (only when progress is asked for)


@functools.lru_cache(maxsize=256)
def _is_cross_encoder(folder: str, revision: str) -> bool:
    """Whether a folder (at one revision: a rewritten folder is looked at again) holds a cross-encoder."""
    return is_cross_encoder_folder(folder)


class CrossEncoderScorer(Scorer):
    """A cross-encoder folder: its own score of each pair, cached by the shared ``CrossScorer``."""

    kind: ClassVar[str] = CROSS_ENCODER
    capabilities: ClassVar[frozenset[str]] = frozenset({"training", "joint_tokens"})
    score_name: ClassVar[str] = "score"
    engine_kind: ClassVar[str] = CROSS_ENCODER
    what_it_is: ClassVar[str] = CROSS_WHAT_IT_IS
    instead: ClassVar[str] = "Leave them out to use its own score."
    baseline_pairs: ClassVar[int] = CROSS_BASELINE_PAIRS

    @classmethod
    def lacks(cls) -> str:
        return "has no sentence vector"

    @classmethod
    def recognises(cls, model_id: ModelId, spec: EmbedSpec) -> bool:
        return model_id.revision != "" and _is_cross_encoder(model_id.key, model_id.revision)

    @classmethod
    def load_engine(cls, model_id: ModelId, progress=None) -> CrossScorer:
        return CrossScorer(model_id.key)

    @property
    def cross(self) -> CrossScorer:
        return self.engine

    @property
    def ref(self) -> str:
        return self.engine.ref  # as the engine was given it (the folder's key, unless a caller named it)

    @property
    def label(self) -> str:
        return f"{self.ref} · cross-encoder score"

    def score(self, pairs: Sequence[tuple[str, str]], progress: Progress | None = None) -> npt.NDArray[np.float64]:
        """Its own score of each pair (one pass per pair not cached), in chunks of ``CROSS_CHUNK`` when
        ``progress(done, total)`` is given."""
        pairs = list(pairs)
        if progress is None:
            return self.engine.score(pairs).astype(np.float64)
        scores = np.zeros(len(pairs), dtype=np.float64)
        for start in range(0, len(pairs), CROSS_CHUNK):
            scores[start : start + CROSS_CHUNK] = self.engine.score(pairs[start : start + CROSS_CHUNK])
            if progress is not None:
                progress(min(start + CROSS_CHUNK, len(pairs)), len(pairs))
        return scores

    def joint_input(self, pair: tuple[str, str]) -> JointInput:
        return self.engine.joint_input(pair)

    def random_pair_baseline(self, texts: Sequence[str] | None = None) -> Baseline:
        return cross_random_pair_baseline(self.engine, corpus_or_reference(texts))

    def notes(self, pairs: Sequence[tuple[str, str]]) -> list[str]:
        return cross_notes(self.engine, pairs)

    def undefined(self, baseline: Baseline) -> str | None:
        return cross_undefined(baseline)

    @property
    def work_done(self) -> int:
        return self.engine.pairs_scored

    def report(self) -> dict:
        return {"kind": CROSS_ENCODER, "pairs_scored": self.engine.pairs_scored}

    def headline(self, baseline: Baseline) -> str:
        return (
            f"{self.engine.ref} · cross-encoder score, not a cosine  (random-pair baseline: mean {baseline.mean:.3f}, "
            f"p95 {baseline.p95:.3f}; {self.engine.pairs_scored} pairs scored, one forward pass each)"
        )


def cross_notes(scorer: CrossScorer, pairs: Sequence[tuple[str, str]]) -> list[str]:
    """Per pair, the note for a pair the cross-encoder cannot read (mostly [UNK] under its tokenizer, as
    ``readability.unreadable_note`` says it for a bi-encoder), "" elsewhere. Tokenizes only: no model pass."""
    tokenizer = scorer.model.tokenizer
    notes = []
    for pair in pairs:
        counts = []
        for text in pair:
            ids = tokenizer(text, add_special_tokens=False)["input_ids"]
            unknown = sum(token == tokenizer.unk_token_id for token in ids)
            counts.append(TokenCounts(len(ids), unknown, len(ids), False))
        notes.append(unreadable_note(counts))
    return notes


def cross_undefined(baseline: Baseline) -> str | None:
    """Why the cross-encoder's percentiles are undefined (every random pair scores the same to ``NOISE_STD``), or
    None when its random-pair scores vary enough to calibrate a score against."""
    if baseline.n_pairs == 0 or not len(baseline.cosines):
        return None
    if spread(baseline.cosines) >= NOISE_STD:
        return None
    return (
        f"undefined: every random pair scores {baseline.mean:.5f} (spread below {NOISE_STD:.0e}), so this "
        "cross-encoder gives every pair about the same score and a percentile ranks nothing (an untrained head?)"
    )


def refuse_bi_encoder_options(ref: str, asked: Sequence[str]) -> None:
    """One message for options that need sentence vectors or hidden states, asked of a cross-encoder.

    Raises:
        EmbedLabError: ``asked`` is not empty.
    """
    CrossEncoderScorer.refuse_options(ref, asked)


register(CrossEncoderScorer, first=False)


def cross_random_pair_baseline(
    engine: CrossScorer, texts: Sequence[str], n_pairs: int = CROSS_BASELINE_PAIRS
) -> Baseline:
    """Mean and 95th percentile score over seeded mismatched pairs of ``texts``: what "unrelated" scores. A pass per
    pair, so fewer random pairs (``CROSS_BASELINE_PAIRS``) than a bi-encoder's, whose pairs cost nothing."""
    corpus = list(dict.fromkeys(texts))
    first, second = random_pair_indices(len(corpus), n_pairs)
    scores = engine.score([(corpus[i], corpus[j]) for i, j in zip(first, second, strict=True)]).astype(np.float64)
    return Baseline(float(scores.mean()), float(np.percentile(scores, 95)), len(scores), np.sort(scores))
