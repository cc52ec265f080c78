"""Encoding a stored corpus chunk by chunk: only the chunks not written yet, each written as soon as it is done.

The one encoding loop, run by a queue worker (``embedlab.training.queue.worker``) and by ``python -m embedlab
embed`` without ``--queue``. A chunk is encoded by ``SentenceTransformer.encode`` (the same call a plain encode
makes, sorted by length within the chunk), so the stored vectors equal a plain encode's. Texts that another
finished corpus of the same model revision holds (a subset or a superset encoded before) are read from it
(``lookup``), not encoded again. ``stop`` is looked at
between chunks: a stopped job keeps every chunk it finished.

Example:
    >>> result = encode_corpus(prepare_corpus(ref, corpus), load_model(ref))  # doctest: +SKIP
    >>> result.done == result.total  # doctest: +SKIP
    True
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from embedlab.corpus.lookup import StoredLookup
from embedlab.corpus.store import StoredCorpus

BATCH_SIZE = 32  # SentenceTransformer.encode's own default


@dataclass(frozen=True)
class EncodeProgress:
    """After each chunk: chunks done (of ``total``), and how many of them this call found already written."""

    done: int
    total: int
    resumed_from: int
    rows_done: int
    elapsed_seconds: float
    eta_seconds: float | None


@dataclass(frozen=True)
class EncodeResult:
    done: int
    total: int
    resumed_from: int  # chunks already written when this call started
    truncated: int  # texts (of the whole corpus written so far) longer than the model's length
    seconds: float
    stopped: bool

    @property
    def finished(self) -> bool:
        return self.done == self.total


def count_truncated(st_model, texts: list[str]) -> int:
    """How many ``texts`` the model's tokenizer cuts at ``max_seq_length`` (special tokens included)."""
    limit = st_model.max_seq_length
    if not limit:
        return 0
    lengths = st_model.tokenizer(texts, add_special_tokens=True, truncation=False, verbose=False)["input_ids"]
    return sum(1 for ids in lengths if len(ids) > limit)


def encode_corpus(
    stored: StoredCorpus,
    model,
    progress: Callable[[EncodeProgress], None] | None = None,
    stop: threading.Event | None = None,
    batch_size: int = BATCH_SIZE,
) -> EncodeResult:
    """Encode the chunks of ``stored`` that are missing with ``model`` (a ``LoadedModel``) and write each one.

    Returns: what was done; ``stopped`` when ``stop`` was set before the last chunk.
    """
    st_model = model.st_model
    done = set(stored.done_chunks())
    resumed_from = len(done)
    todo = [index for index in range(stored.n_chunks) if index not in done]
    texts = stored.texts() if todo else []
    lookup = StoredLookup(model.model_id)
    start = time.monotonic()
    encoded_rows = 0
    rows_left = sum(stored.chunk_rows(index)[1] - stored.chunk_rows(index)[0] for index in todo)
    stopped = False
    for index in todo:
        if stop is not None and stop.is_set():
            stopped = True
            break
        first, end = stored.chunk_rows(index)
        chunk = texts[first:end]
        found = lookup.find(chunk)  # texts another finished corpus of this model revision holds: read, not encoded
        rest = [text for text in dict.fromkeys(chunk) if text not in found]
        if rest:
            # (rows, dim) float32, exactly what a plain SentenceTransformer.encode returns for these texts
            encoded = st_model.encode(rest, batch_size=batch_size, convert_to_numpy=True, show_progress_bar=False)
            found.update(zip(rest, encoded, strict=True))
        vectors = np.stack([found[text] for text in chunk]).astype(np.float32, copy=False)
        stored.write_chunk(index, vectors, count_truncated(st_model, chunk))
        done.add(index)
        encoded_rows += end - first
        rows_left -= end - first
        elapsed = time.monotonic() - start
        eta = elapsed / encoded_rows * rows_left
        if progress is not None:
            progress(EncodeProgress(len(done), stored.n_chunks, resumed_from, encoded_rows, elapsed, eta))
    return EncodeResult(
        done=len(done),
        total=stored.n_chunks,
        resumed_from=resumed_from,
        truncated=stored.truncated(),
        seconds=time.monotonic() - start,
        stopped=stopped,
    )
