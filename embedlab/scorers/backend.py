"""A sentence-transformer whose backbone runs in ONNX Runtime or OpenVINO, fp32 or int8 (``models.backends``):
``all-MiniLM-L6-v2 (ONNX int8)``, ``MODEL (OpenVINO)``, ...

Its own pipeline's vectors only (pair scores are cosines): the session gives the last hidden state and nothing
else, so a pooling, layers, post-processing, the token view, attention and training are refused with the one
message of ``errors.refusal``; they stay with the model itself (the hidden-states views keep PyTorch).
"""

from __future__ import annotations

from typing import ClassVar

from embedlab.embedding.specs import EmbedSpec
from embedlab.embedding.vectors_encoder import VectorsEncoder, VectorsLoaded
from embedlab.models.backends import INSTEAD, WHAT_IT_IS, BackendModel, check_base, split_backend_ref
from embedlab.models.identity import ModelId, resolve_model
from embedlab.models.loading import ModelFacts
from embedlab.scorers.base import VectorScorer
from embedlab.scorers.registry import register

KIND = "backend"  # the kind's name in the JSON of the command line


class BackendLoaded(VectorsLoaded):
    """The ``encoder.model`` of a backend variant: the base model's facts, with the engine named."""

    @property
    def facts(self) -> ModelFacts:
        model = self.vectors_model
        base = model.base_facts
        return ModelFacts(
            ref=self.model_id.key,
            kind=KIND,
            source=f"{base.source}, exported to {model.path}",
            n_layers=base.n_layers,
            hidden_size=base.hidden_size,
            embedding_dim=base.embedding_dim,
            max_seq_length=base.max_seq_length,
            n_parameters=base.n_parameters,
            pipeline=model.facts.description,
        )


class BackendEncoder(VectorsEncoder):
    """``VectorsEncoder`` over a ``BackendModel``, its facts those of the base model."""

    def __init__(self, model: BackendModel, model_id: ModelId) -> None:
        super().__init__(model, model_id)
        self.model = BackendLoaded(model, model_id)


class BackendScorer(VectorScorer):
    """The own pipeline of a base model, its backbone in an exported engine."""

    kind: ClassVar[str] = KIND
    capabilities: ClassVar[frozenset[str]] = frozenset({"vectors"})
    engine_kind: ClassVar[str] = KIND
    what_it_is: ClassVar[str] = WHAT_IT_IS
    instead: ClassVar[str] = INSTEAD

    @classmethod
    def lacks(cls) -> str:
        return "has no tokens, no layers"

    @classmethod
    def parse(cls, ref: str) -> ModelId | None:
        """``MODEL (ONNX int8)`` and the like: the base model's key with the canonical suffix, its revision."""
        variant = split_backend_ref(ref)
        if variant is None:
            return None
        base_id = resolve_model(variant.base)
        return ModelId(base_id.key + variant.suffix, base_id.revision)

    @classmethod
    def recognises(cls, model_id: ModelId, spec: EmbedSpec) -> bool:
        return split_backend_ref(model_id.key) is not None

    @classmethod
    def check_spec(cls, model_id: ModelId, spec: EmbedSpec) -> None:
        """Refuse a base with nothing to export, then options beyond the own pipeline, before anything loads."""
        variant = split_backend_ref(model_id.key)
        check_base(resolve_model(variant.base), variant)
        super().check_spec(model_id, spec)

    @classmethod
    def load_engine(cls, model_id: ModelId, progress=None) -> BackendEncoder:
        return BackendEncoder(BackendModel(model_id), model_id)

    def report(self) -> dict:
        model = self.engine.vectors_model
        return {"kind": KIND, "backend": model.variant.backend, "quantize": model.variant.quantize}


register(BackendScorer)
