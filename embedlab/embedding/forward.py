"""The one forward pass: texts in, per batch the features, every layer's hidden states and the tokens out.

The encoder pools from it (and caches the small pooled vectors); token-level views (the Tokens & layers page,
word in context, anisotropy) use it directly and keep the per-token states only for the few texts they show.
Nothing here caches or locks: it is a pure function of the model and the texts.

Example:
    >>> batch = next(forward_batches(load_model("all-MiniLM-L6-v2"), ["How old are you?"]))
    >>> len(batch.hidden_states), tuple(batch.hidden_states[-1].shape)  # L + 1 layers of (batch, seq, hidden)
    (7, (1, 7, 384))
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from embedlab.models.loading import LoadedModel
from embedlab.settings import get_settings

if TYPE_CHECKING:  # imported by the calls that run a model, not by this module's importers
    import torch

BATCH_SIZE = 32
MODEL_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
SERVER_THREADS_ENV = "EMBEDLAB_SERVER_THREADS"  # torch threads of the web server's model calls (default 1)


def server_threads() -> int:
    """Torch intra-op threads for the web server: ``EMBEDLAB_SERVER_THREADS`` (a whole number >= 1; default 1).

    One, because the server shares its cores: with 2 threads on a 2-core machine where anything else runs (another
    session, a training worker, the browser, other users), every matrix product waits at OpenMP's barrier for
    a descheduled thread, spinning meanwhile. Measured on the 320 reference sentences (all-MiniLM-L6-v2) with two
    busy processes beside it: 16.8 s wall and 13.7 s of CPU with 2 threads, 4.9 s and 2.4 s with 1; on the idle
    machine 2 threads are about 1 s faster. Sessions run their model calls in parallel anyway (torch releases the
    GIL), and training workers set their own count (``embedlab.training.queue.default_threads``).

    Raises:
        SettingsError: the variable is not a whole number >= 1.
    """
    return get_settings().server_threads


def limit_server_threads() -> int:
    """Set torch's intra-op threads to ``server_threads()`` (every thread of the process follows); returns it."""
    import torch

    threads = server_threads()
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    return threads


@dataclass(frozen=True)
class ForwardBatch:
    """One batch through the backbone with ``output_hidden_states=True``.

    Attributes:
        index: positions of this batch's texts in the ``texts`` given to ``forward_batches``.
        texts: the batch's texts, ``texts[index[i]]``.
        features: the sentence-transformers features (``input_ids``, ``attention_mask``, ...; (batch, seq)).
        hidden_states: L + 1 tensors of (batch, seq, hidden); index 0 is the embedding layer.
        tokens: per text, its token strings after truncation (special tokens included, padding left out).
    """

    index: tuple[int, ...]
    texts: tuple[str, ...]
    features: dict[str, torch.Tensor]
    hidden_states: tuple[torch.Tensor, ...]
    tokenizer: object = field(default=None, compare=False, repr=False)

    @property
    def attention_mask(self) -> torch.Tensor:
        """(batch, seq) 1 for real tokens, 0 for padding."""
        return self.features["attention_mask"]

    @cached_property
    def tokens(self) -> tuple[tuple[str, ...], ...]:
        """Per text, its token strings (special tokens included, padding left out); built on first use only, so
        the encoder, which never reads them, pays nothing for them."""
        mask = self.attention_mask
        return tuple(
            tuple(self.tokenizer.convert_ids_to_tokens(ids[row_mask.bool()].tolist()))
            for ids, row_mask in zip(self.features["input_ids"], mask, strict=True)
        )


def length_order(texts: Sequence[str]) -> np.ndarray:
    """Positions of ``texts``, longest first (stable): batching by length keeps padding small."""
    return np.argsort([-len(text) for text in texts], kind="stable")


def forward_batches(
    model: LoadedModel, texts: Sequence[str], batch_size: int = BATCH_SIZE, by_length: bool = True
) -> Iterator[ForwardBatch]:
    """Run the backbone on ``texts`` in batches, yielding each batch as soon as it is done.

    Tokenization is the model's own (``SentenceTransformer.preprocess``: its max_seq_length, its padding side).
    The shared model object is never modified; it must already be in eval mode (the loader leaves it so).

    Args:
        by_length: batch texts of similar length together (less padding); False keeps the given order.
    """
    import torch

    order = length_order(texts) if by_length else np.arange(len(texts))
    for start in range(0, len(texts), batch_size):
        index = tuple(int(i) for i in order[start : start + batch_size])
        batch = tuple(texts[i] for i in index)
        with torch.inference_mode():  # around each batch, not across the yield: the caller's mode is its own
            features = model.st_model.preprocess(list(batch))
            inputs = {name: features[name] for name in MODEL_INPUTS if name in features}
            output = model.backbone(**inputs, output_hidden_states=True, return_dict=True)
        yield ForwardBatch(index, batch, dict(features), tuple(output.hidden_states), model.tokenizer)
