"""Post-processing of sentence vectors, fitted once on a reference corpus: none, center, abtt, whiten.

Raw BERT vectors share one dominant direction (anisotropy), so almost every pair scores a high cosine. These
transforms, each fitted on a corpus of at least ``MIN_FIT_SENTENCES`` sentences (the bundled reference sentences
or sentences the user supplies, never the handful being compared), remove that common part:

- ``none``: the vectors as they are.
- ``center``: x' = (x - mu) / ||x - mu||  (the Embedding Projector's "sphereize").
- ``abtt`` (all-but-the-top, Mu and Viswanath 2018): x~ = x - mu, then remove the projections on the top D
  principal directions u_1..u_D of the centred corpus: x' = x~ - sum_i (u_i . x~) u_i, then L2-normalise.
  D defaults to ``default_abtt_dims(d)`` = round(d / 100), at least 1 (4 for a 384-d model, 8 for BERT-base).
- ``whiten`` (Su et al. 2021): Sigma = cov(corpus) = U Lambda U^T (eigenvalues descending), W = U Lambda^(-1/2);
  x' = (x - mu) W[:, :k], then L2-normalise. k defaults to ``default_whiten_dims(d, n)`` = min(d, n - 1, 256).
  Eigenvalues below ``EIGEN_FLOOR`` x the largest are raised to that floor (regularisation: a direction with no
  variance in the corpus is not blown up to dominate every vector).

The final L2 normalisation never changes a cosine; it makes every output a unit vector. A vector equal to mu
maps to the zero vector (cosine treats it as 0).

API (pure numpy; the STS grid and the encoder both use it):

    >>> transform = fit_postprocess(corpus_vectors, "whiten", dims=128)   # corpus_vectors: (n, d), n >= 50
    >>> transform.apply(vectors).shape                                    # vectors: (m, d)
    (m, 128)
    >>> transform.linear(vectors)   # (m, d') float64 before the final normalisation (for tests and plots)

``fit_postprocess(vectors, "none")`` returns the identity (apply gives a float32 copy). A bad method, dims that
do not fit the vectors, or too few sentences raise ``EmbedLabError`` with what to do next.

Through the engine: ``EmbedSpec(model, pooling, layers, post="whiten", post_dims=128)``; ``Encoder.vectors``
fits the transform on the reference corpus for the same model, pooling and layers (once, cached on the encoder)
and applies it, so every page, cache and baseline sees post-processed vectors. ``EmbedSpec.post_corpus``, a
tuple of sentences, replaces the bundled reference sentences as the fitting corpus.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np
import numpy.typing as npt

from embedlab.errors import EmbedLabError

Post = Literal["none", "center", "abtt", "whiten"]
POSTS: tuple[str, ...] = get_args(Post)
POST_LABELS = {
    "none": "none",
    "center": "centre (subtract the mean)",
    "abtt": "all-but-the-top (remove top principal directions)",
    "whiten": "whiten (identity covariance)",
}
POSTS_WITH_DIMS: tuple[str, ...] = ("abtt", "whiten")
MIN_FIT_SENTENCES = 50
MAX_WHITEN_DIMS = 256
EIGEN_FLOOR = 1e-6


def check_post(post: str) -> Post:
    """Return ``post`` if it is valid, else raise naming the valid ones."""
    if post not in POSTS:
        raise EmbedLabError(f"Unknown post-processing {post!r}: choose one of {', '.join(POSTS)}.")
    return post  # type: ignore[return-value]


def check_post_dims(post: str, dims: int | None) -> int | None:
    """Validate ``dims`` for ``post``: a positive integer for abtt/whiten or None (the default); None otherwise."""
    if post not in POSTS_WITH_DIMS or dims is None:
        return None
    if isinstance(dims, bool) or not isinstance(dims, int | np.integer) or dims < 1:
        raise EmbedLabError(
            f"Post-processing dimensions must be a positive whole number (got {dims!r}): "
            "the directions abtt removes, or the dimensions whitening keeps."
        )
    return int(dims)


def default_abtt_dims(hidden: int) -> int:
    """D for all-but-the-top: about hidden / 100, at least 1."""
    return max(1, round(hidden / 100))


def default_whiten_dims(hidden: int, n_sentences: int) -> int:
    """k for whitening: min(hidden, n - 1, 256) (the covariance of n sentences has rank n - 1 at most)."""
    return max(1, min(hidden, n_sentences - 1, MAX_WHITEN_DIMS))


@dataclass(frozen=True, eq=False)
class PostTransform:
    """A fitted post-processing.

    Attributes:
        method: "none", "center", "abtt" or "whiten".
        mean: (d,) float64 mean of the fitting corpus (zeros for "none").
        basis: abtt: (d, D) orthonormal principal directions removed; whiten: (d, k) W[:, :k]; else None.
        dims: D (abtt) or k (whiten); None for none/center.
        n_fit: sentences the transform was fitted on (0 for "none").
    """

    method: Post
    mean: npt.NDArray[np.float64]
    basis: npt.NDArray[np.float64] | None
    dims: int | None
    n_fit: int

    @property
    def input_dim(self) -> int:
        return int(self.mean.shape[0])

    def linear(self, vectors: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """The transform before the final normalisation. vectors: (n, d) -> (n, d') float64."""
        x = self._check(vectors)
        if self.method == "none":
            return x
        centred = x - self.mean  # (n, d)
        if self.method == "abtt":
            return centred - (centred @ self.basis) @ self.basis.T
        if self.method == "whiten":
            return centred @ self.basis  # (n, k)
        return centred

    def apply(self, vectors: npt.ArrayLike) -> npt.NDArray[np.float32]:
        """Post-processed vectors. vectors: (n, d) -> (n, d') float32, unit rows (zero rows stay zero).

        "none" returns the vectors unchanged (as float32), not normalised.
        """
        out = self.linear(vectors)
        if self.method != "none":
            norms = np.linalg.norm(out, axis=1, keepdims=True)
            out = np.divide(out, norms, out=np.zeros_like(out), where=norms > 0)
        return out.astype(np.float32)

    def _check(self, vectors: npt.ArrayLike) -> npt.NDArray[np.float64]:
        x = np.asarray(vectors, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.input_dim:
            raise EmbedLabError(
                f"This {self.method} transform takes (n, {self.input_dim}) vectors, not {tuple(x.shape)}."
            )
        return x


def fit_postprocess(vectors: npt.ArrayLike, method: str, dims: int | None = None) -> PostTransform:
    """Fit one post-processing on a corpus's vectors.

    Args:
        vectors: (n, d) vectors of the fitting corpus, one row per distinct sentence.
        method: "none", "center", "abtt" or "whiten".
        dims: abtt: D directions to remove (default round(d / 100), at least 1);
            whiten: k dimensions to keep (default min(d, n - 1, 256)); ignored otherwise.

    Example:
        >>> fit_postprocess(np.random.default_rng(0).normal(size=(100, 32)), "whiten", 8).apply(np.ones((3, 32))).shape
        (3, 8)

    Raises:
        EmbedLabError: unknown method, bad dims, fewer than MIN_FIT_SENTENCES sentences, dims too large for
            the corpus, or vectors that are not finite.
    """
    method = check_post(method)
    dims = check_post_dims(method, dims)
    x = np.asarray(vectors, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] < 1:
        raise EmbedLabError(f"Post-processing is fitted on (sentences, dimensions) vectors, not {tuple(x.shape)}.")
    n, d = x.shape
    if method == "none":
        return PostTransform("none", np.zeros(d), None, None, 0)
    if n < MIN_FIT_SENTENCES:
        raise EmbedLabError(
            f"Post-processing '{method}' needs a fitting corpus of at least {MIN_FIT_SENTENCES} different "
            f"sentences, got {n}: use the bundled reference sentences or supply more sentences."
        )
    if not np.isfinite(x).all():
        raise EmbedLabError("The fitting corpus gave non-finite vectors (NaN or inf): nothing can be fitted on them.")
    mean = x.mean(axis=0)
    centred = x - mean  # (n, d)
    if method == "center":
        return PostTransform("center", mean, None, None, n)
    if method == "abtt":
        removed = dims if dims is not None else default_abtt_dims(d)
        if removed >= min(d, n):
            raise EmbedLabError(
                f"All-but-the-top cannot remove {removed} directions from {d}-dimensional vectors fitted on "
                f"{n} sentences: choose fewer than {min(d, n)} (default: {default_abtt_dims(d)})."
            )
        _, _, components = np.linalg.svd(centred, full_matrices=False)  # components: (min(n, d), d), by variance
        return PostTransform("abtt", mean, components[:removed].T.copy(), removed, n)
    kept = dims if dims is not None else default_whiten_dims(d, n)
    if kept > d or kept >= n:
        raise EmbedLabError(
            f"Whitening to {kept} dimensions needs at most {d} (the vector size) and fewer than the {n} fitting "
            f"sentences: choose at most {min(d, n - 1)}, or supply more sentences."
        )
    covariance = centred.T @ centred / (n - 1)  # (d, d), as np.cov
    eigenvalues, eigenvectors = np.linalg.eigh(covariance)  # ascending
    order = np.argsort(eigenvalues)[::-1][:kept]
    top = eigenvalues[order]
    floor = max(float(eigenvalues.max()), np.finfo(np.float64).tiny) * EIGEN_FLOOR
    scale = 1.0 / np.sqrt(np.maximum(top, floor))  # Lambda^(-1/2), regularised
    return PostTransform("whiten", mean, eigenvectors[:, order] * scale, kept, n)


def post_label(post: str, dims: int | None, corpus_size: int | None = None) -> str:
    """Short words for a post-processing, e.g. "whitened to 128 dims", "" for none."""
    if post == "none":
        return ""
    words = {
        "center": "centred",
        "abtt": "all-but-the-top" + (f" {dims}" if dims else ""),
        "whiten": "whitened" + (f" to {dims}" if dims else ""),
    }[post]
    if corpus_size is not None:
        words += f" (fitted on {corpus_size} own sentences)"
    return words
