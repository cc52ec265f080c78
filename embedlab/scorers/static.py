"""Static models (``embedlab.models.static``): a folder whose one module is a ``StaticEmbedding``, such as a model
distilled here. Its own sentence vectors only, through ``VectorsEncoder`` (cached per text): a pooling, a layer,
post-processing, the token view, attention and training are refused with the one message of ``errors.refusal``.
Vector precision and truncation apply as to any model with vectors.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import ClassVar

from embedlab.embedding.specs import EmbedSpec
from embedlab.embedding.vectors_encoder import VectorsEncoder
from embedlab.models.identity import ModelId
from embedlab.models.static import STATIC_INSTEAD, STATIC_WHAT_IT_IS, is_static_folder, load_static_model
from embedlab.scorers.base import VectorScorer
from embedlab.scorers.registry import register

KIND = "static"  # the kind's name in the JSON of the command line


@functools.lru_cache(maxsize=256)
def _is_static(folder: str, revision: str) -> bool:
    """Whether a folder (at one revision: a rewritten folder is looked at again) holds a static model."""
    return is_static_folder(folder)


class StaticScorer(VectorScorer):
    """A static model's own vectors: the mean of its token vectors, as ``SentenceTransformer(folder).encode``."""

    kind: ClassVar[str] = KIND
    capabilities: ClassVar[frozenset[str]] = frozenset({"vectors"})
    engine_kind: ClassVar[str] = KIND
    light_engine: ClassVar[bool] = True
    what_it_is: ClassVar[str] = STATIC_WHAT_IT_IS
    instead: ClassVar[str] = STATIC_INSTEAD

    @classmethod
    def recognises(cls, model_id: ModelId, spec: EmbedSpec) -> bool:
        return (
            model_id.revision != "" and Path(model_id.key).is_absolute() and _is_static(model_id.key, model_id.revision)
        )

    @classmethod
    def load_engine(cls, model_id: ModelId, progress=None) -> VectorsEncoder:
        return VectorsEncoder(load_static_model(model_id.key), model_id)

    def report(self) -> dict:
        """Kind and dims."""
        return {"kind": KIND, "dims": self.engine.vectors_model.dims}


register(StaticScorer)
