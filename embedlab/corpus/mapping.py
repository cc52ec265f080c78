"""The 2-D map of a big corpus, and clusters to colour it by.

UMAP's fit grows faster than linearly with the points (its neighbour graph and its epochs): here it is fitted on a
sample of at most ``UMAP_SAMPLE`` distinct points (the size the Projection page maps in a few seconds), and every
other point is placed by ``transform`` (``FittedProjection.place``: each new point starts at the weighted mean of
its neighbours on the map and is pulled into place, the fitted points held still), in batches, with progress. Above
``UMAP_MAX_POINTS`` the map is PCA (one pass, memory of one (dim, dim) matrix), and the note says so.

A map is fitted once per corpus, method and seed, by a worker of the training queue (``MapRequest``,
``Worker._fit_map``) or by ``python -m embedlab embed --map``, and kept in the corpus folder (``save_map``): every
page, tab, process and machine sharing the models directory reads it (``load_map``) instead of fitting again.

Example:
    >>> vectors = np.random.default_rng(0).normal(size=(300, 8)).astype(np.float32)
    >>> corpus_map(vectors, "pca").coords.shape
    (300, 2)
"""

from __future__ import annotations

import json
import os
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

import numpy as np
import numpy.typing as npt

from embedlab.errors import EmbedLabError
from embedlab.limits import MAX_SENTENCES
from embedlab.tasks.projection import DEFAULT_SEED, ProjectionSettings, fit_projection, unit_rows

MapMethod = Literal["auto", "umap", "pca"]
MAP_METHODS: tuple[str, ...] = get_args(MapMethod)
UMAP_SAMPLE = MAX_SENTENCES  # points UMAP is fitted on; the rest are placed by transform
UMAP_MAX_POINTS = 100_000  # above: PCA ("auto"), or a refusal ("umap")
PLACE_BATCH = 4_096  # points placed per transform call (one progress step)
MAX_CLUSTERS = 50
MAPS_FOLDER = "maps"  # in a corpus folder: one fitted map per method and seed


@dataclass(frozen=True, eq=False)
class CorpusMap:
    """coords: (n, 2) float32, row i = text i; method: "umap" or "pca"; fitted_on: how many points the projection
    was fitted on (the others were placed); note: what was done, in words."""

    coords: npt.NDArray[np.float32]
    method: str
    fitted_on: int
    note: str


def check_map(method: str, n: int) -> None:
    """Refuse, before any work, a map ``corpus_map`` would refuse for ``n`` points.

    Raises:
        EmbedLabError: an unknown method, or "umap" for more than ``UMAP_MAX_POINTS`` points.
    """
    if method not in MAP_METHODS:
        raise EmbedLabError(f"Unknown map {method!r}: choose one of {', '.join(MAP_METHODS)}.")
    if method == "umap" and n > UMAP_MAX_POINTS:
        raise EmbedLabError(f"UMAP maps at most {UMAP_MAX_POINTS:,} points here ({n:,} asked): choose PCA, or auto.")


def corpus_map(
    vectors: npt.ArrayLike,
    method: MapMethod = "auto",
    seed: int = DEFAULT_SEED,
    progress: Callable[[int, int], None] | None = None,
    stop: threading.Event | None = None,
) -> CorpusMap | None:
    """A 2-D map of ``vectors`` (n, dim). ``progress(placed, n)`` is called after the fit and after each batch;
    ``stop`` is looked at there too (the fit itself runs to its end): None when it was set.

    Raises:
        EmbedLabError: as ``check_map``.
    """
    unit = unit_rows(vectors)
    n = len(unit)
    check_map(method, n)
    use_umap = method == "umap" or (method == "auto" and n <= UMAP_MAX_POINTS)
    if not use_umap:
        pca = _pca_map(unit, seed, progress)
        return None if stop is not None and stop.is_set() else pca
    settings = ProjectionSettings(method="umap", random_state=seed)
    rng = np.random.default_rng(seed)
    sample = np.sort(rng.choice(n, size=UMAP_SAMPLE, replace=False)) if use_umap and n > UMAP_SAMPLE else None
    fitted = fit_projection(unit if sample is None else unit[sample], settings)
    if stop is not None and stop.is_set():
        return None
    if sample is None:
        coords = fitted.projection.coords
        if progress is not None:
            progress(n, n)
        placed_note = ""
    else:
        coords = np.zeros((n, 2), np.float32)
        coords[sample] = fitted.projection.coords
        rest = np.setdiff1d(np.arange(n), sample)
        done = len(sample)
        if progress is not None:
            progress(done, n)
        for start in range(0, len(rest), PLACE_BATCH):
            if stop is not None and stop.is_set():
                return None
            batch = rest[start : start + PLACE_BATCH]
            coords[batch] = fitted.place(unit[batch])
            done += len(batch)
            if progress is not None:
                progress(done, n)
        placed_note = f" Fitted on {len(sample):,} points drawn at random; the other {len(rest):,} placed by transform."
    note = (fitted.projection.note + placed_note).strip()
    return CorpusMap(coords, fitted.projection.method, n if sample is None else len(sample), note.strip())


def _pca_map(unit: npt.NDArray[np.float32], seed: int, progress: Callable[[int, int], None] | None) -> CorpusMap:
    """PCA of every row at once (scikit-learn's randomized solver): linear in the rows. Not the Projection page's
    ``fit_projection``, whose search for duplicate directions compares every pair of rows (72 s for 100,000 here)."""
    from sklearn.decomposition import PCA

    pca = PCA(n_components=2, svd_solver="randomized", random_state=seed)
    coords = pca.fit_transform(unit).astype(np.float32)
    if progress is not None:
        progress(len(unit), len(unit))
    kept = float(pca.explained_variance_ratio_.sum())
    note = f"PCA of {len(unit):,} points (UMAP maps up to {UMAP_MAX_POINTS:,}): the 2 axes keep {kept:.0%} of the "
    note += "variance."
    return CorpusMap(coords, "pca", len(unit), note)


def map_path(folder: str | Path, method: str, seed: int = DEFAULT_SEED) -> Path:
    """Where the map of the corpus stored in ``folder`` (one model revision, one text list) is kept."""
    return Path(folder) / MAPS_FOLDER / f"{method}-{seed}.npz"


def load_map(folder: str | Path, method: str, n: int, seed: int = DEFAULT_SEED) -> CorpusMap | None:
    """The map fitted earlier for this corpus and method (by any process sharing the models directory), or None
    when there is none or it does not hold ``n`` points (a damaged file is ignored: asking again fits it again)."""
    try:
        with np.load(map_path(folder, method, seed)) as kept:
            coords = np.asarray(kept["coords"], dtype=np.float32)
            about = json.loads(str(kept["about"]))
        if coords.shape != (n, 2):
            return None
        return CorpusMap(coords, str(about["method"]), int(about["fitted_on"]), str(about["note"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def save_map(folder: str | Path, method: str, fitted: CorpusMap, seed: int = DEFAULT_SEED) -> None:
    """Keep ``fitted`` beside the corpus's vectors (written whole, then renamed: a reader never sees half a map).

    Raises:
        EmbedLabError: the folder cannot be written (the map is what a map job leaves: it fails saying so).
    """
    path = map_path(folder, method, seed)
    about = json.dumps({"method": fitted.method, "fitted_on": fitted.fitted_on, "note": fitted.note})
    partial = path.with_name(f".{path.stem}.partial-{os.getpid()}-{secrets.token_hex(3)}.npz")
    try:
        path.parent.mkdir(exist_ok=True)
        np.savez(partial, coords=fitted.coords.astype(np.float32), about=np.array(about))
        os.replace(partial, path)
    except OSError as error:
        partial.unlink(missing_ok=True)
        reason = error.strerror or error
        raise EmbedLabError(f"Could not write the map to {path} ({reason}): check the folder.") from None


def kept_corpus_map(
    folder: str | Path,
    vectors: npt.ArrayLike,
    method: MapMethod = "auto",
    seed: int = DEFAULT_SEED,
    progress: Callable[[int, int], None] | None = None,
    stop: threading.Event | None = None,
) -> tuple[CorpusMap | None, bool]:
    """(map, fitted now): the map kept for the corpus in ``folder`` when there is one, else ``corpus_map`` fitted
    and kept there for every later visit, tab, process and machine sharing the models directory; (None, False) when
    ``stop`` was set before the map was whole (nothing is kept).

    Raises:
        EmbedLabError: as ``corpus_map`` and ``save_map``.
    """
    vectors = np.asarray(vectors)
    found = load_map(folder, method, len(vectors), seed)
    if found is not None:
        if progress is not None:
            progress(len(vectors), len(vectors))
        return found, False
    fitted = corpus_map(vectors, method, seed, progress, stop)
    if fitted is None:
        return None, False
    save_map(folder, method, fitted, seed)
    return fitted, True


def cluster_labels(vectors: npt.ArrayLike, k: int, seed: int = DEFAULT_SEED) -> npt.NDArray[np.int64]:
    """(n,) cluster of each row: MiniBatchKMeans with ``k`` clusters on the unit rows (cosine geometry).

    Raises:
        EmbedLabError: ``k`` outside 2..MAX_CLUSTERS, or fewer rows than clusters.
    """
    from sklearn.cluster import MiniBatchKMeans

    unit = unit_rows(vectors)
    if not 2 <= k <= MAX_CLUSTERS:
        raise EmbedLabError(f"Choose between 2 and {MAX_CLUSTERS} clusters, not {k}.")
    if len(unit) < k:
        raise EmbedLabError(f"{len(unit)} texts cannot make {k} clusters: choose fewer.")
    model = MiniBatchKMeans(n_clusters=k, random_state=seed, batch_size=4096, n_init=3)
    return model.fit_predict(unit).astype(np.int64)


def in_region(coords: npt.NDArray[np.float32], x: tuple[float, float], y: tuple[float, float]) -> npt.NDArray[np.bool_]:
    """(n,) which points lie inside the box ``x`` x ``y`` (both ends included)."""
    return (coords[:, 0] >= x[0]) & (coords[:, 0] <= x[1]) & (coords[:, 1] >= y[0]) & (coords[:, 1] <= y[1])


def selected_rows(value: object, n_rows: int) -> list[int]:
    """The distinct valid row numbers of a map selection a browser sent ({"rows": [integers]}), sorted.

    Untrusted: anything else counts as no selection, rows outside 0..n_rows-1 are dropped, and at most n_rows
    entries are read.
    """
    rows = value.get("rows") if isinstance(value, dict) else None
    if not isinstance(rows, list):
        return []
    kept = {row for row in rows[:n_rows] if isinstance(row, int) and not isinstance(row, bool) and 0 <= row < n_rows}
    return sorted(kept)
