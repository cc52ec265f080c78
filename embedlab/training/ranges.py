"""The ranges a training run accepts: one place, read by the engine's checks and by the Train page's widgets.

Each range is inclusive, ``(lowest, highest)``. The page's number boxes take their bounds from here, so a value
the page lets a user type is one the engine accepts, and the command line refuses the same values.

Example:
    >>> low, high = BATCH_SIZE
    >>> low <= 16 <= high
    True
"""

from __future__ import annotations

EPOCHS = (0.01, 100.0)  # passes over the data; a fraction trains on part of one pass
MAX_STEPS = (1, 100_000)  # optimizer steps, when the run is given a step count instead of epochs
BATCH_SIZE = (1, 1024)  # examples per step (each holds two texts: see estimate_peak_memory_gb)
LEARNING_RATE = (1e-7, 1e-2)  # AdamW's peak rate; sentence-transformers' runs use 1e-5 to 1e-4
WARMUP_RATIO = (0.0, 0.9)  # fraction of the steps with a rising learning rate
EVAL_EVERY = (0, 100_000)  # score the evaluation pairs every N steps; 0: never
DENSE_OUT = (1, 8192)  # output size of a Dense layer after pooling
MAX_SEQ_LENGTH = (8, 512)  # the Transformer's truncation length (BERT's position embeddings stop at 512)
MATRYOSHKA_DIM = (1, 8192)  # a width MatryoshkaLoss trains (the first k dimensions of the embedding)
MATRYOSHKA_WIDTHS = (1, 8)  # how many widths one run trains and measures
STATIC_DIMS = (2, 4096)  # a distilled static model's width (PCA; never wider than the start model's backbone)


def within(value: float, limits: tuple[float, float]) -> bool:
    """Whether ``value`` lies in the inclusive range ``limits`` (False for NaN)."""
    low, high = limits
    return low <= value <= high


def span(limits: tuple[float, float]) -> str:
    """A range in words for messages: ``span(BATCH_SIZE)`` -> ``"1 to 1024"``."""
    low, high = limits
    return f"{low:g} to {high:g}"
