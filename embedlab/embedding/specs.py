"""Option sets and the frozen settings of one embedding configuration.

Every option set is a ``Literal`` with one validation point, so the pages, the command line and the
tests accept and reject exactly the same values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Literal, get_args

from embedlab.corpora import reference_sentences
from embedlab.embedding.compression import check_dims, check_precision, compression_label
from embedlab.embedding.postprocess import check_post, check_post_dims, post_label
from embedlab.errors import EmbedLabError
from embedlab.models.identity import ModelId
from embedlab.models.names import PACKAGED
from embedlab.models.vectors import is_vectors_ref

Pooling = Literal[
    "model", "cls", "mean", "max", "pooler", "mean_max", "mean_sqrt_len_tokens", "weightedmean", "lasttoken"
]
POOLINGS: tuple[str, ...] = get_args(Pooling)
RAW_POOLINGS: tuple[str, ...] = ("cls", "mean", "max")
# Defined at every layer (besides RAW_POOLINGS): mean_max = mean and max concatenated (bert-as-service's
# REDUCE_MEAN_MAX); mean_sqrt_len_tokens, weightedmean, lasttoken = sentence-transformers' Pooling modes.
LAYER_POOLINGS: tuple[str, ...] = (*RAW_POOLINGS, "mean_max", "mean_sqrt_len_tokens", "weightedmean", "lasttoken")
LAST_LAYER_ONLY: tuple[str, ...] = ("model", "pooler")  # the layer spec does not apply: always "-1"

DEFAULT_LAYERS = "-1"
_RANGE = re.compile(r"^(-?\d+):(-?\d+)$")


def check_pooling(pooling: str) -> Pooling:
    """Return ``pooling`` if it is valid, else raise naming the valid ones."""
    if pooling not in POOLINGS:
        raise EmbedLabError(f"Unknown pooling {pooling!r}: choose one of {', '.join(POOLINGS)}.")
    return pooling  # type: ignore[return-value]


def parse_layers(spec: str, n_hidden_states: int) -> tuple[int, ...]:
    """Resolve a layer spec to the hidden-state indices it averages.

    Hidden state 0 is the embedding layer, 1..L the transformer layers (``n_hidden_states = L + 1``).

    Accepted specs:
        ``"7"`` / ``"-1"``: one layer (negative counts from the last);
        ``"last"``: the last layer; ``"first-last"``: mean of layer 1 and the last (SimCSE ``avg_first_last``);
        ``"a:b"``: mean of layers a..b inclusive; ``"1,4,-1"``: mean of the listed layers.

    Example:
        >>> parse_layers("first-last", 7)
        (1, 6)
        >>> parse_layers("2:4", 7)
        (2, 3, 4)

    Returns:
        Sorted, de-duplicated, non-negative indices into the hidden states.

    Raises:
        EmbedLabError: the spec is malformed or names a layer the model does not have.
    """
    text = str(spec).strip().lower().replace(" ", "")
    last = n_hidden_states - 1

    def index(token: str) -> int:
        try:
            value = int(token)
        except ValueError:
            raise EmbedLabError(
                f"Layer spec {spec!r} is not understood: use an index (0 = embeddings, -1 = last), "
                "'first-last', 'a:b' or a comma list such as '1,4,-1'."
            ) from None
        resolved = value + n_hidden_states if value < 0 else value
        if not 0 <= resolved <= last:
            raise EmbedLabError(
                f"Layer {value} does not exist: this model has layers 0 (embeddings) to {last} "
                f"(or -{n_hidden_states} to -1)."
            )
        return resolved

    if not text:
        raise EmbedLabError(
            "The layer spec is empty: give an index (0 = embeddings, -1 = last), 'first-last', 'a:b' or a comma "
            "list such as '1,4,-1'."
        )
    if text == "last":
        indices = [last]
    elif text == "first-last":
        indices = [1 if last >= 1 else 0, last]
    elif match := _RANGE.match(text):
        start, stop = index(match.group(1)), index(match.group(2))
        if start > stop:
            raise EmbedLabError(f"Layer range {spec!r} is empty: the first layer must not come after the last.")
        indices = list(range(start, stop + 1))
    else:
        indices = [index(token) for token in text.split(",")]
    return tuple(sorted(set(indices)))


@dataclass(frozen=True)
class EmbedSpec:
    """One embedding configuration, hashable so Streamlit and the engine can cache on it.

    Example:
        >>> EmbedSpec(model="all-MiniLM-L6-v2", pooling="mean", layers="first-last").label
        'all-MiniLM-L6-v2 · mean · layers first-last'

    ``layers`` is ignored when ``pooling == "model"`` (the model's own pipeline decides) or ``"pooler"`` (BERT's
    ``pooler_output``: the last layer's CLS through the dense + tanh layer trained for next-sentence prediction).

    Post-processing (see ``embedlab.embedding.postprocess``): ``post`` is none, center, abtt or whiten; ``post_dims``
    the directions abtt removes or the dimensions whitening keeps (None: the default; always None for none/center);
    ``post_corpus`` the sentences the transform is fitted on (None: the bundled reference sentences; always
    None when ``post == "none"``). The label gains " · <post-processing>" only when ``post != "none"``.

    Storage (see ``embedlab.embedding.compression``), for any model with vectors, after post-processing:
    ``precision`` float32, int8, uint8 or binary; ``dims`` the first k dimensions kept (None: all). The label gains
    " · int8 vectors · first 128 dims" when either is set.
    """

    model: str
    pooling: Pooling = "model"
    layers: str = DEFAULT_LAYERS
    post: str = "none"
    post_dims: int | None = None
    post_corpus: tuple[str, ...] | None = field(default=None, repr=False)
    revision: str = ""
    precision: str = "float32"
    dims: int | None = None

    def __post_init__(self) -> None:
        if isinstance(self.model, ModelId):
            object.__setattr__(self, "revision", self.model.revision)
            object.__setattr__(self, "model", self.model.key)
        check_pooling(self.pooling)
        if self.pooling in LAST_LAYER_ONLY:
            object.__setattr__(self, "layers", DEFAULT_LAYERS)
        check_post(self.post)
        object.__setattr__(self, "post_dims", check_post_dims(self.post, self.post_dims))
        check_precision(self.precision)
        object.__setattr__(self, "dims", check_dims(self.dims))
        asked = [f"pooling {self.pooling}"] if self.pooling != "model" else []
        asked += [f"layers {self.layers}"] if self.layers != DEFAULT_LAYERS else []
        asked += [f"post-processing {self.post}"] if self.post != "none" else []
        if asked and is_vectors_ref(self.model):
            raise EmbedLabError(
                f"{self.model} gives sentence vectors only (no hidden states): {', '.join(asked)} cannot apply to "
                "it. Use its own pipeline."
            )
        corpus = None
        if self.post != "none" and self.post_corpus is not None:
            corpus = tuple(dict.fromkeys(str(text).strip() for text in self.post_corpus if str(text).strip()))
        object.__setattr__(self, "post_corpus", corpus)

    @property
    def model_id(self) -> ModelId:
        """The model identity this spec was built for (key and revision)."""
        return ModelId(self.model, self.revision)

    @property
    def label(self) -> str:
        if self.pooling == "model":
            base = f"{self.model} · own pipeline"
        else:
            base = f"{self.model} · {self.pooling} · layers {self.layers}"
        if self.post != "none":
            corpus_size = None if self.post_corpus is None else len(self.post_corpus)
            base = f"{base} · {post_label(self.post, self.post_dims, corpus_size)}"
        stored = compression_label(self.precision, self.dims)
        return f"{base} · {stored}" if stored else base

    @property
    def compressed(self) -> bool:
        """Whether vectors are stored smaller than the model gives them (a precision or a truncation)."""
        return self.precision != "float32" or self.dims is not None

    @property
    def full(self) -> EmbedSpec:
        """The same configuration with full float32 vectors: what a compressed one is shown next to."""
        return replace(self, precision="float32", dims=None)


def new_session_specs(raw_model: str | ModelId) -> tuple[EmbedSpec, EmbedSpec]:
    """The raw and trained configurations a new session starts with: CLS of ``raw_model``'s last layer, and the
    packaged sentence-transformer's own pipeline."""
    return EmbedSpec(model=raw_model, pooling="cls", layers=DEFAULT_LAYERS), EmbedSpec(model=PACKAGED, pooling="model")


def fitting_corpus(spec: EmbedSpec) -> tuple[str, ...]:
    """The sentences ``spec``'s post-processing is fitted on: its own corpus, else the bundled reference sentences."""
    return spec.post_corpus if spec.post_corpus is not None else reference_sentences()


VIEW_FIELDS = ("model", "pooling", "layers", "post", "post_dims")  # what a shared view carries (views.SpecFields)


def spec_fields(spec: EmbedSpec) -> dict:
    """The plain fields of a configuration, as a view carries them (``embedlab.views.SpecFields`` reads them back).

    Raises:
        EmbedLabError: the spec has a post-processing fitting corpus (a view always fits on the bundled sentences).
    """
    if spec.post_corpus is not None:
        raise EmbedLabError("A view cannot carry a post-processing fitting corpus: use the bundled sentences.")
    return {name: getattr(spec, name) for name in VIEW_FIELDS}
