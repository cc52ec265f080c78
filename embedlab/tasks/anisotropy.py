"""Anisotropy by layer: the mean cosine of random pairs of vectors, layer by layer, with and without post-processing.

Raw BERT vectors fill a narrow cone, so two random sentences (or two random tokens) already score a high cosine.
This module measures it over a corpus (default: the bundled reference sentences), with one forward pass per
sentence, for token vectors and for sentence vectors (cls, mean, max), at every hidden state (0 = embeddings),
and after each post-processing (``embedlab.embedding.postprocess``). The corpus is split in two: a post-processing is
fitted on the vectors of the even-numbered sentences and the random pairs are drawn among the odd-numbered ones
(for every post-processing, "none" included), so the table shows what a transform fitted on a reference corpus does
to sentences it has not seen.

Token-level states are not kept for the corpus: each sentence contributes at most ``TOKENS_PER_SENTENCE`` randomly
chosen real (non-special) tokens, every layer of them, and its three pooled vectors.

Example:
    >>> table = anisotropy_by_layer(load_model("all-MiniLM-L6-v2"), posts=("none",))
    >>> table.columns.tolist()
    ['layer', 'vectors', 'post', 'mean_cosine']
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd
import torch

from embedlab.corpora import reference_sentences
from embedlab.embedding.forward import forward_batches
from embedlab.embedding.pooling import RAW_POOLERS
from embedlab.embedding.postprocess import POSTS, fit_postprocess
from embedlab.errors import EmbedLabError
from embedlab.models.loading import LoadedModel

N_PAIRS = 2000
TOKENS_PER_SENTENCE = 4
SEED = 0
VECTOR_KINDS: tuple[str, ...] = ("tokens", "cls", "mean", "max")
Progress = Callable[[int, int], None]


def random_pairs(
    groups: npt.NDArray[np.integer], n_pairs: int = N_PAIRS, seed: int = SEED
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """``n_pairs`` random (i, j) index pairs of items from different groups (different sentences), seeded.

    Args:
        groups: (n_items,) the group (sentence) of each item; sentence vectors are their own group.
    """
    groups = np.asarray(groups)
    if len(np.unique(groups)) < 2:
        raise EmbedLabError("Random pairs need items from at least two different sentences.")
    rng = np.random.default_rng(seed)
    firsts, seconds = [], []
    while sum(len(chunk) for chunk in firsts) < n_pairs:
        i = rng.integers(0, len(groups), size=2 * n_pairs)
        j = rng.integers(0, len(groups), size=2 * n_pairs)
        keep = groups[i] != groups[j]
        firsts.append(i[keep])
        seconds.append(j[keep])
    return np.concatenate(firsts)[:n_pairs], np.concatenate(seconds)[:n_pairs]


def mean_pair_cosine(vectors: npt.NDArray[np.floating], pairs: tuple[np.ndarray, np.ndarray]) -> float:
    """Mean cosine of rows pairs[0][k] and pairs[1][k] of ``vectors`` (n, d); a zero vector scores 0."""
    x = np.asarray(vectors, dtype=np.float64)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    unit = np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)
    return float((unit[pairs[0]] * unit[pairs[1]]).sum(axis=1).mean())


def collect_vectors(
    model: LoadedModel,
    sentences: Sequence[str],
    tokens_per_sentence: int = TOKENS_PER_SENTENCE,
    seed: int = SEED,
    progress: Progress | None = None,
) -> tuple[dict[str, npt.NDArray[np.float32]], npt.NDArray[np.int64]]:
    """One forward pass per sentence; keep the pooled vectors and a small sample of token vectors.

    Returns:
        ({"tokens" | "cls" | "mean" | "max": (n_hidden_states, n_items, hidden)}, token_groups (n_tokens,): the
        sentence of each sampled token). Sentence vectors are in the order of ``sentences``.
    """
    sentences = list(dict.fromkeys(text.strip() for text in sentences if text.strip()))
    if len(sentences) < 2:
        raise EmbedLabError("Anisotropy needs at least two different sentences.")
    rng = np.random.default_rng(seed)
    pooled: dict[str, list] = {name: [None] * len(sentences) for name in RAW_POOLERS}
    token_rows: list[tuple[int, npt.NDArray[np.float32]]] = []
    done = 0
    for batch in forward_batches(model, sentences):
        mask = batch.attention_mask  # (batch, seq)
        stacked = torch.stack(batch.hidden_states).float()  # (n_hidden_states, batch, seq, hidden)
        for name, pool in RAW_POOLERS.items():
            vectors = pool(stacked, mask).numpy()  # (n_hidden_states, batch, hidden)
            for row, i in enumerate(batch.index):
                pooled[name][i] = vectors[:, row].copy()
        special = set(model.tokenizer.all_special_ids)
        for row, i in enumerate(batch.index):
            ids = batch.features["input_ids"][row]
            real = [p for p in range(len(ids)) if mask[row, p] and int(ids[p]) not in special]
            chosen = sorted(rng.choice(real, size=min(tokens_per_sentence, len(real)), replace=False)) if real else []
            token_rows.extend((i, stacked[:, row, p].numpy().copy()) for p in chosen)
        done += len(batch.index)
        if progress is not None:
            progress(done, len(sentences))
    vectors = {name: np.stack(rows, axis=1) for name, rows in pooled.items()}
    token_rows.sort(key=lambda item: item[0])
    vectors["tokens"] = np.stack([row for _, row in token_rows], axis=1)
    return vectors, np.array([i for i, _ in token_rows], dtype=np.int64)


def anisotropy_by_layer(
    model: LoadedModel,
    sentences: Sequence[str] | None = None,
    posts: Sequence[str] = POSTS,
    n_pairs: int = N_PAIRS,
    seed: int = SEED,
    progress: Progress | None = None,
) -> pd.DataFrame:
    """Mean cosine of random pairs at every layer, for token and sentence vectors, per post-processing.

    Args:
        sentences: the corpus (default: the bundled reference sentences).
        posts: post-processings to apply, each fitted (default dims) on the same layer's vectors of the
            even-numbered sentences, measured on pairs of the odd-numbered ones.
        progress: called with (steps done, steps in all): one step per sentence encoded, then one per
            (vector kind, layer) measured.

    Returns:
        Long table: layer (0 = embeddings), vectors ("tokens", "cls", "mean", "max"), post, mean_cosine (NaN where
        a post-processing cannot be fitted, e.g. too few vectors).
    """
    sentences = list(dict.fromkeys(text.strip() for text in (sentences or reference_sentences()) if text.strip()))
    total = len(sentences) + len(VECTOR_KINDS) * model.n_hidden_states  # sentences encoded, then (kind, layer) fits
    report = (lambda done, _: progress(done, total)) if progress is not None else None
    vectors, token_groups = collect_vectors(model, sentences, seed=seed, progress=report)
    groups = {"tokens": token_groups, "sentences": np.arange(vectors["cls"].shape[1])}
    fit_rows = {name: np.flatnonzero(group % 2 == 0) for name, group in groups.items()}
    measured_rows = {name: np.flatnonzero(group % 2 == 1) for name, group in groups.items()}
    pairs = {name: random_pairs(group[measured_rows[name]], n_pairs, seed) for name, group in groups.items()}
    records = []
    for kind in VECTOR_KINDS:
        name = "tokens" if kind == "tokens" else "sentences"
        for layer, layer_vectors in enumerate(vectors[kind]):  # layer_vectors: (n_items, hidden)
            fitted_on, measured = layer_vectors[fit_rows[name]], layer_vectors[measured_rows[name]]
            for post in posts:
                try:
                    transformed = fit_postprocess(fitted_on, post).apply(measured)
                    value = mean_pair_cosine(transformed, pairs[name])
                except EmbedLabError:
                    value = float("nan")
                records.append({"layer": layer, "vectors": kind, "post": post, "mean_cosine": value})
            if progress is not None:
                progress(len(sentences) + len(records) // len(posts), total)
    return pd.DataFrame(records, columns=["layer", "vectors", "post", "mean_cosine"])
