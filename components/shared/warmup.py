"""Server start: the default models, the reference sentences' states and their baselines, loaded once per process
in a background thread, while a visitor who arrives meanwhile sees that the server is starting and how far it is.

A cold start spends its time in imports (torch, transformers, sentence-transformers), the first model load and the
reference sentences (kept on disk per model revision: ``embedlab.embedding.reference_cache``). ``app.py`` calls
``starting_notice`` before its own heavy imports: it starts the warm-up (``Startup.begin``, once per process) and,
while it runs, shows "Starting: …" with a progress bar instead of an empty page (on Compare, with the page's answer
computed without torch: ``components/compare/first_look_view.py``); then the page runs on warm caches.
``serve`` sends one request per replica before it announces the address, so a class finds every replica warm.

The warm-up fills the very caches the pages read: the shared encoders (``services.get_encoder``), the default raw
model's choice (``services.default_raw_model``), the random-pair baselines of the default configurations
(``services.baseline``), their canary verdicts (``canary.shared_canary``) and the raw model's per-layer baselines
(``services.layer_baseline_table``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import streamlit as st

from components.shared import notes

STEPS = (
    "importing the libraries",
    "loading the raw model",
    "loading the trained model",
    "the reference sentences' vectors",
    "random-pair baselines",
)
START_WAIT_S = 600.0  # the notice gives up waiting after this (a Hub download of the raw model can be slow)
POLL_S = 0.25


@dataclass
class Startup:
    """The warm-up of this process: how far it is, and what it found."""

    done: threading.Event = field(default_factory=threading.Event)
    started: float = field(default_factory=time.monotonic)
    step: int = 0  # steps finished, of len(STEPS)
    detail: str = STEPS[0]
    error: str | None = None
    seconds: float | None = None
    reference: dict[str, str] = field(default_factory=dict)  # model -> where its reference states came from
    _begun: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def advance(self, detail: str) -> None:
        self.step += 1
        self.detail = detail

    def begin(self) -> None:
        """Start ``warm_defaults`` in a daemon thread, once (later calls do nothing)."""
        with self._lock:
            if self._begun:
                return
            self._begun = True
        threading.Thread(target=warm_defaults, args=(self,), name="startup-warmup", daemon=True).start()


def warm_defaults(startup: Startup) -> None:
    """Load what the first page of a session reads, step by step on ``startup``; errors are kept, not raised (the
    page meets them again and says what to do)."""
    try:
        import sentence_transformers  # noqa: F401  (the largest import of a cold start, ~60 % of the first load)

        from components.shared.canary import shared_canary
        from components.shared.services import PACKAGED, baseline, default_raw_model, get_encoder, layer_baseline_table
        from embedlab.embedding.forward import limit_server_threads
        from embedlab.embedding.reference_cache import warm_reference_states
        from embedlab.embedding.specs import DEFAULT_LAYERS, EmbedSpec

        limit_server_threads()  # the model calls below run with the server's thread setting, like a page's
        raw_ref, _ = default_raw_model()
        startup.advance(f"loading the raw model ({raw_ref})")
        raw = get_encoder(raw_ref)
        startup.advance(f"loading the trained model ({PACKAGED})")
        trained = get_encoder(PACKAGED)
        startup.advance(STEPS[3])
        for encoder in dict.fromkeys((raw, trained)):
            startup.reference[encoder.model.model_id.key] = warm_reference_states(encoder)
        startup.advance(STEPS[4])
        # the specs config_panels builds for a new session: model identities from the encoders, as there
        for spec in (
            EmbedSpec(model=raw.model.model_id, pooling="cls", layers=DEFAULT_LAYERS),
            EmbedSpec(model=trained.model.model_id, pooling="model"),
        ):
            baseline(spec)
            shared_canary(spec)  # the page's canary banner scores 10 paraphrase pairs: once, here
        layer_baseline_table(raw.model.model_id)
        startup.advance("ready")
    except Exception as error:  # noqa: BLE001 - shown by the notice; the page raises it again with its own words
        startup.error = f"{type(error).__name__}: {error}"
    finally:
        startup.seconds = time.monotonic() - startup.started
        startup.done.set()


@st.cache_resource(show_spinner=False)
def process_startup() -> Startup:
    """This process's warm-up handle (not started: ``Startup.begin``)."""
    return Startup()


def starting_notice(preview: Callable[[], None] | None = None, timeout_s: float = START_WAIT_S) -> Startup:
    """Start the warm-up if needed; while it runs, show "Starting: …" with its step and the seconds so far, and
    under it what ``preview`` draws (Compare's answer, computed without the libraries: ``first_look_view``); then
    take both away. The first visitor's ``preview`` runs before the warm-up starts, which delays the warm-up by as
    much (0.3 s with the reference states on disk, ~1.5 s without). Returns the warm-up's handle."""
    startup = process_startup()
    if startup.done.is_set():
        return startup
    slot = st.empty()
    with slot.container():
        notes.info("Starting: loading the model and its baselines (once per server start)…", icon="⏳")
        bar = st.progress(0.0)
        try:
            if preview is not None:
                # the first visitor's before the warm-up: beside the libraries' imports it took 7 s instead of
                # 1.5 on 2 cores; a later visitor's reuses what the first computed
                preview()
        finally:
            startup.begin()
        deadline = time.monotonic() + timeout_s
        while not startup.done.wait(POLL_S) and time.monotonic() < deadline:
            elapsed = time.monotonic() - startup.started
            bar.progress(
                min(startup.step, len(STEPS) - 1) / len(STEPS),
                text=f"Starting: {startup.detail}… ({elapsed:.0f} s)",
            )
    slot.empty()
    return startup
