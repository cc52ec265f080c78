"""Many sentences at once: parse them, project their vectors to 2D/3D, list neighbours, export for the Projector.

Everything here works on plain arrays: ``vectors`` is always an (n_sentences, dim) float array whose row i belongs
to sentence i. Neighbours and the label-agreement number are computed by cosine in that ORIGINAL space; the 2D/3D
coordinates are only a picture of it (distances between points of a projection have no exact meaning).

UMAP is imported lazily: ``import umap`` and its first numba compilation cost many seconds (``warm_up`` pays them
once, ahead of time).

Example:
    >>> vectors = np.random.default_rng(0).normal(size=(30, 8)).astype(np.float32)
    >>> project(vectors, ProjectionSettings(method="pca")).coords.shape
    (30, 2)
"""

from __future__ import annotations

import csv
import io
import logging
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal, get_args

import numpy as np
import numpy.typing as npt
import pandas as pd

from embedlab.corpora import PROJECTION_FILE
from embedlab.data.pairfiles import decode_text, read_delimited
from embedlab.data.pairtable import cell_text
from embedlab.errors import EmbedLabError
from embedlab.limits import MAX_PLACED, MAX_SENTENCES

logger = logging.getLogger(__name__)

Method = Literal["umap", "pca"]
METHODS: tuple[str, ...] = get_args(Method)
DEFAULT_SEED = 42
DEFAULT_NEIGHBOURS = 15
DEFAULT_MIN_DIST = 0.1
SAME_DIRECTION = 1e-5  # cosine distance below which two vectors count as one point
_BLOCK_ROWS = 1024  # rows of the similarity matrix held at once: 1024 x 5000 float32 = 20 MB


# ---------------------------------------------------------------------------------------------------- sentences


@dataclass(frozen=True)
class SentenceSet:
    """Sentences to project, with optional labels (hashable, so a page can cache on it).

    Attributes:
        sentences: the texts, in input order (duplicates kept).
        labels: one per sentence; "" where a sentence has none.
        skipped_empty: input lines or rows skipped because they held no sentence.
        source: where the sentences came from, in words.
    """

    sentences: tuple[str, ...]
    labels: tuple[str, ...]
    skipped_empty: int = 0
    source: str = ""

    def __post_init__(self) -> None:
        if len(self.sentences) != len(self.labels):
            raise ValueError(f"{len(self.sentences)} sentences but {len(self.labels)} labels")

    def __len__(self) -> int:
        return len(self.sentences)

    @property
    def has_labels(self) -> bool:
        return any(self.labels)


def _checked(
    sentences: list[str], labels: list[str], skipped: int, source: str, limit: int = MAX_SENTENCES
) -> SentenceSet:
    if len(sentences) > limit:
        raise EmbedLabError(
            f"{source or 'The input'} has {len(sentences):,} sentences; the Projection page takes at most "
            f"{limit:,}. Remove {len(sentences) - limit:,} of them (nothing was dropped)."
        )
    return SentenceSet(tuple(sentences), tuple(labels), skipped, source)


def parse_sentence_lines(text: str, source: str = "The text", limit: int = MAX_SENTENCES) -> SentenceSet:
    """One sentence per line, optionally ``label<TAB>sentence``. Empty lines are skipped and counted.

    Example:
        >>> parse_sentence_lines("sports\\tA goal!\\n\\nRain again.").labels
        ('sports', '')

    Raises:
        EmbedLabError: more than ``limit`` sentences.
    """
    sentences: list[str] = []
    labels: list[str] = []
    skipped = 0
    for line in text.splitlines():
        label, tab, sentence = line.partition("\t")
        if not tab:
            label, sentence = "", line
        if not sentence.strip():
            skipped += 1
            continue
        sentences.append(sentence.strip())
        labels.append(label.strip())
    return _checked(sentences, labels, skipped, source, limit)


def parse_sentence_csv(text: str, name: str = "file", limit: int = MAX_SENTENCES) -> SentenceSet:
    """CSV or TSV with a ``sentence`` column and an optional ``label`` column; rows without a sentence are counted.

    Raises:
        EmbedLabError: not readable, no ``sentence`` column, no sentence at all, more than ``limit`` sentences.
    """
    lines = text.splitlines()
    header = next((line for line in lines if line.strip()), "")
    if not header:
        raise EmbedLabError(f"{name} is empty: it needs a header row naming a 'sentence' column.")
    if header.strip().strip('"').strip().lower() == "sentence":
        # One column: every line is a sentence, commas and all (a quoted line is unquoted).
        body = lines[lines.index(header) + 1 :]
        texts = [next(csv.reader([line]))[0] if line.strip().startswith('"') else line for line in body]
        frame = pd.DataFrame({"sentence": texts}, dtype=str)
    else:
        frame = read_delimited(text, "\t" if "\t" in header else ",", name)
    frame.columns = [str(column).strip().lower() for column in frame.columns]
    if "sentence" not in frame.columns:
        raise EmbedLabError(
            f"{name} has no 'sentence' column: its header must name 'sentence' (and optionally 'label'); "
            f"found: {', '.join(frame.columns) or 'nothing'}."
        )
    texts = frame["sentence"].fillna("").astype(str).str.strip()
    label_column = frame["label"] if "label" in frame.columns else pd.Series([""] * len(frame))
    tags = label_column.fillna("").astype(str).str.strip()
    keep = texts != ""
    if not keep.any():
        raise EmbedLabError(f"{name} has a 'sentence' column but no sentence in it.")
    return _checked(list(texts[keep]), list(tags[keep]), int((~keep).sum()), name, limit)


def parse_sentence_file(data: bytes, name: str, limit: int = MAX_SENTENCES) -> SentenceSet:
    """An uploaded file: ``.txt`` is one sentence per line (optional ``label<TAB>``), anything else CSV/TSV."""
    text = decode_text(data, name)
    if name.lower().endswith(".txt"):
        found = parse_sentence_lines(text, name, limit)
        if not found.sentences:
            raise EmbedLabError(f"{name} has no sentence in it: put one sentence per line.")
        return found
    return parse_sentence_csv(text, name, limit)


def sentences_from_pairs(frame: pd.DataFrame, limit: int = MAX_SENTENCES) -> SentenceSet:
    """The distinct sentences of a pairs table (sentence1, sentence2), each labelled with its first pair's row label.

    Colouring by pair makes the label-agreement number read "how often is a sentence's nearest neighbour its
    partner (or another sentence of the same pair)".
    """
    seen: dict[str, str] = {}
    skipped = 0
    for row, first, second in zip(frame.index, frame["sentence1"], frame["sentence2"], strict=True):
        for value in (first, second):
            text = cell_text(value).strip()
            if not text:
                skipped += 1
            else:
                seen.setdefault(text, f"pair {row}")
    return _checked(list(seen), list(seen.values()), skipped, "The Compare page's pairs", limit)


@lru_cache(maxsize=1)
def bundled_sentences() -> SentenceSet:
    """The example set shipped in assets/: several hundred sentences in eight topics."""
    found = parse_sentence_csv(PROJECTION_FILE.read_text(encoding="utf-8"), PROJECTION_FILE.name)
    return SentenceSet(found.sentences, found.labels, found.skipped_empty, "the bundled example set")


# ---------------------------------------------------------------------------------------------------- neighbours


def unit_rows(vectors: npt.ArrayLike) -> npt.NDArray[np.float32]:
    """Rows scaled to length 1 (a zero row stays zero). Returns a new (n, dim) float32 array."""
    array = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    return np.divide(array, norms, out=np.zeros_like(array), where=norms > 0)


def _top(similarities: npt.NDArray[np.float32], k: int) -> npt.NDArray[np.int64]:
    """Indices of the k largest values of one row, best first; ties go to the lower index."""
    k = min(k, similarities.size)
    if k <= 0:
        return np.zeros(0, dtype=np.int64)
    if k < similarities.size:
        threshold = np.partition(similarities, similarities.size - k)[similarities.size - k]
        candidates = np.flatnonzero(similarities >= threshold)  # every tie at the boundary, in index order
    else:
        candidates = np.arange(similarities.size)
    order = np.argsort(-similarities[candidates], kind="stable")
    return candidates[order[:k]]


def nearest_neighbours(vectors: npt.ArrayLike, k: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
    """Each sentence's k nearest other sentences by cosine in the original space.

    A sentence is never its own neighbour (an exact duplicate is, with cosine 1). Ties go to the lower index.

    Returns:
        indices: (n, min(k, n-1)) int64, best first; scores: the same shape, float32 cosines.
    """
    unit = unit_rows(vectors)
    n = len(unit)
    k = max(0, min(k, n - 1))
    indices = np.zeros((n, k), dtype=np.int64)
    scores = np.zeros((n, k), dtype=np.float32)
    for start in range(0, n, _BLOCK_ROWS):
        block = unit[start : start + _BLOCK_ROWS] @ unit.T  # (block, n)
        for offset, row in enumerate(block):
            row[start + offset] = -np.inf  # never itself
            best = _top(row, k)
            indices[start + offset] = best
            scores[start + offset] = row[best]
    return indices, scores


def neighbours_of(vectors: npt.ArrayLike, index: int, k: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
    """The k nearest other sentences of sentence ``index`` (one row of ``nearest_neighbours``, computed alone)."""
    unit = unit_rows(vectors)
    similarities = unit @ unit[index]  # (n,)
    similarities[index] = -np.inf
    best = _top(similarities, min(k, len(unit) - 1))
    return best, similarities[best]


def neighbour_table(
    sentences: Sequence[str], labels: Sequence[str], vectors: npt.ArrayLike, index: int, k: int
) -> pd.DataFrame:
    """rank, sentence, label, cosine of the k nearest neighbours of sentence ``index``."""
    best, scores = neighbours_of(vectors, index, k)
    return pd.DataFrame(
        {
            "rank": np.arange(1, len(best) + 1),
            "sentence": [sentences[i] for i in best],
            "label": [labels[i] for i in best],
            "cosine": scores.astype(np.float64),
            "index": best,
        }
    )


def parse_placed(text: str, limit: int = MAX_PLACED) -> tuple[str, ...]:
    """The sentences to place: one per non-empty line, stripped, duplicates kept once, at most ``limit``.

    Raises:
        EmbedLabError: more than ``limit`` sentences.
    """
    lines = tuple(dict.fromkeys(line.strip() for line in text.splitlines() if line.strip()))
    if len(lines) > limit:
        raise EmbedLabError(f"{len(lines)} sentences to place: at most {limit} at once. Remove some lines.")
    return lines


def query_neighbour_table(
    sentences: Sequence[str], labels: Sequence[str], vectors: npt.ArrayLike, query: npt.ArrayLike, k: int
) -> pd.DataFrame:
    """rank, sentence, label, cosine, index of the k sentences nearest (cosine) to a vector that is not in the set.

    Args:
        vectors: (n, dim) the set's vectors; query: (dim,) the new sentence's vector, same configuration.
    """
    unit = unit_rows(vectors)
    scores = unit @ unit_rows(np.asarray(query, dtype=np.float32)[None])[0]  # (n,)
    best = _top(scores, k)
    return pd.DataFrame(
        {
            "rank": np.arange(1, len(best) + 1),
            "sentence": [sentences[i] for i in best],
            "label": [labels[i] for i in best],
            "cosine": scores[best].astype(np.float64),
            "index": best,
        }
    )


@dataclass(frozen=True)
class Agreement:
    """How often a labelled sentence's nearest neighbour (not itself) has the same label.

    Attributes:
        rate: that fraction, 0..1.
        chance: the fraction expected if the neighbour were any other sentence at random.
        counted: labelled sentences it is computed over.
    """

    rate: float
    chance: float
    counted: int


def label_agreement(vectors: npt.ArrayLike, labels: Sequence[str]) -> Agreement | None:
    """Label agreement of the nearest neighbour by cosine; None without labels or with fewer than 2 sentences.

    Sentences without a label are not counted, but may be a counted sentence's neighbour (then it disagrees).

    Example:
        >>> label_agreement(np.array([[1, 0], [0.9, 0.1], [0, 1], [0.1, 0.9]]), ["a", "a", "b", "a"]).rate
        0.5
    """
    labels = list(labels)
    n = len(labels)
    counted = [i for i, label in enumerate(labels) if label]
    if n < 2 or not counted:
        return None
    nearest, _ = nearest_neighbours(vectors, 1)
    same = [labels[int(nearest[i, 0])] == labels[i] for i in counted]
    sizes = pd.Series(labels).value_counts()
    chance = float(np.mean([(sizes[labels[i]] - 1) / (n - 1) for i in counted]))
    return Agreement(rate=float(np.mean(same)), chance=chance, counted=len(counted))


def matches(sentences: Sequence[str], query: str) -> npt.NDArray[np.bool_]:
    """(n,) bool: which sentences contain ``query`` (case-insensitive); all False for a blank query."""
    needle = query.strip().casefold()
    if not needle:
        return np.zeros(len(sentences), dtype=bool)
    return np.array([needle in sentence.casefold() for sentence in sentences], dtype=bool)


# ---------------------------------------------------------------------------------------------------- projection


@dataclass(frozen=True)
class ProjectionSettings:
    """How to draw the picture; hashable so a page can cache on it.

    ``random_state`` None lets UMAP run in parallel, unrepeatably. ``n_epochs`` None is UMAP's own choice.
    """

    method: Method = "umap"
    dims: int = 2
    n_neighbors: int = DEFAULT_NEIGHBOURS
    min_dist: float = DEFAULT_MIN_DIST
    random_state: int | None = DEFAULT_SEED
    n_epochs: int | None = None

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise EmbedLabError(f"Unknown projection {self.method!r}: choose one of {', '.join(METHODS)}.")
        if self.dims not in (2, 3):
            raise EmbedLabError(f"A projection has 2 or 3 dimensions, not {self.dims}.")
        if self.n_neighbors < 2:
            raise EmbedLabError("UMAP's n_neighbors must be at least 2.")
        if not 0.0 <= self.min_dist <= 1.0:
            raise EmbedLabError("UMAP's min_dist must lie between 0 and 1.")


@dataclass(frozen=True)
class Projection:
    """Coordinates of every sentence, and how they were obtained.

    Attributes:
        coords: (n, dims) float32; row i is sentence i (duplicates share a point).
        method: "umap", "pca" or "none" (every vector points the same way: nothing to draw).
        note: why the method differs from the one asked for, or what PCA keeps; "" otherwise.
    """

    coords: npt.NDArray[np.float32]
    method: str
    note: str = ""


def _distinct_directions(unit: npt.NDArray[np.float32]) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
    """(distinct rows in first-seen order, inverse): distinct[inverse] ~= unit.

    Rows with cosine above 1 - SAME_DIRECTION count as one: float rounding makes exact duplicates (and x, 3x)
    differ in the last bits, and to UMAP such near-copies are duplicates all the same.
    """
    n = len(unit)
    representative = np.arange(n)
    for start in range(0, n, _BLOCK_ROWS):
        block = unit[start : start + _BLOCK_ROWS] @ unit[: start + _BLOCK_ROWS].T  # only earlier rows matter
        for offset, row in enumerate(block):
            index = start + offset
            earlier = np.flatnonzero(row[:index] >= 1.0 - SAME_DIRECTION)
            if earlier.size:
                representative[index] = representative[earlier[0]]
    kept, inverse = np.unique(representative, return_inverse=True)  # kept is sorted: first-seen order
    return unit[kept], inverse.astype(np.int64)


def _pca_fit(
    unit: npt.NDArray[np.float32], dims: int
) -> tuple[npt.NDArray[np.float32], float, npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """PCA of the (n, dim) rows: (coordinates (n, dims), variance kept, mean (dim,), axes (dim, k))."""
    from threadpoolctl import threadpool_limits  # installed with scikit-learn (a UMAP requirement)

    data = np.asarray(unit, dtype=np.float64)
    mean = data.mean(axis=0)
    centered = data - mean
    # One BLAS thread: on this busy 2-core machine, after a UMAP fit, threaded BLAS took ~2 s here instead of 0.05 s.
    with threadpool_limits(1, user_api="blas"):
        covariance = centered.T @ centered  # (dim, dim)
        eigenvalues, eigenvectors = np.linalg.eigh(covariance)  # ascending
    order = np.argsort(eigenvalues)[::-1][: min(dims, len(data) - 1, data.shape[1])]
    axes = eigenvectors[:, order]  # (dim, k)
    # A fixed sign per axis (largest loading positive), so the same input always gives the same picture.
    signs = np.sign(axes[np.abs(axes).argmax(axis=0), np.arange(axes.shape[1])])
    axes = axes * np.where(signs == 0, 1.0, signs)
    coords = np.zeros((len(data), dims), dtype=np.float32)
    coords[:, : axes.shape[1]] = centered @ axes
    total = float(np.clip(eigenvalues, 0, None).sum())
    kept = float(np.clip(eigenvalues[order], 0, None).sum()) / total if total > 0 else 0.0
    return coords, kept, mean, axes


def _cosine_knn(unit: npt.NDArray[np.float32], k: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
    """UMAP's exact k-nearest-neighbour graph under cosine distance, each point first in its own list."""
    indices, scores = nearest_neighbours(unit, k - 1)
    n = len(unit)
    knn_indices = np.concatenate([np.arange(n)[:, None], indices], axis=1)
    knn_dists = np.concatenate([np.zeros((n, 1), np.float32), np.clip(1.0 - scores, 0.0, 2.0)], axis=1)
    return knn_indices, knn_dists.astype(np.float32)


class _ExactCosineIndex:
    """The search index UMAP's ``transform`` queries for new points: exact cosine neighbours among the fitted
    unit rows, by one matrix product (UMAP's own index is an NNDescent forest; ``precomputed_knn`` takes any object
    with its ``query``). Small data (under 4,096 points) never calls it: UMAP then compares with every point."""

    _angular_trees = True  # UMAP reads it to pick the search's epsilon

    def __init__(self, unit: npt.NDArray[np.float32]) -> None:
        self.unit = unit

    def query(self, vectors, k: int, epsilon: float = 0.1) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        scores = unit_rows(vectors) @ self.unit.T  # (m, n)
        order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        return order, np.clip(1.0 - np.take_along_axis(scores, order, axis=1), 0.0, 2.0).astype(np.float32)


def _umap_fit(unit: npt.NDArray[np.float32], settings: ProjectionSettings):
    """UMAP with metric cosine fitted on distinct unit rows: (the fitted reducer, its coordinates, a note). The exact
    cosine neighbour graph is computed here with one matrix product and handed over (``precomputed_knn``): UMAP's
    own small-data path evaluates the metric pair by pair in Python (about 4 s for 2,000 points), for the same graph.

    When the spectral initialisation fails (it can on odd neighbour graphs), UMAP runs again from a random
    initialisation and the note says so: the picture is then less repeatable across settings."""
    import umap

    knn = _cosine_knn(unit, settings.n_neighbors)
    inits = ("spectral", "random")
    note = ""
    for attempt, init in enumerate(inits):
        reducer = umap.UMAP(
            n_neighbors=settings.n_neighbors,
            min_dist=settings.min_dist,
            n_components=settings.dims,
            metric="cosine",
            random_state=settings.random_state,
            n_epochs=settings.n_epochs,
            init=init,
            precomputed_knn=(*knn, _ExactCosineIndex(unit)),
            n_jobs=1 if settings.random_state is not None else -1,
        )
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # n_jobs overridden by the seed; the index is not an NNDescent
                coords = np.asarray(reducer.fit_transform(unit), dtype=np.float32)
            return reducer, coords, note
        except (ValueError, np.linalg.LinAlgError, ArithmeticError) as error:  # spectral init fails on odd graphs
            if attempt == len(inits) - 1:
                raise
            reason = str(error).splitlines()[0] if str(error) else type(error).__name__
            logger.warning("UMAP %s initialisation failed (%s); retrying with %s", init, reason, inits[attempt + 1])
            note = f"UMAP's {init} initialisation failed ({reason}): the layout starts from a {inits[attempt + 1]} one."
    raise AssertionError("unreachable")


@dataclass(frozen=True, eq=False)
class FittedProjection:
    """A projection plus what it was fitted with, so new sentences can be placed on the same map without refitting
    it and without encoding the set again.

    Attributes:
        projection: the coordinates of the fitted sentences (as ``project`` returns).
        unit: (n_distinct, dim) the distinct unit rows the projection was fitted on.
        reducer: the fitted UMAP, or None for PCA and for "none".
        mean, axes: PCA's centre (dim,) and axes (dim, k); None for UMAP.
    """

    projection: Projection
    unit: npt.NDArray[np.float32]
    reducer: object = None
    mean: npt.NDArray[np.float64] | None = None
    axes: npt.NDArray[np.float64] | None = None

    def place(self, vectors: npt.ArrayLike) -> npt.NDArray[np.float32]:
        """(m, dims) coordinates of new rows (m, dim) on this map: UMAP's ``transform`` (each new point starts at
        the weighted mean of its neighbours' points and is then pulled into place, the fitted points held still),
        PCA's axes. Approximate in the same way the map is: a point's neighbours on the map need not be its
        neighbours in the original space.

        Raises:
            EmbedLabError: the rows' width differs from the fitted vectors'.
        """
        unit = unit_rows(vectors)
        if unit.ndim != 2 or unit.shape[1] != self.unit.shape[1]:
            raise EmbedLabError(
                f"These vectors have {unit.shape[-1]} dimensions, the map was fitted on {self.unit.shape[1]}: "
                "place sentences with the configuration the map was drawn with."
            )
        dims = self.projection.coords.shape[1]
        if self.reducer is not None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return np.asarray(self.reducer.transform(unit), dtype=np.float32)
        if self.axes is None:  # "none": every fitted vector points the same way
            return np.zeros((len(unit), dims), np.float32)
        coords = np.zeros((len(unit), dims), np.float32)
        coords[:, : self.axes.shape[1]] = (np.asarray(unit, np.float64) - self.mean) @ self.axes
        return coords


def project(vectors: npt.ArrayLike, settings: ProjectionSettings | None = None) -> Projection:
    """Coordinates of the rows of ``vectors`` (n, dim) in 2 or 3 dimensions.

    Rows are compared by direction (cosine): they are scaled to unit length first. Rows pointing the same way
    (exact duplicate sentences, say) are projected once and share a point, so UMAP's spectral initialisation
    never sees duplicates. UMAP needs more distinct points than ``n_neighbors``: with fewer, PCA is used and
    the note says so.

    Returns:
        Projection with (n, dims) float32 coords; row i is vectors[i].
    """
    return fit_projection(vectors, settings).projection


def fit_projection(vectors: npt.ArrayLike, settings: ProjectionSettings | None = None) -> FittedProjection:
    """``project``, keeping what new sentences need to be placed on the same map (``FittedProjection.place``)."""
    settings = settings or ProjectionSettings()
    unit = unit_rows(vectors)
    n = len(unit)
    if n == 0:
        return FittedProjection(Projection(np.zeros((0, settings.dims), np.float32), settings.method), unit)
    distinct, inverse = _distinct_directions(unit)
    if len(distinct) == 1:
        note = "Every sentence has the same vector in this configuration: there is nothing to spread out."
        return FittedProjection(Projection(np.zeros((n, settings.dims), np.float32), "none", note), distinct)
    duplicates = n - len(distinct)
    shared = f" {duplicates} duplicate vectors share a point." if duplicates else ""
    if settings.method == "umap" and len(distinct) > settings.n_neighbors:
        reducer, coords, note = _umap_fit(distinct, settings)
        return FittedProjection(Projection(coords[inverse], "umap", (note + shared).strip()), distinct, reducer=reducer)
    coords, kept, mean, axes = _pca_fit(distinct, settings.dims)
    note = f"PCA: the {settings.dims} axes keep {kept:.0%} of the variance."
    if settings.method == "umap":
        note = (
            f"UMAP needs more distinct sentences than n_neighbors ({settings.n_neighbors}); with "
            f"{len(distinct)}, the plot uses PCA instead. " + note
        )
    return FittedProjection(Projection(coords[inverse], "pca", note + shared), distinct, mean=mean, axes=axes)


def warm_up() -> None:
    """Import UMAP and compile its numba code on a tiny set, through the same path ``project`` uses."""
    rng = np.random.default_rng(0)
    points = rng.normal(size=(40, 16)).astype(np.float32)
    project(points, ProjectionSettings(n_neighbors=10, n_epochs=20))


# ---------------------------------------------------------------------------------------------------- export


def _cell(text: str) -> str:
    """One TSV cell: tabs and line breaks would split rows, so they become spaces."""
    return " ".join(str(text).replace("\t", " ").splitlines())


def vectors_tsv(vectors: npt.ArrayLike) -> str:
    """The Embedding Projector's vectors file: one row per sentence, tab-separated, no header.

    Values are written with 9 significant digits, enough to read every float32 back exactly.
    """
    array = np.asarray(vectors, dtype=np.float32)
    buffer = io.StringIO()
    np.savetxt(buffer, array, fmt="%.9g", delimiter="\t")
    return buffer.getvalue()


def metadata_tsv(sentences: Sequence[str], labels: Sequence[str]) -> str:
    """The Projector's metadata file: sentences only (one column, no header), or a ``sentence\\tlabel`` header
    row then both columns when any sentence has a label (the Projector reads a header when there are 2+ columns).
    """
    if any(labels):
        rows = ["sentence\tlabel", *(f"{_cell(s)}\t{_cell(label)}" for s, label in zip(sentences, labels, strict=True))]
    else:
        rows = [_cell(s) for s in sentences]
    return "\n".join(rows) + "\n"


def coordinates_table(
    sentences: Sequence[str], labels: Sequence[str], coords: Mapping[str, npt.NDArray[np.floating]]
) -> pd.DataFrame:
    """sentence, label, then NAME_x, NAME_y (NAME_z) per projection in ``coords`` (name -> (n, 2|3))."""
    table = pd.DataFrame({"sentence": list(sentences), "label": list(labels)})
    for name, points in coords.items():
        for axis, column in zip("xyz", np.asarray(points).T, strict=False):
            table[f"{name}_{axis}"] = column.astype(np.float64)
    return table
