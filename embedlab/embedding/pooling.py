"""Pure pooling functions over token vectors: padding is masked, inputs are never modified.

All functions accept hidden states with any number of leading dimensions before (batch, seq, hidden),
e.g. the stacked hidden states of every layer: (layers, batch, seq, hidden).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:  # the functions import it when called: importing this module stays light
    import torch


def cls_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Vector of each text's first real token.  hidden: (..., batch, seq, hidden) -> (..., batch, hidden).

    The first unmasked position, as sentence-transformers' own ``Pooling(pooling_mode="cls")`` takes it: position 0
    for a tokenizer that pads on the right, the first token after the padding for one that pads on the left.
    """
    import torch

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


# sentence-transformers' other Pooling modes, defined exactly as ``sentence_transformer/modules/pooling.py`` does.


def weighted_mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over real tokens weighted by position: the i-th real token weighs i (1, 2, ...).  -> (..., batch, hidden)

    Positions count from the first real token, so left padding does not shift the weights.
    """
    import torch

    seq = mask.shape[-1]
    positions = torch.arange(1, seq + 1, dtype=hidden.dtype, device=hidden.device)[None, :]  # (1, seq)
    first_real = mask.to(torch.int32).argmax(dim=-1, keepdim=True)  # (batch, 1): 0 with right padding
    weights = (mask.to(hidden.dtype) * (positions - first_real.to(hidden.dtype)))[..., None]  # (batch, seq, 1)
    return (hidden * weights).sum(dim=-2) / weights.sum(dim=-2).clamp(min=1e-9)


def last_token_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The last real token's vector (padding on either side).  -> (..., batch, hidden)."""
    import torch

    seq = mask.shape[-1]
    values, from_end = mask.flip(-1).max(dim=-1)  # (batch,): distance of the last real token from the end
    last = torch.where(values == 0, torch.zeros_like(from_end), seq - 1 - from_end)  # (batch,)
    batch = torch.arange(mask.shape[0], device=hidden.device)
    return hidden[..., batch, last, :]


LAYER_POOLERS = {
    **RAW_POOLERS,
    "weightedmean": weighted_mean_pool,
    "lasttoken": last_token_pool,
}
"""Poolings whose per-layer vectors the encoder keeps. ``mean_max`` and ``mean_sqrt_len_tokens`` are derived from the
kept mean and max vectors and the token count; ``pooler`` is the model's own dense + tanh layer on the last CLS."""


def pooler_weights_present(backbone) -> bool:
    """Whether the backbone has a pooler (dense + tanh on the last CLS) whose weights came from its checkpoint.

    transformers builds a BertModel's pooler even when the checkpoint has no pooler weights (it initialises them at
    random, with a warning): the checkpoint's tensor names are the only way to tell.
    """
    if getattr(backbone, "pooler", None) is None:
        return False
    names = _checkpoint_tensor_names(str(getattr(backbone, "name_or_path", "") or ""))
    return names is None or any("pooler.dense" in name for name in names)


def _checkpoint_tensor_names(folder: str) -> list[str] | None:
    """Tensor names in a model folder's weights (safetensors, sharded index or .bin); None when none is found."""
    import json
    from pathlib import Path

    root = Path(folder)
    if not folder or not root.is_dir():
        return None
    for index in ("model.safetensors.index.json", "pytorch_model.bin.index.json"):
        if (root / index).is_file():
            return list(json.loads((root / index).read_text(encoding="utf-8")).get("weight_map", {}))
    if (root / "model.safetensors").is_file():
        from safetensors import safe_open

        with safe_open(str(root / "model.safetensors"), "pt") as weights:
            return list(weights.keys())
    if (root / "pytorch_model.bin").is_file():
        import torch

        return list(torch.load(root / "pytorch_model.bin", map_location="meta", weights_only=True))
    return None
