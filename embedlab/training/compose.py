"""Compose the sentence-transformers pipeline to train: Transformer -> Pooling -> [Dense] -> [Normalize].

The composed model is always NEW: its Transformer is a deep copy of the loaded model's first module, so training
never touches the model that the other pages share. ``module_list`` is ``str(model)``, the module list exactly as
the library prints it.

Example:
    >>> spec = Composition("all-MiniLM-L6-v2", pooling="cls", dense_out=256)
    >>> model = compose(spec, load_model(spec.model))
    >>> model.get_embedding_dimension()
    256
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Literal, get_args

from embedlab.errors import EmbedLabError
from embedlab.models.loading import LoadedModel
from embedlab.training import ranges
from embedlab.training.ranges import span, within

TrainPooling = Literal["cls", "mean", "max"]
TRAIN_POOLINGS: tuple[str, ...] = get_args(TrainPooling)
Activation = Literal["tanh", "identity"]
ACTIVATIONS: tuple[str, ...] = get_args(Activation)
DENSE_AFTER_NORMALIZE_WARNING = (
    "Dense follows Normalize: the Dense layer gets unit-length inputs, its bias dominates and every cosine goes "
    "high (the 'extreme high cosine' pitfall; measured random-pair cosine 0.50 vs 0.06 with Normalize last). "
    "Put Normalize last."
)


@dataclass(frozen=True)
class Composition:
    """The module list to build, as plain hashable settings.

    Attributes:
        model: the start model reference (anything ``load_model`` accepts).
        pooling: Pooling mode over the last layer's tokens.
        max_seq_length: Transformer truncation length; None keeps the start model's.
        dense_out: output size of a Dense layer after pooling; None for no Dense.
        activation: the Dense layer's activation.
        normalize: add a Normalize module (unit-length embeddings).
        normalize_before_dense: put Normalize BEFORE Dense (a pitfall, kept so it can be shown).
    """

    model: str
    pooling: TrainPooling = "cls"
    max_seq_length: int | None = None
    dense_out: int | None = None
    activation: Activation = "tanh"
    normalize: bool = False
    normalize_before_dense: bool = False

    def __post_init__(self) -> None:
        if self.pooling not in TRAIN_POOLINGS:
            raise EmbedLabError(f"Unknown pooling {self.pooling!r}: choose one of {', '.join(TRAIN_POOLINGS)}.")
        if self.activation not in ACTIVATIONS:
            raise EmbedLabError(f"Unknown activation {self.activation!r}: choose one of {', '.join(ACTIVATIONS)}.")
        if self.dense_out is not None and not within(int(self.dense_out), ranges.DENSE_OUT):
            raise EmbedLabError(f"Dense output size {self.dense_out} is out of range: give {span(ranges.DENSE_OUT)}.")
        if self.max_seq_length is not None and not within(int(self.max_seq_length), ranges.MAX_SEQ_LENGTH):
            raise EmbedLabError(
                f"max_seq_length {self.max_seq_length} is out of range: give {span(ranges.MAX_SEQ_LENGTH)}."
            )

    @property
    def order(self) -> tuple[str, ...]:
        """Module names in pipeline order."""
        tail: list[str] = []
        if self.dense_out is not None:
            tail.append("Dense")
        if self.normalize:
            tail.insert(0 if self.normalize_before_dense else len(tail), "Normalize")
        return ("Transformer", "Pooling", *tail)

    def warnings(self) -> list[str]:
        """What is wrong with this composition, in words (empty when nothing is)."""
        order = self.order
        if "Dense" in order and "Normalize" in order and order.index("Normalize") < order.index("Dense"):
            return [DENSE_AFTER_NORMALIZE_WARNING]
        return []


def method_problem(spec: Composition, method: str, hidden_size: int) -> str | None:
    """Why ``method`` cannot train ``spec`` (checked before a run starts), or None when it can.

    TSDAE decodes the original sentence from the sentence embedding with a decoder of the backbone's own width,
    so the embedding must keep the backbone's size ``hidden_size``: a Dense layer to another size fails when the
    loss is built (``embedlab.training.run.make_loss``), after the model was loaded and measured.

    Example:
        >>> method_problem(Composition("m", dense_out=256), "tsdae", hidden_size=384)  # doctest: +ELLIPSIS
        'TSDAE decodes from the sentence embedding, ...'
    """
    if method == "tsdae" and spec.dense_out is not None and int(spec.dense_out) != int(hidden_size):
        return (
            f"TSDAE decodes from the sentence embedding, which must keep the backbone's size ({hidden_size}), not "
            f"the Dense layer's {spec.dense_out}: remove the Dense layer, or choose another method."
        )
    return None


def compose(spec: Composition, loaded: LoadedModel, seed: int = 0):
    """A new SentenceTransformer built from a deep copy of ``loaded``'s Transformer module.

    ``loaded`` is never modified (it is shared by every session). The new model is in eval mode on the CPU and
    never looks anything up on the Hub for its model card. A Dense layer is initialised from ``seed`` without
    touching the global random state.

    Raises:
        EmbedLabError: the start model's first module is not a Transformer.
    """
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Dense, Normalize, Pooling, Transformer

    source = loaded.st_model[0]
    if not isinstance(source, Transformer):
        raise EmbedLabError(
            f"{loaded.facts.ref!r} does not start with a Transformer module ({type(source).__name__}): "
            "choose a BERT-like encoder to train."
        )
    transformer = copy.deepcopy(source)
    if spec.max_seq_length is not None:
        transformer.max_seq_length = int(spec.max_seq_length)
    width = transformer.get_embedding_dimension()
    modules = []
    for name in spec.order:
        if name == "Transformer":
            modules.append(transformer)
        elif name == "Pooling":
            modules.append(Pooling(width, pooling_mode=spec.pooling))
        elif name == "Dense":
            activation = torch.nn.Tanh() if spec.activation == "tanh" else torch.nn.Identity()
            with torch.random.fork_rng():
                torch.manual_seed(seed)
                modules.append(Dense(width, int(spec.dense_out), activation_function=activation))
        else:
            modules.append(Normalize())
    model = SentenceTransformer(modules=modules, device="cpu")
    model.model_card_data.local_files_only = True  # never look a base model up on the Hub
    model.eval()
    return model


def module_list(model) -> str:
    """The module list exactly as sentence-transformers prints it (``str(model)``)."""
    return str(model)
