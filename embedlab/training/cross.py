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
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from embedlab.errors import EmbedLabError
from embedlab.training.data import TrainingData
from embedlab.training.run import (
    Progress,
    ProgressReport,
    Scores,
    TrainSettings,
    resolve_precision,
    trainer_arguments,
)

METHOD = "cross-encoder"
EVAL_PAIRS_DURING = 300  # pairs scored at each evaluation during training (the full set before and after)
FACTS_FILE = "training.json"


@dataclass
class CrossTrainResult:
    """What a cross-encoder run produced. ``model`` is the trained ``CrossEncoder`` (eval mode), partial if stopped."""

    model: object
    start_model: str
    data: TrainingData
    settings: TrainSettings
    steps: int
    total_steps: int
    seconds: float
    stopped: bool
    precision: str
    before: Scores | None
    after: Scores | None
    eval_name: str | None = None
    losses: list[tuple[int, float]] = field(default_factory=list)
    evals: list[tuple[int, float | None]] = field(default_factory=list)


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
) -> CrossTrainResult:
    """A new one-label head on ``start_model``'s [CLS], trained on ``data``'s scored pairs.

    Args:
        start_model: the start model's reference (its name in the result); ``start_folder`` its folder on disk
            (default: resolved from the reference: the packaged model, a folder, or a cached Hub snapshot).
        eval_pairs: a ``ScoredPairs`` for STS Spearman before, during (a slice) and after; None for none.
        stop: set it to end the run after the current step; the partial model is returned.

    Raises:
        EmbedLabError: data without scores, bad settings.
    """
    import torch
    from sentence_transformers.cross_encoder import CrossEncoder, CrossEncoderTrainer, CrossEncoderTrainingArguments
    from sentence_transformers.cross_encoder.evaluation import CrossEncoderCorrelationEvaluator
    from sentence_transformers.cross_encoder.losses import BinaryCrossEntropyLoss
    from transformers import PrinterCallback, TrainerCallback
    from transformers.utils import logging as transformers_logging

    firsts, seconds, scores = pair_columns(data)
    stop = stop or threading.Event()
    folder = start_folder or _start_folder(start_model)
    verbosity = transformers_logging.get_verbosity()
    transformers_logging.set_verbosity_error()  # the new head's "newly initialized" report is expected
    try:
        with torch.random.fork_rng():
            torch.manual_seed(settings.seed)
            model = CrossEncoder(folder, num_labels=1, device="cpu")  # never trust_remote_code
    finally:
        transformers_logging.set_verbosity(verbosity)
    model.eval()
    before = measure_cross(model, eval_pairs) if measure_before_after else None
    evaluator = None
    if eval_pairs is not None and settings.eval_every:
        n = min(EVAL_PAIRS_DURING, eval_pairs.n_pairs)
        evaluator = CrossEncoderCorrelationEvaluator(
            [[a, b] for a, b in zip(eval_pairs.sentence1[:n], eval_pairs.sentence2[:n], strict=True)],
            [float(x) / eval_pairs.scale for x in eval_pairs.gold[:n]],
            name="eval",
            write_csv=False,
        )
    per_epoch = math.ceil(len(firsts) / settings.batch_size)
    total = (
        int(settings.max_steps) if settings.max_steps is not None else max(1, math.ceil(per_epoch * settings.epochs))
    )
    losses: list[tuple[int, float]] = []
    evals: list[tuple[int, float | None]] = []
    clock = {"start": time.perf_counter()}

    def report(step: int, loss: float | None, eval_spearman: float | None = None) -> None:
        if progress is None:
            return
        elapsed = time.perf_counter() - clock["start"]
        rate = step / elapsed if step and elapsed > 0 else 0.0
        eta = (total - step) / rate if rate > 0 else None
        progress(ProgressReport(step, total, loss, rate, eta, elapsed, eval_spearman))

    class _Reporter(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if stop.is_set():
                control.should_training_stop = True
                control.should_evaluate = False

        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and "loss" in logs:
                losses.append((state.global_step, float(logs["loss"])))
                report(state.global_step, float(logs["loss"]))

        def on_evaluate(self, args, state, control, metrics=None, **kwargs):
            value = next((v for k, v in (metrics or {}).items() if k.endswith("spearman")), None)
            spearman = None if value is None or not math.isfinite(float(value)) else 100 * float(value)
            evals.append((state.global_step, spearman))

    from datasets import Dataset

    dataset = Dataset.from_dict({"sentence1": firsts, "sentence2": seconds, "score": scores})
    precision = resolve_precision(settings.precision, METHOD)
    with tempfile.TemporaryDirectory(prefix="embedlab-cross-") as scratch:
        args = CrossEncoderTrainingArguments(
            **trainer_arguments(settings, scratch, precision, evaluate=evaluator is not None)
        )
        transformers_logging.set_verbosity_error()
        try:
            trainer = CrossEncoderTrainer(
                model=model,
                args=args,
                train_dataset=dataset,
                loss=BinaryCrossEntropyLoss(model),
                evaluator=evaluator,
                callbacks=[_Reporter()],
            )
            trainer.remove_callback(PrinterCallback)
            report(0, None)
            clock["start"] = started = time.perf_counter()
            with torch.random.fork_rng():
                trainer.train()
            seconds_taken = time.perf_counter() - started
            steps = int(trainer.state.global_step)
        finally:
            transformers_logging.set_verbosity(verbosity)
        del trainer
    _unwrap_autocast(model)
    model.eval()
    after = measure_cross(model, eval_pairs) if measure_before_after else None
    return CrossTrainResult(
        model=model,
        start_model=start_model,
        data=data,
        settings=settings,
        steps=steps,
        total_steps=total,
        seconds=seconds_taken,
        stopped=stop.is_set() and steps < total,
        precision=precision,
        before=before,
        after=after,
        eval_name=eval_pairs.name if eval_pairs is not None else None,
        losses=losses,
        evals=evals,
    )


def _unwrap_autocast(model) -> None:
    """With bf16, accelerate wraps the model's forward in autocast, in place: unwrap it, or every later predict()
    would run in bf16."""
    from accelerate.utils import extract_model_from_parallel

    extract_model_from_parallel(model, keep_fp32_wrapper=False)


def _start_folder(ref: str) -> str:
    """The folder of a start model reference: the packaged model, a folder, or a Hub snapshot (downloaded once)."""
    from embedlab.models.identity import resolve_model
    from embedlab.models.loading import packaged_model_path

    model_id = resolve_model(ref)
    if model_id.kind == "packaged":
        return packaged_model_path()
    if model_id.kind in ("folder", "cross-encoder"):
        return model_id.key
    if model_id.kind == "hub":
        from embedlab.models.hub import hub_snapshot

        return str(hub_snapshot(model_id.key, None))
    raise EmbedLabError(f"{ref} cannot start a cross-encoder: give a model with learned weights (a folder or Hub id).")


def save_cross(result: CrossTrainResult, folder: str | Path) -> Path:
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
