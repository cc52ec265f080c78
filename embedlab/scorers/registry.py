"""Which kind serves a model reference: the registered kinds, asked in order, and ``open_scorer``.

A kind is registered once, by its module (``register(CrossEncoderScorer)``); ``embedlab.scorers`` imports the
built-in ones. The first kind whose ``recognises(model_id, spec)`` says yes serves the reference, so the most
specific kinds come first and the raw hidden-state kinds, which take any model loadable here, come last. A kind
with references of its own form (``Scorer.parse``) is also taught to ``resolve_model``.

Example:
    >>> scorer = open_scorer("all-MiniLM-L6-v2")  # its own pipeline  # doctest: +SKIP
    >>> type(scorer).kind  # doctest: +SKIP
    'sentence-transformer'
"""

from __future__ import annotations

from collections.abc import Callable

from embedlab.embedding.specs import EmbedSpec
from embedlab.errors import EmbedLabError
from embedlab.models.identity import ModelId, add_reference_parser, remove_reference_parser, resolve_model
from embedlab.scorers.base import Scorer

EngineLoader = Callable[[type[Scorer], ModelId], object]  # (kind, model) -> engine: lets the app share engines

_KINDS: list[type[Scorer]] = []


def register(kind: type[Scorer], first: bool = True) -> type[Scorer]:
    """Add ``kind`` (before the others by default: a new kind is more specific than the fallbacks). Returns it,
    so it can decorate the class. Registering a kind twice keeps one entry."""
    unregister(kind)
    if first:
        _KINDS.insert(0, kind)
    else:
        _KINDS.append(kind)
    if kind.parse is not Scorer.parse:
        add_reference_parser(kind.parse)
    return kind


def unregister(kind: type[Scorer]) -> None:
    if kind in _KINDS:
        _KINDS.remove(kind)
        remove_reference_parser(kind.parse)


def kinds() -> tuple[type[Scorer], ...]:
    """The registered kinds, in the order they are asked."""
    return tuple(_KINDS)


def as_spec(ref: str | ModelId | EmbedSpec, spec: EmbedSpec | None = None) -> tuple[ModelId, EmbedSpec]:
    """The resolved model and the spec it is used as (the model's own pipeline when none is given).

    Raises:
        EmbedLabError: the reference is not one (``resolve_model``).
    """
    if isinstance(ref, EmbedSpec):
        spec = ref
        ref = ref.model_id
    model_id = resolve_model(ref)
    if spec is None:
        spec = EmbedSpec(model=model_id)
    elif spec.model_id != model_id:
        from dataclasses import replace

        spec = replace(spec, model=model_id.key, revision=model_id.revision)
    return model_id, spec


def kind_of(ref: str | ModelId | EmbedSpec, spec: EmbedSpec | None = None) -> type[Scorer]:
    """The kind that serves ``ref`` used as ``spec`` (its own pipeline by default); nothing is loaded.

    Raises:
        EmbedLabError: not a reference, or no registered kind serves it.
    """
    model_id, spec = as_spec(ref, spec)
    return _kind_for(model_id, spec)


def _kind_for(model_id: ModelId, spec: EmbedSpec) -> type[Scorer]:
    for kind in _KINDS:
        if kind.recognises(model_id, spec):
            return kind
    raise EmbedLabError(f"No kind of model serves {model_id.key!r}.")  # pragma: no cover - the fallbacks take any


def default_engine(kind: type[Scorer], model_id: ModelId) -> object:
    return kind.load_engine(model_id)


def open_scorer(
    ref: str | ModelId | EmbedSpec, spec: EmbedSpec | None = None, engine: EngineLoader = default_engine
) -> Scorer:
    """The scorer of ``ref`` used as ``spec`` (default: the model's own pipeline).

    Options the kind cannot honour are refused before anything is loaded. ``engine(kind, model_id)`` loads the
    model (default: ``kind.load_engine``, a fresh load); the app passes a cached loader so every session shares it.

    Raises:
        EmbedLabError: not a reference, an option the kind cannot honour, or the model cannot be loaded.
    """
    model_id, spec = as_spec(ref, spec)
    kind = _kind_for(model_id, spec)
    kind.check_spec(model_id, spec)
    return kind(model_id, spec, engine(kind, model_id))
