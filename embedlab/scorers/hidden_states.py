"""Raw pooling of hidden states: a pooling of the chosen layers of any encoder loadable here (``EmbedSpec`` +
``Encoder``), pair scores are cosines.

Serves a model used with a pooling other than its own pipeline (``spec.pooling != "model"``); registered last with
the sentence-transformer kind: any model loadable here (a Hub id, a folder, the packaged and untrained models) can
be pooled raw.
"""

from __future__ import annotations

from typing import ClassVar

from embedlab.embedding.encoder import Encoder
from embedlab.embedding.specs import EmbedSpec
from embedlab.models.identity import ModelId
from embedlab.models.loading import load_model
from embedlab.scorers.base import CAPABILITIES, VectorScorer
from embedlab.scorers.registry import register

HIDDEN_STATES = "hidden-states"  # the engine kind: one Encoder per model serves raw pooling and the own pipeline


class HiddenStatesScorer(VectorScorer):
    """A pooling of hidden states: every capability (tokens, layers, attention, poolings, post-processing,
    training)."""

    kind: ClassVar[str] = "raw pooling"
    capabilities: ClassVar[frozenset[str]] = frozenset(CAPABILITIES) - {"joint_tokens"}  # sentences, not pairs
    engine_kind: ClassVar[str] = HIDDEN_STATES
    what_it_is: ClassVar[str] = "is an encoder"

    @classmethod
    def recognises(cls, model_id: ModelId, spec: EmbedSpec) -> bool:
        return spec.pooling != "model"

    @classmethod
    def load_engine(cls, model_id: ModelId, progress=None) -> Encoder:
        """An ``Encoder`` over ``load_model(model_id)`` (``progress`` reports a Hub download)."""
        return Encoder(load_model(model_id, progress=progress))


register(HiddenStatesScorer, first=False)
