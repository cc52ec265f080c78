"""Training the pair classifier on [CLS]: a cross-encoder, with sentence-transformers' own trainer, loss and evaluator.

``CrossEncoder(start, num_labels=1)`` puts a new one-output head on the start model's [CLS] (the pair is read as
``[CLS] a [SEP] b [SEP]``); ``BinaryCrossEntropyLoss`` fits its sigmoid to the pair's score in 0-1 (STS scores / 5,
or labels 0 / 1); ``CrossEncoderCorrelationEvaluator`` gives the Spearman of the predicted scores during training.
The result is a standard folder that ``CrossEncoder(dir)`` loads (``save_cross``), which the app recognises as a
cross-encoder by its files (``embedlab.models.cross``).

Before and after, the numbers the bi-encoders get (``embedlab.training.run.Scores``), read from scores instead of
cosines: STS Spearman of the predicted scores, the mean and 95th percentile score of random pairs of the reference
sentences (``CROSS_BASELINE_PAIRS``: every pair is a forward pass), and the negative-test suite's ROC AUC and
failures at its best threshold.

Example:
    >>> data = read_training_file("sts-train.csv", "cosine")  # doctest: +SKIP
    >>> result = train_cross_encoder("all-MiniLM-L6-v2", data, TrainSettings(epochs=1),
    ...                              eval_pairs=read_scored_pairs("sts-dev.csv"))  # doctest: +SKIP
    >>> result.after.spearman  # doctest: +SKIP
    85.6
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np

from embedlab.errors import EmbedLabError
from embedlab.scorers.cross_encoder import CROSS_ENCODER
from embedlab.training.compose import Composition
from embedlab.training.data import TrainingData
from embedlab.training.run import Progress, Scores, TrainResult, TrainSettings, run_method

METHOD = CROSS_ENCODER  # the method trains a model of that kind, and is named after it
EVAL_PAIRS_DURING = 300  # pairs scored at each evaluation during training (the full set before and after)
FACTS_FILE = "training.json"


def pair_columns(data: TrainingData) -> tuple[list[str], list[str], list[float]]:
    """(sentence1, sentence2, score in 0-1) of scored or labelled pairs.

    Raises:
        EmbedLabError: the data is not pairs with a score or a label (plain sentences, unlabelled pairs).
    """
    columns = data.columns
    if {"sentence1", "sentence2", "score"} <= set(columns):
        return list(columns["sentence1"]), list(columns["sentence2"]), [float(x) for x in columns["score"]]
    raise EmbedLabError(
        "A cross-encoder learns a score per pair: give pairs with a score (sentence1, sentence2, score 0-5 or 0-1) "
        "or a 0/1 label, not plain sentences or unscored pairs."
    )


def measure_cross(model, eval_pairs=None) -> Scores:
    """The bi-encoders' numbers for a cross-encoder, from its scores (see the module docstring)."""
    from scipy.stats import spearmanr

    from embedlab.corpora import reference_sentences
    from embedlab.embedding.precision import noise_reason
    from embedlab.embedding.scoring import Baseline, random_pair_indices
    from embedlab.embedding.specs import EmbedSpec
    from embedlab.models.cross import CROSS_BASELINE_PAIRS
    from embedlab.tasks.negtest import bundled_suite, judge

    def predict(pairs) -> np.ndarray:
        return np.asarray(model.predict(list(pairs), batch_size=32, show_progress_bar=False), dtype=np.float64)

    spearman = None
    if eval_pairs is not None:
        predicted = predict(zip(eval_pairs.sentence1, eval_pairs.sentence2, strict=True))
        if not noise_reason(predicted):
            spearman = 100 * float(spearmanr(predicted, eval_pairs.gold).statistic)
    corpus = list(dict.fromkeys(reference_sentences()))
    first, second = random_pair_indices(len(corpus), CROSS_BASELINE_PAIRS)
    random_scores = predict((corpus[i], corpus[j]) for i, j in zip(first, second, strict=True))
    baseline = Baseline(
        float(random_scores.mean()), float(np.percentile(random_scores, 95)), len(random_scores), np.sort(random_scores)
    )
    suite = bundled_suite()
    scores = predict(zip(suite.sentence1, suite.sentence2, strict=True))
    result = judge(EmbedSpec("cross-encoder", "model"), suite, scores, None, baseline)
    return Scores(
        spearman=None if spearman is None or math.isnan(spearman) else spearman,
        baseline_mean=baseline.mean,
        baseline_p95=baseline.p95,
        negtest_auc=float(result.auc),
        negtest_failures=int(result.failed.sum()),
        negtest_pairs=len(suite),
    )


def train_cross_encoder(
    start_model: str,
    data: TrainingData,
    settings: TrainSettings,
    eval_pairs=None,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
    measure_before_after: bool = True,
    start_folder: str | None = None,
    keep: Callable[[], bool] | None = None,
) -> TrainResult:
    """A new one-label head on ``start_model``'s [CLS], trained on ``data``'s scored pairs (``run_method`` with
    ``CrossEncoderMethod``; the other arguments are ``run_method``'s).

    Args:
        start_model: the start model's reference (its name in the result); ``start_folder`` its folder on disk
            (default: resolved from the reference: the packaged model, a folder, or a cached Hub snapshot).

    Raises:
        EmbedLabError: data without scores, bad settings.
    """
    method = CrossEncoderMethod(Composition(start_model), data, start_folder)
    return run_method(method, settings, eval_pairs, progress, stop, measure_before_after, keep)


class CrossEncoderMethod:
    """The cross-encoder as a ``embedlab.training.run.TrainingMethod``: ``CrossEncoder(start, num_labels=1)``,
    ``BinaryCrossEntropyLoss`` on the pairs' scores in 0-1, ``CrossEncoderCorrelationEvaluator`` during training,
    ``measure_cross`` before and after (saved by ``save_cross``).

    Only ``composition.model`` (the start model) and ``composition.max_seq_length`` (the pair's truncation; None
    keeps the start model's) apply: ``embedlab.training.methods.composition_problem`` refuses the rest.

    Raises:
        EmbedLabError: the data is not scored or labelled pairs (``pair_columns``), before anything is loaded.
    """

    name = METHOD

    def __init__(self, composition: Composition, data: TrainingData, start_folder: str | None = None) -> None:
        self.composition = composition
        self.data = data
        self.columns = pair_columns(data)
        self.start_folder = start_folder

    def build(self, seed: int):
        import torch
        from sentence_transformers.cross_encoder import CrossEncoder
        from transformers.utils import logging as transformers_logging

        folder = self.start_folder or _start_folder(self.composition.model)
        length = self.composition.max_seq_length
        verbosity = transformers_logging.get_verbosity()
        transformers_logging.set_verbosity_error()  # the new head's "newly initialized" report is expected
        try:
            with torch.random.fork_rng():
                torch.manual_seed(seed)
                return CrossEncoder(  # never trust_remote_code
                    folder, num_labels=1, device="cpu", **({"max_length": int(length)} if length else {})
                )
        finally:
            transformers_logging.set_verbosity(verbosity)

    def measure(self, model, eval_pairs) -> Scores:
        return measure_cross(model, eval_pairs)

    def evaluator(self, eval_pairs, settings: TrainSettings):
        if eval_pairs is None or not settings.eval_every:
            return None
        from sentence_transformers.cross_encoder.evaluation import CrossEncoderCorrelationEvaluator

        n = min(EVAL_PAIRS_DURING, eval_pairs.n_pairs)
        return CrossEncoderCorrelationEvaluator(
            [[a, b] for a, b in zip(eval_pairs.sentence1[:n], eval_pairs.sentence2[:n], strict=True)],
            [float(x) / eval_pairs.scale for x in eval_pairs.gold[:n]],
            name="eval",
            write_csv=False,
        )

    def eval_spearman(self, metrics: dict) -> float | None:
        return next((value for key, value in metrics.items() if key.endswith("spearman")), None)

    def loss(self, model):
        from sentence_transformers.cross_encoder.losses import BinaryCrossEntropyLoss

        return BinaryCrossEntropyLoss(model)

    def dataset(self):
        from datasets import Dataset

        firsts, seconds, scores = self.columns
        return Dataset.from_dict({"sentence1": firsts, "sentence2": seconds, "score": scores})

    def trainer(self, model, arguments: dict, settings: TrainSettings, loss, dataset, evaluator, callbacks):
        from sentence_transformers.cross_encoder import CrossEncoderTrainer, CrossEncoderTrainingArguments

        return CrossEncoderTrainer(
            model=model,
            args=CrossEncoderTrainingArguments(**arguments),
            train_dataset=dataset,
            loss=loss,
            evaluator=evaluator,
            callbacks=callbacks,
        )


def _start_folder(ref: str) -> str:
    """The folder of a start model reference: the packaged model, a folder, or a Hub snapshot (downloaded once)."""
    from embedlab.models.identity import resolve_model
    from embedlab.models.loading import hub_id_of, packaged_model_path
    from embedlab.models.names import PACKAGED

    model_id = resolve_model(ref)
    if model_id.key == PACKAGED:
        return packaged_model_path()
    if Path(model_id.key).is_absolute():  # a saved folder
        return model_id.key
    if (hub_id := hub_id_of(model_id.key)) is not None:
        from embedlab.models.hub import hub_snapshot

        return str(hub_snapshot(hub_id, None))
    raise EmbedLabError(f"{ref} cannot start a cross-encoder: give a model with learned weights (a folder or Hub id).")


def save_cross(result: TrainResult, folder: str | Path) -> Path:
    """Save the cross-encoder into ``folder`` (a standard ``CrossEncoder(dir)`` folder plus ``training.json``),
    atomically (``embedlab.training.save.save_atomically``).

    Raises:
        EmbedLabError: ``folder`` exists and is not empty, or cannot be written.
    """
    from embedlab.training.save import save_atomically

    facts = {
        "method": METHOD,
        "start_model": result.start_model,
        "data": result.data.source,
        "examples": result.data.n_examples,
        "steps": result.steps,
        "stopped": result.stopped,
        "precision": result.precision,
        "seconds": round(result.seconds, 3),
        "eval": result.eval_name,
        "before": None if result.before is None else result.before.as_dict(),
        "after": None if result.after is None else result.after.as_dict(),
    }

    def write(partial: Path) -> None:
        result.model.save(str(partial))
        (partial / FACTS_FILE).write_text(json.dumps(facts, indent=2), encoding="utf-8")

    return save_atomically(folder, write)
