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
from collections.abc import Sequence
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
