"""Pure pooling functions over token vectors: padding is masked, inputs are never modified.

All functions accept hidden states with any number of leading dimensions before (batch, seq, hidden),
e.g. the stacked hidden states of every layer: (layers, batch, seq, hidden).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import torch


def cls_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Vector of each text's first real token.  hidden: (..., batch, seq, hidden) -> (..., batch, hidden).

    The first unmasked position, as sentence-transformers' own ``Pooling(pooling_mode="cls")`` takes it: position 0
    for a tokenizer that pads on the right, the first token after the padding for one that pads on the left.
    """
    first = mask.to(torch.int).argmax(dim=-1)  # (batch,)
    return hidden[..., torch.arange(first.shape[0]), first, :]


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Average over real tokens only.  mask: (batch, seq) of 0/1 -> (..., batch, hidden)."""
    weights = mask.to(hidden.dtype)[..., None]  # (batch, seq, 1)
    summed = (hidden * weights).sum(dim=-2)
    counts = weights.sum(dim=-2).clamp(min=1.0)  # (batch, 1)
    return summed / counts


def max_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per-dimension max over real tokens only.  -> (..., batch, hidden)."""
    padding = ~mask.bool()[..., None]  # (batch, seq, 1)
    return hidden.masked_fill(padding, float("-inf")).amax(dim=-2)


RAW_POOLERS = {"cls": cls_pool, "mean": mean_pool, "max": max_pool}


def mix_layers(per_layer: npt.NDArray[np.float32], layers: Sequence[int]) -> npt.NDArray[np.float32]:
    """The one layer mix: mean of the pooled vectors of the chosen hidden-state indices.

    per_layer: (n_hidden_states, ..., hidden), e.g. one text's (n_hidden_states, hidden) or a stack of texts
    (n_hidden_states, n, hidden) -> (..., hidden). For cls and mean pooling this equals pooling the averaged hidden
    states (both are linear); for max it is the mean of each layer's max-pooled vector.
    """
    return per_layer[list(layers)].mean(axis=0)
