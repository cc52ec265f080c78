"""A sentence-transformer through its own pipeline (the modules saved with it: pooling, dense, normalise), pair
scores are cosines. A plain transformers encoder gets mean pooling added by the library, as it loads.

Shares the hidden-state engine (one ``Encoder`` per model) with raw pooling: the own pipeline's vectors come from
the same forward pass.
"""

from __future__ import annotations

from typing import ClassVar

from embedlab.embedding.specs import EmbedSpec
from embedlab.models.identity import ModelId
from embedlab.scorers.hidden_states import HiddenStatesScorer
from embedlab.scorers.registry import register


class SentenceTransformerScorer(HiddenStatesScorer):
    """The model's own pipeline (``spec.pooling == "model"``), post-processing allowed."""

    kind: ClassVar[str] = "sentence-transformer"

    @classmethod
    def recognises(cls, model_id: ModelId, spec: EmbedSpec) -> bool:
        return spec.pooling == "model"


register(SentenceTransformerScorer, first=False)
