"""Hidden states once per (model, text); every pooling and layer choice from the cache.

One forward pass with ``output_hidden_states=True`` yields all L+1 hidden states. From them the encoder keeps,
per text, the CLS, mean and max vectors of every layer plus the model's own pipeline output. Any later choice of
pooling or layer spec for a text already seen is a lookup and an average: no forward pass.

Layer mixes average the per-layer pooled vectors (``pooling.mix_layers``, also used by the STS grid). For ``cls`` and
``mean`` this equals pooling the averaged hidden states (both are linear); for ``max`` it is the mean of each layer's
max-pooled vector.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
from cachetools import LRUCache

from embedlab.corpora import reference_sentences
from embedlab.corpus.lookup import StoredLookup
from embedlab.embedding.compression import CALIBRATED, compress
from embedlab.embedding.forward import BATCH_SIZE, forward_batches
from embedlab.embedding.pooling import LAYER_POOLERS, mix_layers, pooler_weights_present
from embedlab.embedding.postprocess import PostTransform, fit_postprocess
from embedlab.embedding.specs import RAW_POOLINGS, EmbedSpec, fitting_corpus, parse_layers
from embedlab.errors import EmbedLabError
from embedlab.models.loading import LoadedModel

if TYPE_CHECKING:  # torch is imported by the calls that run a model: see embedlab/models/numpy_bert.py
    import torch

Progress = Callable[[int, int], None]  # (texts done, texts to do)
DEFAULT_CACHE_BYTES = 768 * 2**20
MAX_TRANSFORMS = 16  # fitted post-processing transforms kept per encoder (LRU)
KEEP_TOKEN_TEXTS = 64  # a call encoding at most this many new texts keeps their token states (pairs, not corpora)
TOKEN_CACHE_BYTES = 64 * 2**20  # token states kept per encoder (LRU): what ``Encoder.token_states`` reuses


@dataclass(frozen=True)
class TextStates:
    """Everything kept for one text.

    Attributes:
        pooled: {"cls"|"mean"|"max"|"weightedmean"|"lasttoken": (n_hidden_states, hidden) float32}; row 0 is the
            embedding layer.
        model: (embedding_dim,) float32, the model's own sentence-transformers pipeline output.
        n_tokens: tokens of the full text, special tokens included, before truncation.
        truncated: the text was longer than the model's max_seq_length and was cut.
        n_content: tokens the model read that are not special ([CLS], [SEP], padding); [UNK] counts here.
        n_unknown: of those, how many are the tokenizer's unknown token: text the model cannot read.
        pooler: (hidden,) float32 ``pooler_output`` (dense + tanh on the last layer's CLS), None when the model
            has no pooler weights.
        n_read: tokens the model read (after truncation), special tokens included.
    """

    pooled: dict[str, npt.NDArray[np.float32]]
    model: npt.NDArray[np.float32]
    n_tokens: int
    truncated: bool
    n_content: int = 0
    n_unknown: int = 0
    pooler: npt.NDArray[np.float32] | None = None
    n_read: int = 0

    @property
    def nbytes(self) -> int:
        extra = 0 if self.pooler is None else self.pooler.nbytes
        return self.model.nbytes + sum(array.nbytes for array in self.pooled.values()) + extra + 200


@dataclass(frozen=True)
class TokenStates:
    """One text's per-token hidden states, as the forward pass that scored it left them.

    Attributes:
        tokens: the tokens the model read (special tokens included, padding left out), n_read of them.
        hidden: (n_hidden_states, n_read, hidden) float32; row 0 is the embedding layer.
        special: (n_read,) bool, True for the tokenizer's special tokens ([CLS], [SEP]; not [UNK]).
        features: the model inputs of this text alone ((1, n_read) tensors: input_ids, attention_mask, ...).
    """

    tokens: tuple[str, ...]
    hidden: npt.NDArray[np.float32]
    special: npt.NDArray[np.bool_]
    features: dict[str, torch.Tensor]

    @property
    def nbytes(self) -> int:
        return self.hidden.nbytes + self.special.nbytes + 64 * len(self.tokens) + 200


@dataclass(frozen=True)
class TokenCounts:
    """What ``readability`` and the truncation notes judge of one text, from its tokenization alone.

    Attributes:
        n_content: tokens the model reads that are not special; [UNK] counts here (``TextStates.n_content``).
        n_unknown: of those, the tokenizer's unknown token (``TextStates.n_unknown``).
        n_tokens: tokens of the full text, special tokens included, before truncation (``TextStates.n_tokens``).
        truncated: the text is longer than the model's max_seq_length and is cut (``TextStates.truncated``).
    """

    n_content: int
    n_unknown: int
    n_tokens: int = 0
    truncated: bool = False


class Encoder:
    """Embeds texts with one model, keeping a bounded LRU cache of every text's pooled hidden states.

    Thread-safe: a Streamlit ``cache_resource`` shares one Encoder between sessions.

    Example:
        >>> encoder = Encoder(load_model("all-MiniLM-L6-v2"))
        >>> encoder.embed(["How old are you?"], EmbedSpec("all-MiniLM-L6-v2", "cls", "first-last")).shape
        (1, 384)
    """

    writes_reference_states = True  # its states of the reference sentences may be kept on disk (reference_cache)

    def __init__(self, model: LoadedModel, max_cache_bytes: int = DEFAULT_CACHE_BYTES) -> None:
        self.model = model
        self.max_cache_bytes = max_cache_bytes
        self._cache: LRUCache[str, TextStates] = LRUCache(max_cache_bytes, getsizeof=lambda state: state.nbytes)
        self._lock = threading.RLock()
        self.forward_passes = 0  # model calls (batches); tests count them
        self.texts_encoded = 0
        self._transforms: LRUCache[EmbedSpec, PostTransform] = LRUCache(MAX_TRANSFORMS)
        self.transforms_fitted = 0  # tests count them
        self._tokens: LRUCache[str, TokenStates] = LRUCache(TOKEN_CACHE_BYTES, getsizeof=lambda kept: kept.nbytes)
        # random weights are the point of untrained-bert; otherwise the checkpoint must hold the pooler's weights
        self.has_pooler = model.facts.kind == "untrained" or pooler_weights_present(model.backbone)
        self.stored = StoredLookup(model.model_id)  # own-pipeline vectors of finished corpus jobs, read not encoded

    # ---------------------------------------------------------------- cache

    def states(self, texts: Sequence[str], progress: Progress | None = None) -> list[TextStates]:
        """States for every text, running the model only on texts not cached. Row i is texts[i]."""
        with self._lock:
            # Hits are taken before anything is stored, and fresh states are kept here too: when one call holds
            # more texts than the cache, states evicted by this very call are still returned, never re-encoded.
            found: dict[str, TextStates] = {}
            for text in texts:
                state = self._cache.get(text)  # a hit is the most recently used now
                if state is not None and text not in found:
                    found[text] = state
        missing = [text for text in dict.fromkeys(texts) if text not in found]
        if missing:
            # The model runs outside the lock: a long encoding in one session must not block lookups of cached
            # texts in the others (two sessions asking for the same new texts at once may both encode them).
            kept: dict[str, TokenStates] | None = {} if len(missing) <= KEEP_TOKEN_TEXTS else None
            fresh = self._encode(missing, progress, kept)
            with self._lock:
                for text, state in zip(missing, fresh, strict=True):
                    self._put(text, state)
                    found[text] = state
                self._keep_tokens(kept or {})
        return [found[text] for text in texts]

    def token_states(self, texts: Sequence[str]) -> list[TokenStates]:
        """Per-token hidden states of ``texts`` (row i is texts[i]), from the forward pass that scored them when it
        kept them (a call of at most ``KEEP_TOKEN_TEXTS`` new texts does, in a ``TOKEN_CACHE_BYTES`` LRU).

        A text not kept runs the model once, and that pass also fills the sentence-vector cache: explaining a
        pair and scoring it cost one forward pass together, in either order.
        """
        with self._lock:
            found = {text: kept for text in texts if (kept := self._tokens.get(text)) is not None}
        missing = [text for text in dict.fromkeys(texts) if text not in found]
        if missing:
            kept: dict[str, TokenStates] = {}
            fresh = self._encode(missing, None, kept)
            with self._lock:
                for text, state in zip(missing, fresh, strict=True):
                    self._put(text, state)
                self._keep_tokens(kept)
            found.update(kept)
        return [found[text] for text in texts]

    def _keep_tokens(self, kept: dict[str, TokenStates]) -> None:
        for text, token_states in kept.items():
            if token_states.nbytes <= TOKEN_CACHE_BYTES:
                self._tokens[text] = token_states

    def _put(self, text: str, state: TextStates) -> None:
        if state.nbytes <= self.max_cache_bytes:  # one text larger than the whole cache is returned, not kept
            self._cache[text] = state  # the least recently used go until it fits

    def cached(self, text: str) -> bool:
        return text in self._cache

    def token_counts(self, texts: Sequence[str]) -> list[TokenCounts]:
        """Content, unknown and full token counts of each text as the model reads it, and whether it is cut (what
        ``readability`` and the truncation notes judge): from the cached states, else from the model's own
        tokenization alone (the same ``preprocess`` the forward pass runs), without a forward pass. Row i is
        texts[i]; the numbers equal those of ``states(texts)``."""
        with self._lock:
            cached = {text: self._cache.get(text) for text in dict.fromkeys(texts)}
        missing = [text for text, state in cached.items() if state is None]
        counts = {
            text: TokenCounts(state.n_content, state.n_unknown, state.n_tokens, state.truncated)
            for text, state in cached.items()
            if state is not None
        }
        max_len = self.model.facts.max_seq_length
        for start in range(0, len(missing), BATCH_SIZE):
            batch = missing[start : start + BATCH_SIZE]
            features = self.model.st_model.preprocess(batch)
            mask = features["attention_mask"]  # (batch, seq)
            content, unknown = self._unknown_counts(features["input_ids"], mask)
            n_tokens = self._full_lengths(batch, mask)
            for row, text in enumerate(batch):
                counts[text] = TokenCounts(content[row], unknown[row], n_tokens[row], n_tokens[row] > max_len)
        return [counts[text] for text in texts]

    def hold(self, texts: Sequence[str], states: Sequence[TextStates]) -> None:
        """Keep states computed elsewhere (``reference_cache`` reads them from disk); row i is ``texts[i]``."""
        with self._lock:
            for text, state in zip(texts, states, strict=True):
                self._put(text, state)

    # ---------------------------------------------------------------- model

    def _encode(
        self, texts: list[str], progress: Progress | None, kept: dict[str, TokenStates] | None = None
    ) -> list[TextStates]:
        """Run the model on ``texts``; ``kept``, when given, receives every text's ``TokenStates`` too."""
        import torch

        with torch.inference_mode():
            st_model = self.model.st_model
            max_len = self.model.facts.max_seq_length
            results: list[TextStates | None] = [None] * len(texts)
            done = 0
            for batch in forward_batches(self.model, texts, BATCH_SIZE):
                with self._lock:
                    self.forward_passes += 1
                mask = batch.attention_mask  # (batch, seq)
                # Pool layer by layer, then stack the small pooled vectors: stacking the hidden states themselves
                # would copy (n_hidden_states, batch, seq, hidden) floats per batch for nothing.
                pooled = {  # name -> (batch, n_hidden_states, hidden)
                    name: torch.stack([pool(h, mask) for h in batch.hidden_states], dim=1).float().numpy()
                    for name, pool in LAYER_POOLERS.items()
                }
                pooler = (
                    self.model.backbone.pooler(batch.hidden_states[-1]).float().numpy() if self.has_pooler else None
                )
                n_read = mask.sum(dim=1).tolist()
                n_tokens = self._full_lengths(list(batch.texts), mask)
                n_content, n_unknown = self._unknown_counts(batch.features["input_ids"], mask)
                pipeline = dict(batch.features)
                pipeline["token_embeddings"] = batch.hidden_states[-1]
                pipeline["all_layer_embeddings"] = batch.hidden_states  # for WeightedLayerPooling pipelines
                for module in list(st_model)[1:]:
                    pipeline = module(pipeline)
                sentence = pipeline["sentence_embedding"].float().numpy()  # (batch, embedding_dim)
                for row, i in enumerate(batch.index):
                    results[i] = TextStates(
                        pooled={name: pooled[name][row].copy() for name in LAYER_POOLERS},  # own memory, not a view
                        model=sentence[row].copy(),
                        n_tokens=n_tokens[row],
                        truncated=n_tokens[row] > max_len,
                        n_content=n_content[row],
                        n_unknown=n_unknown[row],
                        pooler=None if pooler is None else pooler[row].copy(),
                        n_read=int(n_read[row]),
                    )
                if kept is not None:
                    kept.update(self._token_rows(batch))
                done += len(batch.index)
                with self._lock:
                    self.texts_encoded += len(batch.index)
                if progress is not None:
                    progress(done, len(texts))
            return results  # type: ignore[return-value]

    def _token_rows(self, batch) -> dict[str, TokenStates]:
        """Each text's real (unpadded) token states in ``batch``, copied out of the batch's tensors."""
        import torch

        special_ids = torch.tensor(
            sorted(set(self.model.tokenizer.all_special_ids) - {self.model.tokenizer.unk_token_id})
        )
        rows = {}
        for row, text in enumerate(batch.texts):
            real = batch.attention_mask[row].bool()  # (seq,)
            features = {
                name: value[row][real][None].clone()
                for name, value in batch.features.items()
                if isinstance(value, torch.Tensor) and value.dim() == 2
            }
            rows[text] = TokenStates(
                tokens=batch.tokens[row],
                hidden=torch.stack([h[row][real] for h in batch.hidden_states]).float().numpy().copy(),
                special=torch.isin(features["input_ids"][0], special_ids).numpy(),
                features=features,
            )
        return rows

    def _unknown_counts(self, input_ids: torch.Tensor, mask: torch.Tensor) -> tuple[list[int], list[int]]:
        """Per row: (content tokens, unknown tokens) among the real tokens.  input_ids, mask: (batch, seq)."""
        import torch

        tokenizer = self.model.tokenizer
        unknown_id = tokenizer.unk_token_id
        special = torch.tensor(sorted(set(tokenizer.all_special_ids) - {unknown_id}), dtype=input_ids.dtype)
        real = mask.bool()
        content = real & ~torch.isin(input_ids, special)
        unknown = real & (input_ids == unknown_id) if unknown_id is not None else torch.zeros_like(real)
        return content.sum(dim=1).tolist(), unknown.sum(dim=1).tolist()

    def _full_lengths(self, batch: list[str], mask: torch.Tensor) -> list[int]:
        """Tokens of each full text, special tokens included.  mask: (batch, seq) after truncation.

        A text shorter than max_seq_length was not cut, so its mask already counts it; only texts that reached
        the limit are tokenized again, untruncated (tokenizing every text twice cost ~2% of a pass).
        """
        lengths = mask.sum(dim=1).tolist()
        at_limit = [row for row, length in enumerate(lengths) if length >= self.model.facts.max_seq_length]
        if at_limit:
            full = self.model.tokenizer([batch[row] for row in at_limit], truncation=False, verbose=False)
            for row, ids in zip(at_limit, full["input_ids"], strict=True):
                lengths[row] = len(ids)
        return lengths

    # ---------------------------------------------------------------- views

    def embed(self, texts: Sequence[str], spec: EmbedSpec, progress: Progress | None = None) -> npt.NDArray[np.float32]:
        """Sentence vectors for one configuration.

        The model's own pipeline as it is (``serves_stored``) of texts a finished corpus job stored under this
        model revision is read from the store (``embedlab.corpus.lookup``): no forward pass for them.

        Returns:
            (len(texts), dim) float32 array; row i is texts[i]. Not normalised (cosine normalises).
        """
        stored = self.stored.find(texts) if serves_stored(spec) else {}
        if not stored:
            states = self.states(texts, progress)
            return self.vectors(states, spec)
        rest = [text for text in dict.fromkeys(texts) if text not in stored]
        if rest:
            stored.update(zip(rest, self.vectors(self.states(rest, progress), spec), strict=True))
        return np.stack([stored[text] for text in texts]).astype(np.float32, copy=False)

    def unseen(self, texts: Sequence[str], spec: EmbedSpec | None = None) -> list[str]:
        """The distinct ``texts`` that ``embed(texts, spec)`` would run the model on (all not cached when ``spec``
        is None: any spec)."""
        distinct = [text for text in dict.fromkeys(texts) if not self.cached(text)]
        if spec is None or not distinct or not serves_stored(spec):
            return distinct
        stored = self.stored.find(distinct)
        return [text for text in distinct if text not in stored]

    def vectors(self, states: Sequence[TextStates], spec: EmbedSpec) -> npt.NDArray[np.float32]:
        """Sentence vectors from already computed states, post-processed as ``spec.post`` says.

        No model call for the states given; a post-processing is fitted on its corpus the first time it is used
        (a forward pass only for corpus sentences not cached), then kept (see ``post_transform``).
        """
        if spec.compressed:
            return self._compressed(states, spec)
        if spec.post != "none":
            return self.post_transform(spec).apply(self._pooled_vectors(states, spec))
        return self._pooled_vectors(states, spec)

    def _compressed(self, states: Sequence[TextStates], spec: EmbedSpec) -> npt.NDArray[np.float32]:
        """``spec``'s vectors stored as ``spec.precision`` and ``spec.dims`` say, int8 / uint8 calibrated on the
        bundled reference sentences embedded the same way (``compression.compress``)."""
        full = self.vectors(states, spec.full)
        calibration = None
        if spec.precision in CALIBRATED:
            calibration = self.vectors(self.states(reference_sentences()), spec.full)
        return compress(full, spec.precision, spec.dims, calibration)

    def post_transform(self, spec: EmbedSpec) -> PostTransform:
        """The transform of ``spec.post``, fitted on ``spec.post_corpus`` (default: the bundled reference
        sentences) embedded with the same model, pooling and layers without post-processing.

        Fitted once per (pooling, layers, post, post_dims, corpus) and kept in a small LRU; thread-safe.
        Never fitted on the sentences being compared.
        """
        with self._lock:
            transform = self._transforms.get(spec)
            if transform is not None:
                return transform
        # The model runs and the fit happens outside the lock (cached lookups of other sessions go on meanwhile);
        # two threads fitting the same spec at once both fit, and the first stored is kept.
        corpus = list(fitting_corpus(spec))
        base = replace(spec, post="none", post_dims=None, post_corpus=None)
        fitted = fit_postprocess(self._pooled_vectors(self.states(corpus), base), spec.post, spec.post_dims)
        with self._lock:
            transform = self._transforms.get(spec)
            if transform is not None:
                return transform
            self.transforms_fitted += 1
            self._transforms[spec] = fitted
            return fitted

    def _pooled_vectors(self, states: Sequence[TextStates], spec: EmbedSpec) -> npt.NDArray[np.float32]:
        """Pooled (and layer-averaged) vectors before post-processing."""
        width = self.model.facts.hidden_size
        if spec.pooling == "model":
            rows = [state.model for state in states]
            width = self.model.facts.embedding_dim
        elif spec.pooling == "pooler":
            if not self.has_pooler:
                raise EmbedLabError(
                    f"{spec.model} has no pooler weights (pooler_output would be a randomly initialised layer): "
                    "choose cls, mean or another pooling."
                )
            rows = [state.pooler for state in states]
        else:
            layers = list(parse_layers(spec.layers, self.model.n_hidden_states))
            rows = [self._layer_mix(state, spec.pooling, layers) for state in states]
            width *= 2 if spec.pooling == "mean_max" else 1
        if not rows:
            return np.zeros((0, width), dtype=np.float32)
        return np.stack(rows).astype(np.float32, copy=False)

    @staticmethod
    def _layer_mix(state: TextStates, pooling: str, layers: list[int]) -> npt.NDArray[np.float32]:
        """One text's vector of a per-layer pooling averaged over ``layers``: (hidden,), (2 * hidden,) for mean_max."""
        if pooling == "mean_max":
            return np.concatenate([mix_layers(state.pooled["mean"], layers), mix_layers(state.pooled["max"], layers)])
        if pooling == "mean_sqrt_len_tokens":  # sum / sqrt(n) = mean * sqrt(n)
            return mix_layers(state.pooled["mean"], layers) * np.float32(np.sqrt(max(state.n_read, 1)))
        return mix_layers(state.pooled[pooling], layers)

    def layer_vectors(self, states: Sequence[TextStates], pooling: str) -> npt.NDArray[np.float32]:
        """(n_hidden_states, len(states), hidden) vectors of one raw pooling at every layer."""
        if pooling not in RAW_POOLINGS:
            raise EmbedLabError(f"Per-layer vectors exist for {', '.join(RAW_POOLINGS)}, not {pooling!r}.")
        return np.stack([state.pooled[pooling] for state in states], axis=1)


def serves_stored(spec: EmbedSpec) -> bool:
    """Whether ``spec`` asks exactly what a corpus job stores: the model's own pipeline, float32, unprocessed."""
    return spec.pooling == "model" and spec.post == "none" and not spec.compressed


def cosine_rows(a: npt.NDArray[np.floating], b: npt.NDArray[np.floating]) -> npt.NDArray[np.float64]:
    """Cosine of row i of ``a`` with row i of ``b`` over the last axis; 0 where a vector is zero."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    norms = np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1)
    dots = (a * b).sum(axis=-1)
    return np.divide(dots, norms, out=np.zeros_like(dots), where=norms > 0)
