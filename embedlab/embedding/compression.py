"""Vectors stored smaller: fewer dimensions (the first k, as Matryoshka training allows) and fewer bits per number
(float32, int8, uint8, binary), through sentence-transformers' ``quantize_embeddings``.

A setting of any model with vectors (``EmbedSpec.precision``, ``EmbedSpec.dims``), applied after the model's own
pipeline and any post-processing:

- ``dims``: the first k dimensions (None: all).
- ``int8`` / ``uint8``: every dimension cut into 256 steps between its minimum and maximum over a calibration set
  (the bundled reference sentences, embedded with the same configuration), as the library documents; a pair scores
  the cosine of its two code vectors.
- ``binary``: one bit per dimension (value > 0); a pair scores the cosine of the ±1 vectors, which is
  1 − 2 · Hamming / d: the Hamming distance on the scale of a cosine.

Vectors come back as float32 arrays of the codes (int8 codes as floats, binary as ±1), so pair cosines, random-pair
baselines, negative tests and STS correlations are computed on what would be stored, with no other change.

Example:
    >>> codes = compress(vectors, "binary", dims=128)  # doctest: +SKIP  vectors: (n, 384)
    >>> codes.shape, set(np.unique(codes))  # doctest: +SKIP
    ((n, 128), {-1.0, 1.0})
"""

from __future__ import annotations

from typing import Literal, get_args

import numpy as np
import numpy.typing as npt

from embedlab.errors import EmbedLabError

Precision = Literal["float32", "int8", "uint8", "binary"]
PRECISIONS: tuple[str, ...] = get_args(Precision)
CALIBRATED: tuple[str, ...] = ("int8", "uint8")  # precisions whose ranges come from a calibration set
BITS = {"float32": 32, "int8": 8, "uint8": 8, "binary": 1}


def check_precision(precision: str) -> Precision:
    """``precision`` if valid, else raise naming the valid ones."""
    if precision not in PRECISIONS:
        raise EmbedLabError(f"Unknown vector precision {precision!r}: choose one of {', '.join(PRECISIONS)}.")
    return precision  # type: ignore[return-value]


def check_dims(dims: int | None) -> int | None:
    """``dims`` if None or a whole number of at least 1, else raise."""
    if dims is None:
        return None
    if isinstance(dims, bool) or not isinstance(dims, (int, np.integer)) or dims < 1:
        raise EmbedLabError(f"Dimensions kept must be a whole number of at least 1, not {dims!r}.")
    return int(dims)


def compression_label(precision: str, dims: int | None) -> str:
    """ "int8 vectors · first 128 dims", "binary vectors", "first 64 dims"; "" for full float32 vectors."""
    words = [f"{precision} vectors"] * (precision != "float32")
    words += [f"first {dims} dims"] * (dims is not None)
    return " · ".join(words)


def bytes_per_vector(precision: str, dims: int) -> int:
    """Bytes one stored vector of ``dims`` numbers takes at ``precision`` (binary packs 8 dimensions a byte)."""
    return (dims * BITS[check_precision(precision)] + 7) // 8


def truncate(vectors: npt.NDArray[np.float32], dims: int | None) -> npt.NDArray[np.float32]:
    """The first ``dims`` columns of (n, d) ``vectors`` (all when None).

    Raises:
        EmbedLabError: ``dims`` is more than the vectors have.
    """
    if dims is None:
        return vectors
    if dims > vectors.shape[1]:
        raise EmbedLabError(f"This model's vectors have {vectors.shape[1]} dimensions: keep at most that many.")
    return vectors[:, :dims]


def compress(
    vectors: npt.NDArray[np.float32],
    precision: str,
    dims: int | None = None,
    calibration: npt.NDArray[np.float32] | None = None,
) -> npt.NDArray[np.float32]:
    """(n, dims) float32 codes of (n, d) ``vectors``: truncated to ``dims``, then quantized to ``precision``.

    ``calibration``: (m, d) vectors of the calibration sentences (needed for int8 / uint8), truncated here too.

    Raises:
        EmbedLabError: a bad precision or dims, or int8 / uint8 without calibration vectors.
    """
    check_precision(precision)
    kept = truncate(np.asarray(vectors, dtype=np.float32), check_dims(dims))
    if precision == "float32":
        return kept
    from sentence_transformers.util.quantization import quantize_embeddings

    if precision in CALIBRATED:
        if calibration is None or not len(calibration):
            raise EmbedLabError(f"{precision} vectors need calibration sentences (the bundled reference sentences).")
        ranges_from = truncate(np.asarray(calibration, dtype=np.float32), dims)
        if not len(kept):
            return np.zeros((0, kept.shape[1]), np.float32)
        return quantize_embeddings(kept, precision, calibration_embeddings=ranges_from).astype(np.float32)
    bits = np.unpackbits(quantize_embeddings(kept, "ubinary"), axis=-1)[:, : kept.shape[1]]
    return (bits.astype(np.float32) * 2.0 - 1.0).reshape(len(kept), kept.shape[1])  # (n, dims) of ±1
