"""Pure pooling functions over token vectors: padding is masked, inputs are never modified.

All functions accept hidden states with any number of leading dimensions before (batch, seq, hidden),
e.g. the stacked hidden states of every layer: (layers, batch, seq, hidden).
"""

from __future__ import annotations

import torch


def cls_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """First token's vector.  hidden: (..., batch, seq, hidden) -> (..., batch, hidden)."""
    del mask  # the first token is always real
    return hidden[..., 0, :]


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
