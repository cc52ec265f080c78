"""Cross-encoders: a classifier head on [CLS] of the *pair* (``[CLS] a [SEP] b [SEP]``), one score per pair.

A cross-encoder reads both sentences at once, so it has no sentence vector: every pair costs a forward pass, and
searching N sentences for one query costs N passes where a bi-encoder encodes the query once and compares it with
N cached vectors. What it gains is accuracy: attention runs across the two sentences.

A folder is recognised as a cross-encoder by what sentence-transformers writes (``model_type: CrossEncoder`` in
``config_sentence_transformers.json``) or, for a plain transformers checkpoint, by a ``*ForSequenceClassification``
architecture with one label; no flag is needed. Scores are ``CrossEncoder(folder).predict`` (its own activation,
a sigmoid for one label: 0..1), cached per pair.

Example:
    >>> scorer = CrossScorer(folder)  # doctest: +SKIP
    >>> scorer.score([("How old are you?", "What is your age?")])  # doctest: +SKIP
    array([0.93], dtype=float32)
"""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from cachetools import LRUCache

from embedlab.errors import EmbedLabError

CROSS_BASELINE_PAIRS = 500  # a pass per pair: fewer random pairs than a bi-encoder's 2,000 (which cost nothing)
CACHE_PAIRS = 100_000
BATCH_SIZE = 32
CROSS_WHAT_IT_IS = "is a cross-encoder: it scores a pair in one pass"  # for errors.refusal


def is_cross_encoder_folder(folder: str | Path) -> bool:
    """True for a folder holding a cross-encoder (see the module docstring); False for anything else."""
    folder = Path(folder)
    st_config = folder / "config_sentence_transformers.json"
    try:
        if st_config.is_file():
            return json.loads(st_config.read_text(encoding="utf-8")).get("model_type") == "CrossEncoder"
        config_path = folder / "config.json"
        if not config_path.is_file() or (folder / "modules.json").is_file():
            return False
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    architectures = config.get("architectures") or []
    return any(str(name).endswith("ForSequenceClassification") for name in architectures) and (
        config.get("num_labels", len(config.get("id2label") or {0: 0})) == 1
    )


@dataclass(frozen=True)
class JointInput:
    """One pair as the cross-encoder reads it (``[CLS] a [SEP] b [SEP]``), ready for attribution.

    Attributes:
        tokens: the joint input's tokens, special ones included.
        segment: (n,) int: 0 for sentence 1's tokens, 1 for sentence 2's, -1 for special tokens.
        embeds: (1, n, d) the input's word embeddings.
        reference: (1, n, d) the word embeddings of the input with every content token replaced by [PAD] (special
            tokens kept).
        extra: the model's other input tensors (attention_mask, token_type_ids when it uses them), each (1, n).
        forward: f(word embeddings (batch, n, d), *extra) -> (batch,) scores as the app shows them (the head, then
            its activation), through the model's own forward (no hook: the shared model is never changed).
        truncated: per sentence, whether the tokenizer cut it.
    """

    tokens: tuple[str, ...]
    segment: npt.NDArray[np.int64]
    embeds: object
    reference: object
    extra: tuple
    forward: Callable
    truncated: tuple[bool, bool]


class CrossScorer:
    """A cross-encoder folder loaded once, shared between sessions: scores pairs, caches them, counts passes."""

    def __init__(self, folder: str | Path, ref: str | None = None) -> None:
        if not is_cross_encoder_folder(folder):
            raise EmbedLabError(f"{folder} is not a cross-encoder folder (no CrossEncoder config, no pair classifier).")
        from sentence_transformers import CrossEncoder

        try:
            self.model = CrossEncoder(str(folder), device="cpu")  # never trust_remote_code
        except (OSError, ValueError) as error:
            first = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise EmbedLabError(f"Cannot load the cross-encoder in {folder}: {first}") from None
        self.model.eval()
        self.ref = ref or str(folder)
        self.num_labels = int(self.model.num_labels)
        if self.num_labels != 1:
            raise EmbedLabError(
                f"{self.ref} has {self.num_labels} labels: only one-score cross-encoders (similarity) are supported."
            )
        self._cache: LRUCache[tuple[str, str], float] = LRUCache(CACHE_PAIRS)
        self._lock = threading.RLock()
        self.pairs_scored = 0  # forward passes over pairs (cache misses); tests count them

    def score(self, pairs: Sequence[tuple[str, str]]) -> npt.NDArray[np.float32]:
        """(len(pairs),) scores, ``CrossEncoder.predict`` for each pair; row i is pairs[i]."""
        keys = [(str(first), str(second)) for first, second in pairs]
        with self._lock:
            missing = list(dict.fromkeys(key for key in keys if key not in self._cache))
        if missing:
            scores = np.asarray(
                self.model.predict(missing, batch_size=BATCH_SIZE, show_progress_bar=False), dtype=np.float32
            ).reshape(len(missing))
            with self._lock:
                self.pairs_scored += len(missing)
                for key, value in zip(missing, scores, strict=True):
                    self._cache[key] = float(value)
        with self._lock:
            return np.array([self._cache[key] for key in keys], dtype=np.float32)

    def uncached(self) -> CrossScorer:
        """A scorer sharing this one's loaded model (nothing is reloaded) with an empty pair cache and a pass
        count of 0: fresh work to time, without emptying the cache every session shares."""
        fresh = copy.copy(self)
        fresh._cache = LRUCache(CACHE_PAIRS)
        fresh._lock = threading.RLock()
        fresh.pairs_scored = 0
        return fresh

    def joint_input(self, pair: tuple[str, str]) -> JointInput:
        """``pair`` tokenized as ``predict`` tokenizes it, with a differentiable forward to the shown score."""
        import torch

        model = self.model
        features = model.preprocess([list(pair)])
        tensors = {name: value for name, value in features.items() if isinstance(value, torch.Tensor)}
        names = [name for name in tensors if name != "input_ids"]
        rest = {name: value for name, value in features.items() if name not in tensors}
        tokenizer = model.tokenizer
        ids = tensors["input_ids"][0].tolist()
        segment = np.full(len(ids), -1, dtype=np.int64)
        special = set(tokenizer.all_special_ids)
        side = 0
        for position, token in enumerate(ids):  # content tokens before the first separator are sentence 1's
            if token in special:
                if position > 0 and segment[position - 1] == 0:
                    side = 1
                continue
            segment[position] = side
        whole = [len(tokenizer(text, add_special_tokens=False)["input_ids"]) for text in pair]
        truncated = (int((segment == 0).sum()) < whole[0], int((segment == 1).sum()) < whole[1])
        pad = tokenizer.pad_token_id or 0
        content = torch.as_tensor(segment >= 0)[None]
        reference_ids = torch.where(content, torch.full_like(tensors["input_ids"], pad), tensors["input_ids"])
        network = next(module for module in model.modules() if hasattr(module, "get_input_embeddings"))
        words = network.get_input_embeddings()
        with torch.no_grad():
            embeds, reference = words(tensors["input_ids"]).detach(), words(reference_ids).detach()
        activation = model.activation_fn

        def forward(embeds, *extra):
            batch = {"inputs_embeds": embeds} | dict(zip(names, extra, strict=True)) | rest
            scores = model(batch)["scores"].float()
            if activation is not None:
                scores = activation(scores)
            return scores.reshape(len(embeds))

        return JointInput(
            tuple(tokenizer.convert_ids_to_tokens(ids)),
            segment,
            embeds,
            reference,
            tuple(tensors[name] for name in names),
            forward,
            truncated,
        )
