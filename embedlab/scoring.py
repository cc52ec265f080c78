"""Pair cosines, random-pair baselines and per-layer profiles, all from cached states."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from embedlab.encoder import Encoder, Progress, cosine_rows
from embedlab.errors import EmbedLabError
from embedlab.specs import RAW_POOLINGS, EmbedSpec

ASSETS = Path(__file__).resolve().parent.parent / "assets"
REFERENCE_FILE = ASSETS / "reference_sentences.txt"
BASELINE_PAIRS = 2000
BASELINE_SEED = 0


@lru_cache(maxsize=1)
def reference_sentences() -> tuple[str, ...]:
    """The project's reference corpus: a few hundred varied sentences, one per line."""
    lines = REFERENCE_FILE.read_text(encoding="utf-8").splitlines()
    return tuple(dict.fromkeys(line.strip() for line in lines if line.strip()))


@dataclass(frozen=True)
class Baseline:
    """Cosine over mismatched pairs of one configuration: what "unrelated" looks like."""

    mean: float
    p95: float
    n_pairs: int

    def as_dict(self) -> dict[str, float]:
        return {"mean": self.mean, "p95": self.p95}


def random_pair_indices(n_texts: int, n_pairs: int = BASELINE_PAIRS, seed: int = BASELINE_SEED):
    """Seeded pairs (i, j) with i != j, drawn uniformly. Returns two (n_pairs,) int arrays."""
    if n_texts < 2:
        raise EmbedLabError("A random-pair baseline needs at least two different sentences.")
    rng = np.random.default_rng(seed)
    first = rng.integers(0, n_texts, n_pairs)
    offset = rng.integers(1, n_texts, n_pairs)  # never 0: the partner is always another sentence
    return first, (first + offset) % n_texts


def random_pair_baseline(
    encoder: Encoder,
    spec: EmbedSpec,
    texts: Sequence[str] | None = None,
    progress: Progress | None = None,
) -> Baseline:
    """Mean and 95th percentile cosine over seeded mismatched pairs of ``texts`` (default: the reference set)."""
    corpus = list(dict.fromkeys(texts if texts is not None else reference_sentences()))
    vectors = encoder.embed(corpus, spec, progress)
    first, second = random_pair_indices(len(corpus))
    cosines = cosine_rows(vectors[first], vectors[second])
    return Baseline(mean=float(cosines.mean()), p95=float(np.percentile(cosines, 95)), n_pairs=len(cosines))


def pair_cosines(
    encoder: Encoder,
    pairs: Sequence[tuple[str, str]],
    spec: EmbedSpec,
    progress: Progress | None = None,
) -> npt.NDArray[np.float64]:
    """Cosine of each (sentence1, sentence2) pair; one model call per unseen text at most.

    Returns:
        (len(pairs),) float64 array; entry i is pairs[i].
    """
    if not pairs:
        return np.zeros(0)
    firsts = [first for first, _ in pairs]
    seconds = [second for _, second in pairs]
    states = encoder.states(firsts + seconds, progress)
    vectors = encoder.vectors(states, spec)
    return cosine_rows(vectors[: len(pairs)], vectors[len(pairs) :])


def layer_profile(encoder: Encoder, first: str, second: str) -> pd.DataFrame:
    """Cosine of one pair at every layer for cls, mean and max.

    Returns:
        DataFrame with columns layer (0 = embeddings .. L), cls, mean, max.
    """
    states = encoder.states([first, second])
    profile = {"layer": np.arange(encoder.model.n_hidden_states)}
    for pooling in RAW_POOLINGS:
        by_layer = encoder.layer_vectors(states, pooling)  # (layers, 2, hidden)
        profile[pooling] = cosine_rows(by_layer[:, 0], by_layer[:, 1])
    return pd.DataFrame(profile)


def layer_baselines(encoder: Encoder, texts: Sequence[str] | None = None) -> pd.DataFrame:
    """Mean random-pair cosine at every layer for cls, mean and max (the "typical" line of a layer chart).

    Returns:
        DataFrame with columns layer, cls, mean, max.
    """
    corpus = list(dict.fromkeys(texts if texts is not None else reference_sentences()))
    states = encoder.states(corpus)
    first, second = random_pair_indices(len(corpus))
    profile = {"layer": np.arange(encoder.model.n_hidden_states)}
    for pooling in RAW_POOLINGS:
        by_layer = encoder.layer_vectors(states, pooling)  # (layers, n, hidden)
        profile[pooling] = cosine_rows(by_layer[:, first], by_layer[:, second]).mean(axis=1)
    return pd.DataFrame(profile)
