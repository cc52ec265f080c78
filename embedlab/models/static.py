"""Static models: a sentence-transformers folder whose one module is a ``StaticEmbedding`` (a table of token vectors,
averaged per sentence), such as a model distilled here (``embedlab.training.distill``) or by model2vec.

A static model has no layers, no attention and no hidden states: only its own sentence vectors. It is served like
the vectors-only models (``embedlab.embedding.vectors_encoder.VectorsEncoder``: cached per text, counted), by the
kind ``embedlab.scorers.static``. Its vectors are ``SentenceTransformer(folder).encode`` exactly, so a score here
equals the plain library's cosine.

Example:
    >>> is_static_folder("models/minilm-static")  # doctest: +SKIP
    True
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import numpy.typing as npt

from embedlab.errors import EmbedLabError
from embedlab.models.vectors import VectorFacts, VectorsModel

STATIC_MODULE = "StaticEmbedding"
STATIC_WHAT_IT_IS = "is a static model: a table of token vectors, averaged (no layers, no attention)"
STATIC_INSTEAD = "Use its own vectors, or the model it was distilled from for tokens, layers and training."


def is_static_folder(folder: str | Path) -> bool:
    """True for a sentence-transformers folder whose first module is a ``StaticEmbedding`` (read from
    ``modules.json``; nothing is loaded); False for anything else."""
    path = Path(folder) / "modules.json"
    try:
        if not path.is_file():
            return False
        modules = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(modules, list) or not modules or not isinstance(modules[0], dict):
        return False
    return str(modules[0].get("type", "")).endswith(STATIC_MODULE)


class InMemoryStatic(VectorsModel):
    """A static ``SentenceTransformer`` (loaded, or just distilled) as a vectors-only model; ``ref`` names it."""

    def __init__(self, st_model, ref: str, source: str = "distilled in Embedding Lab") -> None:
        super().__init__()
        self.st_model = st_model
        self._engine_lock = threading.Lock()
        module = st_model[0]
        self.dims = int(module.embedding_dim)
        self.facts = VectorFacts(
            ref=ref,
            kind="static",
            name=Path(ref).name or ref,
            endpoint=None,
            description=(
                f"StaticEmbedding: {module.num_embeddings:,} token vectors of {module.embedding_dim} dimensions, "
                f"averaged per sentence ({source})"
            ),
        )

    def encode_uncached(self, texts: list[str]) -> npt.NDArray[np.float32]:
        """The library's own encode, no cache: what the cost table times (``embedlab.tasks.variants``)."""
        with self._engine_lock:
            return self.st_model.encode(list(texts), batch_size=64, convert_to_numpy=True, show_progress_bar=False)

    def _embed_batch(self, texts: list[str], deadline: float) -> npt.NDArray[np.float32]:
        self.requests += 1
        with self._engine_lock:
            vectors = self.st_model.encode(texts, convert_to_numpy=True, show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), -1)


def distilled_from(folder: str | Path) -> str | None:
    """The start model a static folder was distilled from here (its ``training.json``), or None: then it is a
    variant of that model in the cost table."""
    try:
        facts = json.loads((Path(folder) / "training.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(facts, dict) or facts.get("method") != "distill" or not is_static_folder(folder):
        return None
    start = facts.get("start_model")
    return start if isinstance(start, str) and start else None


def load_static_model(folder: str | Path) -> InMemoryStatic:
    """The static model saved in ``folder``.

    Raises:
        EmbedLabError: the folder cannot be loaded.
    """
    from sentence_transformers import SentenceTransformer

    try:
        st_model = SentenceTransformer(str(folder), device="cpu", local_files_only=True, trust_remote_code=False)
    except Exception as error:  # noqa: BLE001 - library errors are many; the user needs one message
        raise EmbedLabError(f"Could not load {str(folder)!r}: {str(error).splitlines()[0]}") from None
    st_model.eval()
    return InMemoryStatic(st_model, str(folder), f"folder {folder}")


def static_encoder(static_model: InMemoryStatic, model_id=None):
    """The ``VectorsEncoder`` over a static model (what the tasks take as an Encoder)."""
    from embedlab.embedding.vectors_encoder import VectorsEncoder

    return VectorsEncoder(static_model, model_id)
