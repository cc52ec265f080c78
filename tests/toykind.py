"""A toy kind of model, defined here and nowhere in the app: ``toy:NAME`` gives vectors of hashed character
trigrams (no download, no network). Registering it must make it work on every page and command that asks a scorer
for a capability, with no change outside the tests: the proof that a kind is one module plus ``register``.
"""

from __future__ import annotations

import hashlib
from typing import ClassVar

import numpy as np
import numpy.typing as npt

from embedlab.embedding.specs import EmbedSpec
from embedlab.embedding.vectors_encoder import VectorsEncoder
from embedlab.models.identity import ModelId
from embedlab.models.vectors import VectorFacts, VectorsModel
from embedlab.scorers.base import VectorScorer

PREFIX = "toy:"
DIMS = 64


def trigram_vector(text: str) -> npt.NDArray[np.float32]:
    """(DIMS,) unit vector: each character trigram of " text " adds 1 at the bucket its md5 picks."""
    padded = f" {text.lower()} "
    vector = np.zeros(DIMS, np.float32)
    for start in range(max(1, len(padded) - 2)):
        digest = hashlib.md5(padded[start : start + 3].encode("utf-8")).digest()
        vector[int.from_bytes(digest[:4], "little") % DIMS] += 1.0
    return vector / max(float(np.linalg.norm(vector)), 1e-12)


class ToyVectors(VectorsModel):
    """The toy's engine: the vectors machinery every vectors-only model shares (cache, counts), trigram vectors."""

    def __init__(self, ref: str) -> None:
        super().__init__()
        self.facts = VectorFacts(
            ref=ref, kind="toy", name=ref.removeprefix(PREFIX), endpoint=None, description="hashed character trigrams"
        )

    def _embed_batch(self, texts: list[str], deadline: float) -> npt.NDArray[np.float32]:
        self.requests += 1
        return np.stack([trigram_vector(text) for text in texts])


class ToyScorer(VectorScorer):
    kind: ClassVar[str] = "toy"
    capabilities: ClassVar[frozenset[str]] = frozenset({"vectors"})
    engine_kind: ClassVar[str] = "toy"
    light_engine: ClassVar[bool] = True
    what_it_is: ClassVar[str] = "is a toy of hashed trigrams"

    @classmethod
    def parse(cls, ref: str) -> ModelId | None:
        ref = ref.strip()
        return ModelId(ref) if ref.startswith(PREFIX) and len(ref) > len(PREFIX) else None

    @classmethod
    def recognises(cls, model_id: ModelId, spec: EmbedSpec) -> bool:
        return model_id.key.startswith(PREFIX)

    @classmethod
    def load_engine(cls, model_id: ModelId, progress=None) -> VectorsEncoder:
        return VectorsEncoder(ToyVectors(model_id.key), model_id)
