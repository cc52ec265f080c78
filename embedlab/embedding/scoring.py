"""Pair cosines, random-pair baselines and per-layer profiles, all from cached states (or stored vectors)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd

from embedlab.corpora import reference_sentences
from embedlab.embedding.baseline import (  # noqa: F401 (score_percentiles re-exported: every page imports it here)
    BASELINE_PAIRS,
    BASELINE_SEED,
    Baseline,
    random_pair_indices,
    score_percentiles,
)
from embedlab.embedding.encoder import Encoder, Progress, TextStates, cosine_rows
from embedlab.embedding.precision import noise_reason
from embedlab.embedding.reference_cache import warm_reference_states
from embedlab.embedding.specs import RAW_POOLINGS, EmbedSpec, fitting_corpus
from embedlab.errors import EmbedLabError

# The poolings shown layer by layer (the per-layer chart, the STS grid and its heatmap). Of the per-layer poolings
# (``specs.LAYER_POOLINGS``) mean_sqrt_len_tokens is left out: it is mean times sqrt(token count), a positive
# constant per text at every layer and layer mix, so its cosine, its baseline and its Spearman equal mean's exactly
# (a row or a line of it would only duplicate mean's). ``pooler`` is last layer only: the grid has it once.
PROFILE_POOLINGS: tuple[str, ...] = (*RAW_POOLINGS, "mean_max", "weightedmean", "lasttoken")


def random_pair_baseline(
    encoder: Encoder,
    spec: EmbedSpec,
    texts: Sequence[str] | None = None,
    progress: Progress | None = None,
) -> Baseline:
    """Mean and 95th percentile cosine over seeded mismatched pairs of ``texts`` (default: the reference set).

    With post-processing fitted on these very texts the pairs are scored out of sample (``held_out_cosines``).
    """
    corpus = list(dict.fromkeys(texts if texts is not None else reference_sentences()))
    if texts is None:
        warm_reference_states(encoder)  # from disk after a restart (``reference_cache``), else encoded and kept
    if spec.post != "none" and not set(corpus).isdisjoint(fitting_corpus(spec)):
        cosines = held_out_cosines(encoder, spec, corpus, progress)
    else:
        vectors = encoder.embed(corpus, spec, progress)
        first, second = random_pair_indices(len(corpus))
        cosines = cosine_rows(vectors[first], vectors[second])
    return Baseline(
        mean=float(cosines.mean()),
        p95=float(np.percentile(cosines, 95)),
        n_pairs=len(cosines),
        cosines=np.sort(cosines),
    )


def pair_cosines(
    encoder: Encoder,
    pairs: Sequence[tuple[str, str]],
    spec: EmbedSpec,
    progress: Progress | None = None,
) -> npt.NDArray[np.float64]:
    """Cosine of each (sentence1, sentence2) pair; one model call per unseen text at most, none for a text whose
    own-pipeline vector a finished corpus job stored (``Encoder.embed`` reads it).

    Returns:
        (len(pairs),) float64 array; entry i is pairs[i].
    """
    if not pairs:
        return np.zeros(0)
    firsts = [first for first, _ in pairs]
    seconds = [second for _, second in pairs]
    vectors = encoder.embed(firsts + seconds, spec, progress)
    return cosine_rows(vectors[: len(pairs)], vectors[len(pairs) :])


def per_layer_vectors(states: Sequence[TextStates], pooling: str) -> npt.NDArray[np.float32]:
    """(n_hidden_states, len(states), width) vectors of one ``PROFILE_POOLINGS`` pooling at every layer.

    The same vectors ``Encoder.vectors`` averages for a layer mix: ``pooling.mix_layers`` of this stack over the
    chosen layers is that configuration's vector (mean_max: mean and max concatenated, width 2 x hidden).
    """
    if pooling not in PROFILE_POOLINGS:
        raise EmbedLabError(f"Per-layer vectors exist for {', '.join(PROFILE_POOLINGS)}, not {pooling!r}.")
    parts = ("mean", "max") if pooling == "mean_max" else (pooling,)
    if not states:
        return np.zeros((0, 0, 0), dtype=np.float32)
    n_hidden_states, hidden = states[0].pooled[parts[0]].shape
    # filled in place: a concatenation of stacks would hold three (layers, n, width) arrays at once
    out = np.empty((n_hidden_states, len(states), hidden * len(parts)), dtype=np.float32)
    for i, state in enumerate(states):
        for k, part in enumerate(parts):
            out[:, i, k * hidden : (k + 1) * hidden] = state.pooled[part]
    return out


def layer_profile(encoder: Encoder, first: str, second: str) -> pd.DataFrame:
    """Cosine of one pair at every layer for each of ``PROFILE_POOLINGS``.

    Returns:
        DataFrame with columns layer (0 = embeddings .. L), cls, mean, max, mean_max, weightedmean, lasttoken.
    """
    states = encoder.states([first, second])
    profile = {"layer": np.arange(encoder.model.n_hidden_states)}
    for pooling in PROFILE_POOLINGS:
        by_layer = per_layer_vectors(states, pooling)  # (layers, 2, width)
        profile[pooling] = cosine_rows(by_layer[:, 0], by_layer[:, 1])
    return pd.DataFrame(profile)


def layer_baselines(encoder: Encoder, texts: Sequence[str] | None = None) -> pd.DataFrame:
    """Random-pair cosine at every layer for each of ``PROFILE_POOLINGS`` (the "typical" line of a layer chart).

    Returns:
        DataFrame with columns layer, and per pooling: ``<pooling>`` (mean cosine of random pairs),
        ``<pooling>_spread`` (their standard deviation) and ``<pooling>_noise`` (why cosines at that layer are
        float32 noise, ``embedlab.embedding.precision.noise_reason``, or "": then no pair's cosine there ranks
        anything, e.g. CLS at layers 0-3 of all-MiniLM-L6-v2).
    """
    corpus = list(dict.fromkeys(texts if texts is not None else reference_sentences()))
    if texts is None:
        warm_reference_states(encoder)
    states = encoder.states(corpus)
    first, second = random_pair_indices(len(corpus))
    profile: dict[str, object] = {"layer": np.arange(encoder.model.n_hidden_states)}
    for pooling in PROFILE_POOLINGS:
        by_layer = per_layer_vectors(states, pooling)  # (layers, n, width)
        cosines = cosine_rows(by_layer[:, first], by_layer[:, second])  # (layers, n_pairs)
        profile[pooling] = cosines.mean(axis=1)
        profile[f"{pooling}_spread"] = cosines.std(axis=1)
        profile[f"{pooling}_noise"] = [noise_reason(layer) or "" for layer in cosines]
    return pd.DataFrame(profile)


HELD_OUT_FOLDS = 5


def held_out_cosines(
    encoder: Encoder, spec: EmbedSpec, corpus: Sequence[str], progress: Progress | None = None
) -> npt.NDArray[np.float64]:
    """Random-pair cosines of a post-processed configuration, each pair scored by a transform not fitted on it.

    On its own fitting corpus a centred or whitened configuration scores random pairs about 0 by construction
    (mean ~0, p95 ~0.04 for whitening), far below what unseen sentences get (~0.1 / ~0.35 measured on STS
    sentences). So ``corpus`` is split into HELD_OUT_FOLDS seeded folds; each fold's pairs (drawn within the
    fold) are scored with the same method and dims fitted on the fitting corpus minus that fold's sentences
    (whitening dims capped at what the smaller corpus allows).

    Returns:
        (BASELINE_PAIRS,) float64 cosines (a few fewer when BASELINE_PAIRS is not a multiple of the folds).
    """
    from dataclasses import replace

    from embedlab.embedding.postprocess import fit_postprocess

    corpus = list(dict.fromkeys(corpus))
    if len(corpus) < 2 * HELD_OUT_FOLDS:
        raise EmbedLabError(f"A post-processed baseline needs at least {2 * HELD_OUT_FOLDS} different sentences.")
    fit_texts = list(fitting_corpus(spec))
    every_text = list(dict.fromkeys(fit_texts + corpus))
    base = replace(spec, post="none", post_dims=None, post_corpus=None)
    vector_of = dict(zip(every_text, encoder.embed(every_text, base, progress), strict=True))
    dims = encoder.post_transform(spec).dims  # the dims of the transform in use (its default resolved)
    folds = np.array_split(np.random.default_rng(BASELINE_SEED).permutation(len(corpus)), HELD_OUT_FOLDS)
    cosines = []
    for number, fold in enumerate(folds):
        held = {corpus[i] for i in fold}
        train = np.stack([vector_of[text] for text in fit_texts if text not in held])
        fold_dims = min(dims, len(train) - 1) if spec.post == "whiten" and dims is not None else dims
        transform = fit_postprocess(train, spec.post, fold_dims)
        vectors = transform.apply(np.stack([vector_of[corpus[i]] for i in fold]))
        first, second = random_pair_indices(len(fold), BASELINE_PAIRS // HELD_OUT_FOLDS, BASELINE_SEED + number)
        cosines.append(cosine_rows(vectors[first], vectors[second]))
    return np.concatenate(cosines)


def percentile_text(percentile: float) -> str:
    """Words for a calibrated score: "97th percentile of random pairs", "undefined" for NaN."""
    if np.isnan(percentile):
        return "percentile undefined"
    value = int(round(float(percentile)))
    suffix = "th" if 10 <= value % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(value % 10, "th")
    return f"{value}{suffix} percentile of random pairs"
