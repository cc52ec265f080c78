"""Compare's answer while the server starts: a new session's two configurations scored before torch is imported.

A cold start spends ~5 s importing torch, transformers and sentence-transformers (docs/benchmarks.md). When both of
a new session's configurations run on the packaged model (``new_session_specs``: its raw CLS and its own pipeline;
the raw model is the packaged one whenever bert-base-uncased is neither cached nor reachable), ``NumpyEncoder``
computes them in numpy through the very code the page runs (``score_rows``, ``random_pair_baseline``,
``compare_table``), so the table equals the page's to float32 rounding (tested to 1e-5). The reference sentences'
states come from the library's file on disk when a previous start wrote it (``reference_cache``), else from this
engine (~1.5 s on 2 cores); this engine never writes that file.

Example:
    >>> engine = first_look_engine()  # doctest: +SKIP
    >>> first_look(engine, example_pairs()).loc[0, "trained_cosine"]  # doctest: +SKIP
    0.80...
"""

from __future__ import annotations

from urllib.parse import urlparse

import pandas as pd

from embedlab.embedding.scoring import random_pair_baseline
from embedlab.embedding.specs import EmbedSpec, new_session_specs
from embedlab.models.hub import hub_unreachable_reason, maybe_cached
from embedlab.models.identity import resolve_model
from embedlab.models.loading import packaged_model_path
from embedlab.models.names import PACKAGED, PREFERRED_RAW_MODEL
from embedlab.models.numpy_bert import NumpyEncoder
from embedlab.tasks.compare import Scored, check_pairs, compare_table, score_rows

COMPARE_PATHS = ("", "compare")  # Compare is the default page: "/" or "/compare", under the server's base path


def raw_model_is_packaged() -> bool:
    """Whether a new session's raw model will be the packaged one: bert-base-uncased is not in the local cache and
    the Hub cannot be reached to download it (what ``default_raw_model`` finds, without trying a download). A cache
    folder that may hold it counts as holding it: then no first look, rather than one with another raw model."""
    return not maybe_cached(PREFERRED_RAW_MODEL) and hub_unreachable_reason() is not None


def plain_compare_address(url: str, base_path: str, params: dict[str, str]) -> bool:
    """Whether ``url`` opens Compare ("/" or "/compare" under the server's ``base_path``) with no parameter: a
    shared view or any other parameter gets the page itself, which knows what to do with it."""
    base = base_path.strip("/")
    path = urlparse(url).path.strip("/")
    if base and (path == base or path.startswith(f"{base}/")):
        path = path[len(base) :].strip("/")
    elif base:
        return False
    return path in COMPARE_PATHS and not params


def first_look_specs() -> tuple[EmbedSpec, EmbedSpec]:
    """A new session's (raw, trained) configurations when its raw model is the packaged one."""
    return new_session_specs(resolve_model(PACKAGED))


def first_look_engine() -> NumpyEncoder:
    """The packaged model in numpy (the reference sentences' states are read from the library's file, when it is
    on disk, by the first baseline: ``random_pair_baseline``).

    Raises:
        EmbedLabError: the packaged model is missing or not one ``NumpyBert`` runs.
    """
    return NumpyEncoder.load(resolve_model(PACKAGED), packaged_model_path(), "the packaged all-MiniLM-L6-v2")


def first_look(engine: NumpyEncoder, table: pd.DataFrame) -> pd.DataFrame | None:
    """The Compare table of ``table`` under a new session's two configurations, with their random-pair baselines
    (``compare_table``'s columns), or None when no row can be scored.

    Raises:
        EmbedLabError: a text the engine cannot take (as the page would say it).
    """
    check = check_pairs(table)
    if not check.scorable:
        return None
    raw, trained = first_look_specs()
    return compare_table(
        table,
        check,
        Scored(*score_rows(engine, raw, table, check.scorable), random_pair_baseline(engine, raw)),
        Scored(*score_rows(engine, trained, table, check.scorable), random_pair_baseline(engine, trained)),
    )
