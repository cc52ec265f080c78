"""The cost table: faster or smaller variants of one model, run over the same data as the model itself in PyTorch
fp32 full vectors, side by side.

A variant is an ``EmbedSpec``: the model through another engine (``MODEL (ONNX int8)``, ``embedlab.models.backends``),
a static model distilled from it here (``embedlab.training.distill``) and / or its vectors stored smaller
(``precision``, ``dims``: ``embedlab.embedding.compression``). For each:

- encode speed against the reference measured in the same run (``time.perf_counter`` around the model's own
  sentence-transformers ``encode`` of the same sentences, no cache; the variants that only store vectors smaller
  share their model's speed);
- bytes per stored vector;
- STS Spearman (x 100) on the given scored pairs, negative-test ROC AUC on the given labelled pairs;
- the largest change of a pair's score against the reference, and the pairs that changed most, marked when they
  moved across the user's threshold ("these 5 of your pairs moved past 0.5").

The reference row is always there and first: a variant's numbers are shown next to the full fp32 ones, never instead.

Example:
    >>> variants = [EmbedSpec("all-MiniLM-L6-v2 (ONNX int8)"), EmbedSpec("all-MiniLM-L6-v2", precision="binary")]
    >>> table = cost_table("all-MiniLM-L6-v2", variants, sts, suite)  # doctest: +SKIP
    >>> table.rows[["variant", "speed_x", "spearman", "auc"]]  # doctest: +SKIP
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from embedlab.embedding.compression import bytes_per_vector
from embedlab.embedding.specs import EmbedSpec
from embedlab.errors import EmbedLabError
from embedlab.models.backends import split_backend_ref
from embedlab.models.identity import resolve_model
from embedlab.models.static import distilled_from
from embedlab.scorers.registry import default_engine, open_scorer
from embedlab.tasks.negtest import roc_auc
from embedlab.tasks.sts import ScoredPairs, correlate

SPEED_SENTENCES = 256  # sentences timed per model (the first unique ones of the STS pairs)
SPEED_BATCH = 64
CHANGED_SHOWN = 5  # pairs listed per variant: those whose score changed most
COLUMNS = ["variant", "sentences_per_s", "speed_x", "bytes_per_vector", "spearman", "auc", "largest_change", "crossed"]


@dataclass(frozen=True)
class CostTable:
    """Attributes:
    rows: one row per configuration (the reference first): ``COLUMNS``; NaN where not measured.
    changed: per variant label, its ``CHANGED_SHOWN`` most changed STS pairs (sentence1, sentence2, reference,
        variant, change, crossed: whether the pair moved across ``threshold``).
    threshold: the score at or above which a pair counts as a match.
    n_timed: sentences each model encoded for its speed.
    """

    rows: pd.DataFrame
    changed: dict[str, pd.DataFrame]
    threshold: float
    n_timed: int


def variant_label(spec: EmbedSpec) -> str:
    """A variant in words: "all-MiniLM-L6-v2 (ONNX int8) · binary vectors", "all-MiniLM-L6-v2 · PyTorch fp32"."""
    label = spec.label.replace(" · own pipeline", "")
    return label if split_backend_ref(spec.model) is not None or spec.compressed else f"{label} · PyTorch fp32"


def pipeline_encode(engine) -> Callable[[list[str]], np.ndarray] | None:
    """The model's own uncached ``encode`` behind ``engine``: a backend's (under its lock), a model loaded here;
    None for an embeddings service (its cost is a request, not timed here)."""
    backend = getattr(engine, "vectors_model", None)
    if backend is not None:
        return getattr(backend, "encode_uncached", None)
    st_model = getattr(getattr(engine, "model", None), "st_model", None)
    if st_model is None:
        return None
    return lambda texts: st_model.encode(texts, batch_size=SPEED_BATCH, show_progress_bar=False)


def sentences_per_second(encode: Callable[[list[str]], np.ndarray], texts: list[str]) -> float:
    """Sentences per second of ``encode`` over ``texts`` after one warm-up batch."""
    encode(texts[:8])
    start = time.perf_counter()
    encode(texts)
    return len(texts) / max(time.perf_counter() - start, 1e-9)


def cost_table(
    model: str,
    variants: Sequence[EmbedSpec],
    sts: ScoredPairs,
    suite: pd.DataFrame,
    threshold: float = 0.5,
    engine=default_engine,
    progress: Callable[[str], None] | None = None,
) -> CostTable:
    """Run ``model`` (PyTorch, fp32 full vectors: the reference) and each of ``variants`` over ``sts`` (scored
    pairs) and ``suite`` (labelled pairs), measuring what ``CostTable`` holds. ``engine(kind, model_id)`` loads a
    model (the app passes its shared cache); ``progress(what)`` says what is being measured.

    Raises:
        EmbedLabError: a variant of another model, or one that cannot be loaded (its own message).
    """
    reference = EmbedSpec(resolve_model(model))
    specs = [reference, *dict.fromkeys(spec for spec in variants if spec != reference)]
    base_key = reference.model
    for spec in specs[1:]:
        variant = split_backend_ref(spec.model)
        start = distilled_from(spec.model)  # a static model distilled here is a variant of its start model
        base = variant.base if variant else start
        if (resolve_model(base).key if base else spec.model) != base_key:
            raise EmbedLabError(f"{spec.model} is not a variant of {model}: choose variants of one model.")
    sts_pairs = list(zip(sts.sentence1, sts.sentence2, strict=True))
    suite_pairs = list(zip(suite["sentence1"], suite["sentence2"], strict=True))
    labels = suite["label"].to_numpy()
    timed = sts.unique_sentences()[:SPEED_SENTENCES]
    engines: dict = {}

    def shared(kind, model_id):  # one engine per model: the variants that only store vectors smaller share it
        if (kind, model_id) not in engines:
            engines[(kind, model_id)] = engine(kind, model_id)
        return engines[(kind, model_id)]

    speeds: dict[str, float] = {}
    rows, changed, reference_scores = [], {}, None
    for spec in specs:
        label = variant_label(spec)
        if progress is not None:
            progress(label)
        scorer = open_scorer(spec, engine=shared)
        if spec.model not in speeds:
            encode = pipeline_encode(scorer.engine)
            speeds[spec.model] = np.nan if encode is None else sentences_per_second(encode, timed)
        scores = scorer.score(sts_pairs)
        auc = roc_auc(labels, scorer.score(suite_pairs)) if len(suite_pairs) else np.nan
        spearman = correlate(scores, np.asarray(sts.gold)).spearman
        if reference_scores is None:
            reference_scores = scores
        change = scores - reference_scores
        crossed = (scores >= threshold) != (reference_scores >= threshold)
        width = scorer.engine.model.facts.embedding_dim
        rows.append(
            {
                "variant": label,
                "sentences_per_s": speeds[spec.model],
                "speed_x": speeds[spec.model] / speeds[base_key] if speeds.get(base_key) else np.nan,
                "bytes_per_vector": bytes_per_vector(spec.precision, spec.dims or width),
                "spearman": np.nan if spearman is None else spearman,
                "auc": auc,
                "largest_change": float(np.nanmax(np.abs(change))) if len(change) else np.nan,
                "crossed": int(crossed.sum()),
            }
        )
        if spec != reference:
            order = np.argsort(-np.abs(np.nan_to_num(change)))[:CHANGED_SHOWN]
            changed[label] = pd.DataFrame(
                {
                    "sentence1": [sts.sentence1[i] for i in order],
                    "sentence2": [sts.sentence2[i] for i in order],
                    "reference": reference_scores[order],
                    "variant": scores[order],
                    "change": change[order],
                    "crossed": crossed[order],
                }
            )
    return CostTable(pd.DataFrame(rows, columns=COLUMNS), changed, threshold, len(timed))
