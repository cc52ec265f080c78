"""The pure pooling functions on hand-made tensors: padding is masked, inputs are never modified."""

from __future__ import annotations

import pytest
import torch

from embedlab.embedding.pooling import RAW_POOLERS, cls_pool, max_pool, mean_pool

HUGE = 1e6


def padded_batch() -> tuple[torch.Tensor, torch.Tensor]:
    """(batch=2, seq=4, hidden=3) states; the padding positions hold huge values that would win a max or skew a mean.

    Text 0 has 2 real tokens, text 1 has 4. Every real value is negative, so a max over padding would pick +HUGE.
    """
    generator = torch.Generator().manual_seed(0)
    hidden = -torch.rand(2, 4, 3, generator=generator) - 0.5  # real values in (-1.5, -0.5)
    mask = torch.tensor([[1, 1, 0, 0], [1, 1, 1, 1]])
    hidden[0, 2:] = HUGE
    return hidden, mask


def by_hand(hidden: torch.Tensor, lengths: list[int], reduce) -> torch.Tensor:
    """Pool each text over its real tokens only, one text at a time.  hidden: (batch, seq, hidden)."""
    return torch.stack([reduce(hidden[b, :length]) for b, length in enumerate(lengths)])


def test_mean_pool_ignores_padding():
    hidden, mask = padded_batch()
    expected = by_hand(hidden, [2, 4], lambda tokens: tokens.mean(dim=0))
    torch.testing.assert_close(mean_pool(hidden, mask), expected)
    assert mean_pool(hidden, mask).abs().max() < 2  # nothing of the huge padding leaked in


def test_max_pool_ignores_padding():
    hidden, mask = padded_batch()
    expected = by_hand(hidden, [2, 4], lambda tokens: tokens.amax(dim=0))
    torch.testing.assert_close(max_pool(hidden, mask), expected)
    assert (max_pool(hidden, mask) < 0).all()


def test_max_pool_ignores_negative_padding_too():
    hidden, mask = padded_batch()
    flipped = -hidden  # real values positive, padding -HUGE: min would be wrong, max must still be the real max
    expected = by_hand(flipped, [2, 4], lambda tokens: tokens.amax(dim=0))
    torch.testing.assert_close(max_pool(flipped, mask), expected)


def test_cls_pool_is_first_token():
    hidden, mask = padded_batch()
    torch.testing.assert_close(cls_pool(hidden, mask), hidden[:, 0])


@pytest.mark.parametrize("mask_dtype", [torch.long, torch.bool, torch.float32])
def test_any_mask_dtype(mask_dtype):
    hidden, mask = padded_batch()
    typed = mask.to(mask_dtype)
    for pool in (mean_pool, max_pool, cls_pool):
        torch.testing.assert_close(pool(hidden, typed), pool(hidden, mask))


@pytest.mark.parametrize("name", sorted(RAW_POOLERS))
def test_poolers_do_not_modify_their_input(name):
    hidden, mask = padded_batch()
    hidden_before, mask_before = hidden.clone(), mask.clone()
    RAW_POOLERS[name](hidden, mask)
    assert torch.equal(hidden, hidden_before)
    assert torch.equal(mask, mask_before)


@pytest.mark.parametrize("name", sorted(RAW_POOLERS))
def test_leading_layer_dimension(name):
    """Stacked hidden states (layers, batch, seq, hidden) pool layer by layer."""
    hidden, mask = padded_batch()
    stacked = torch.stack([hidden, 2 * hidden, hidden + 3])  # (3, 2, 4, 3)
    pooled = RAW_POOLERS[name](stacked, mask)
    assert pooled.shape == (3, 2, 3)
    for layer in range(3):
        torch.testing.assert_close(pooled[layer], RAW_POOLERS[name](stacked[layer], mask))
