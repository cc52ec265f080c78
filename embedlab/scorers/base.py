"""The one interface every kind of model answers to: what it can do, how it scores a pair, its random pairs.

A *kind* is one module in this package (raw pooling of hidden states, a sentence-transformer's own pipeline, an
embeddings service, a cross-encoder, ...), registered with ``embedlab.scorers.registry.register``. Pages, tasks and
commands never test a kind: they open a scorer (``open_scorer(ref, spec)``) and ask it, e.g.
``scorer.can("vectors")``, ``scorer.score(pairs)``, ``scorer.random_pair_baseline()``.

Two families:
    ``VectorScorer``: the model gives sentence vectors through an ``engine`` that answers the ``Encoder`` calls
        (``states``, ``vectors``, ``embed``, ``cached``, ``token_counts``, ``model.facts``); a pair's score is the
        cosine of its two vectors. A new vector kind (a static model, another backend, quantized or truncated
        vectors wrapping another scorer) implements ``recognises`` and ``load_engine`` and declares its capabilities.
    anything else (a cross-encoder): scores a pair in one pass, under its own ``score_name``; ``encode`` refuses
        with the one message of ``errors.refusal``.

Example:
    >>> scorer = open_scorer("all-MiniLM-L6-v2")  # doctest: +SKIP
    >>> scorer.can("vectors"), scorer.score_name  # doctest: +SKIP
    (True, 'cosine')
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import ClassVar, Literal, get_args

import numpy as np
import numpy.typing as npt

from embedlab.corpora import reference_sentences
from embedlab.embedding.baseline import BASELINE_PAIRS, Baseline
from embedlab.embedding.readability import pair_readability
from embedlab.embedding.scoring import pair_cosines, random_pair_baseline
from embedlab.embedding.specs import DEFAULT_LAYERS, EmbedSpec
from embedlab.errors import EmbedLabError, refusal
from embedlab.models.identity import ModelId

Capability = Literal["vectors", "tokens", "joint_tokens", "layers", "attention", "poolings", "postprocess", "training"]
CAPABILITIES: tuple[str, ...] = get_args(Capability)
CAPABILITY_WORDS = {
    "vectors": "sentence vectors",
    "tokens": "tokens",
    "joint_tokens": "the tokens of a pair read together",
    "layers": "layers",
    "attention": "attention",
    "poolings": "a pooling choice",
    "postprocess": "post-processing",
    "training": "training",
}
Progress = Callable[[int, int], None]


def spec_options(spec: EmbedSpec) -> list[str]:
    """What ``spec`` asks beyond the model's own pipeline, in command-line words ([] for the own pipeline)."""
    asked = [f"--pooling {spec.pooling}"] * (spec.pooling != "model")
    asked += [f"--layers {spec.layers}"] * (spec.layers != DEFAULT_LAYERS)
    asked += [f"--post {spec.post}"] * (spec.post != "none")
    return asked


def storage_options(spec: EmbedSpec) -> list[str]:
    """How ``spec`` stores vectors smaller, in command-line words ([] for full float32 vectors)."""
    return [f"--vectors {spec.precision}"] * (spec.precision != "float32") + [f"--dims {spec.dims}"] * (
        spec.dims is not None
    )


class Scorer(ABC):
    """One model of one kind, ready to score pairs. Cheap to build: the heavy part is its ``engine``, which a
    caller may share between scorers (the app keeps one per model in a cache: see ``registry.open_scorer``).

    Class attributes a kind sets:
        kind: the kind's name, for labels and JSON ("cross-encoder", "sentence-transformer", ...).
        capabilities: what it can do (``Capability``).
        score_name: what its scores are: "cosine" for vector kinds, "score" for a model's own score.
        engine_kind: kinds that share one engine per model (raw pooling and the own pipeline share an Encoder).
    """

    kind: ClassVar[str] = ""
    capabilities: ClassVar[frozenset[str]] = frozenset()
    score_name: ClassVar[str] = "cosine"
    engine_kind: ClassVar[str] = ""
    baseline_pairs: ClassVar[int] = BASELINE_PAIRS  # random pairs its baseline scores
    light_engine: ClassVar[bool] = False  # a service client or a small engine: the app may keep more of them
    what_it_is: ClassVar[str] = ""  # "is a cross-encoder: it scores a pair in one pass" (for ``errors.refusal``)
    instead: ClassVar[str] = ""  # where to use it instead, after a refusal

    def __init__(self, model_id: ModelId, spec: EmbedSpec, engine: object) -> None:
        self.model_id = model_id
        self.spec = spec
        self.engine = engine

    # ---------------------------------------------------------------- recognising a reference

    @classmethod
    def parse(cls, ref: str) -> ModelId | None:
        """The ``ModelId`` of a reference only this kind knows (``toy:NAME``), else None (the default: the kind's
        references are ones ``resolve_model`` already knows)."""
        return None

    @classmethod
    @abstractmethod
    def recognises(cls, model_id: ModelId, spec: EmbedSpec) -> bool:
        """Whether this kind serves ``model_id`` used as ``spec`` (no model is loaded to decide)."""

    @classmethod
    @abstractmethod
    def load_engine(cls, model_id: ModelId, progress=None) -> object:
        """The loaded model behind scorers of this kind (shared by every scorer of this model and engine kind);
        ``progress`` reports a download, for a kind that downloads (``hub.ProgressCallback``)."""

    @classmethod
    def check_spec(cls, model_id: ModelId, spec: EmbedSpec) -> None:
        """Refuse, before anything is loaded, what ``spec`` asks beyond the model's own pipeline (a pooling, layers,
        post-processing) when this kind has no hidden states (``refuse_options``), and a vector precision or
        truncation when it has no vectors."""
        cls.refuse_options(model_id.key, spec_options(spec))
        if "vectors" not in cls.capabilities:
            cls.refuse_options(model_id.key, storage_options(spec))

    @classmethod
    def refuse_options(cls, ref: str, asked: Sequence[str]) -> None:
        """Options (command-line words) this kind cannot honour, refused in one message; nothing when ``asked`` is
        empty or the kind honours every option (it has poolings, layers and post-processing).

        Raises:
            EmbedLabError: the kind lacks hidden states and ``asked`` is not empty.
        """
        if asked and not {"poolings", "layers", "postprocess"} <= cls.capabilities:
            raise EmbedLabError(refusal(ref, cls.what_it_is, cls.lacks(), asked, cls.instead))

    @classmethod
    def lacks(cls) -> str:
        """What the kind lacks, in words ("has no sentence vector, no tokens, no layers")."""
        missing = [CAPABILITY_WORDS[name] for name in ("vectors", "tokens", "layers") if name not in cls.capabilities]
        return "has no " + (", no ".join(missing) if missing else "hidden states")

    # ---------------------------------------------------------------- what it can do

    def can(self, capability: Capability) -> bool:
        if capability not in CAPABILITIES:
            raise EmbedLabError(f"Unknown capability {capability!r}: one of {', '.join(CAPABILITIES)}.")
        return capability in self.capabilities

    def require(self, capability: Capability, what: str) -> None:
        """Refuse ``what`` (words: "the token view") when this scorer lacks ``capability``.

        Raises:
            EmbedLabError: it does.
        """
        self.refuse_unless(self.ref, capability, what)

    @classmethod
    def refuse_unless(cls, ref: str, capability: Capability, what: str) -> None:
        """``require`` before anything is loaded: ``kind_of(ref).refuse_unless(ref, "tokens", "the token view")``.

        Raises:
            EmbedLabError: the kind lacks ``capability``.
        """
        if capability not in cls.capabilities:
            raise EmbedLabError(refusal(ref, cls.what_it_is, cls.lacks(), what, cls.instead))

    @property
    def ref(self) -> str:
        return self.model_id.key

    def as_spec(self, spec: EmbedSpec) -> Scorer:
        """This model used as ``spec`` on the same engine: ``scorer.as_spec(scorer.spec.full)`` scores the full
        float32 vectors next to stored-smaller ones."""
        type(self).check_spec(self.model_id, spec)
        return type(self)(self.model_id, spec, self.engine)

    @property
    def label(self) -> str:
        """The configuration in words, as tables and charts name it."""
        return f"{self.ref} · {self.kind} {self.score_name}"

    # ---------------------------------------------------------------- scoring

    @abstractmethod
    def score(self, pairs: Sequence[tuple[str, str]], progress: Progress | None = None) -> npt.NDArray[np.float64]:
        """(len(pairs),) float64 scores; entry i is pairs[i] (cosines for a vector kind)."""

    def encode(self, texts: Sequence[str], progress: Progress | None = None) -> npt.NDArray[np.float32]:
        """(len(texts), dims) sentence vectors; row i is texts[i].

        Raises:
            EmbedLabError: the kind has no vectors (the one message of ``errors.refusal``).
        """
        self.require("vectors", "sentence vectors (encoding a text on its own)")
        raise NotImplementedError  # pragma: no cover - a kind with vectors overrides this

    @abstractmethod
    def random_pair_baseline(self, texts: Sequence[str] | None = None) -> Baseline:
        """What its scores of seeded mismatched pairs of ``texts`` (default: the reference sentences) look like."""

    def joint_input(self, pair: tuple[str, str]):
        """``pair`` as one joint input (``models.cross.JointInput``: its tokens, a differentiable forward to the
        score), for a kind that reads a pair at once (``can("joint_tokens")``).

        Raises:
            EmbedLabError: the kind reads no joint input.
        """
        self.require("joint_tokens", "a token-by-token explanation of its score")
        raise NotImplementedError  # pragma: no cover - a kind with joint tokens overrides this

    def notes(self, pairs: Sequence[tuple[str, str]]) -> list[str]:
        """Per pair, what the user must know about its texts ("" where nothing): a text it cannot read, ..."""
        return [""] * len(pairs)

    def undefined(self, baseline: Baseline) -> str | None:
        """Why percentiles against ``baseline`` rank nothing, or None (the default: they are defined)."""
        return None

    @property
    def work_done(self) -> int:
        """Model passes so far (texts encoded, or pairs scored): what the cost notes count."""
        return 0

    def report(self) -> dict:
        """The fields the command line's JSON adds for this kind ({} for a model loaded here): its kind, what it
        was sent or how many passes it took."""
        return {}

    def headline(self, baseline: Baseline) -> str:
        """The first line of ``score``'s text output: the configuration and its random-pair baseline."""
        return f"{self.label}  (random-pair baseline: mean {baseline.mean:.3f}, p95 {baseline.p95:.3f})"


class VectorScorer(Scorer):
    """A kind with sentence vectors: the engine answers the ``Encoder`` calls, a pair scores the cosine of its
    two vectors under ``spec``, the baseline is ``embedding.scoring.random_pair_baseline``."""

    score_name: ClassVar[str] = "cosine"

    @property
    def encoder(self):
        """The engine, as the tasks that take an ``Encoder`` want it."""
        return self.engine

    @property
    def label(self) -> str:
        return self.spec.label

    def score(self, pairs: Sequence[tuple[str, str]], progress: Progress | None = None) -> npt.NDArray[np.float64]:
        return pair_cosines(self.engine, list(pairs), self.spec, progress)

    def encode(self, texts: Sequence[str], progress: Progress | None = None) -> npt.NDArray[np.float32]:
        return self.engine.embed(list(texts), self.spec, progress)

    def random_pair_baseline(self, texts: Sequence[str] | None = None) -> Baseline:
        return random_pair_baseline(self.engine, self.spec, texts)

    def notes(self, pairs: Sequence[tuple[str, str]]) -> list[str]:
        return [note for _, _, note in pair_readability(self.engine, list(pairs))]

    @property
    def work_done(self) -> int:
        return int(getattr(self.engine, "texts_encoded", 0))


def corpus_or_reference(texts: Sequence[str] | None) -> list[str]:
    """``texts`` without repeats, or the bundled reference sentences."""
    return list(dict.fromkeys(texts if texts is not None else reference_sentences()))
