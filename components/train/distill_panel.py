"""The Train page's "Distill a static model": a start model and a width, queued as a run of the method ``distill``
(``embedlab.training.distill``), so it waits its turn, shows its progress and can be stopped like any run; the
result is a folder every model box lists."""

from __future__ import annotations

import streamlit as st

from components.shared import notes
from components.train import train_run
from components.train.train_queue import job_queue
from embedlab.errors import EmbedLabError
from embedlab.models.names import PACKAGED
from embedlab.models.registry import saved_models
from embedlab.training import ranges
from embedlab.training.compose import Composition
from embedlab.training.distill import (
    DEFAULT_PCA_DIMS,
    METHOD,
    check_installed,
    distill_data,
    distill_settings,
)
from embedlab.training.folders import free_name
from embedlab.training.methods import start_problem
from embedlab.training.queue import QueueUnreadable, TrainRequest
from embedlab.training.save import check_model_name, model_folder

KEY = "train.distill"
BUTTON = f"{KEY}.start"
ERROR = f"{KEY}.error"


def distill_panel() -> None:
    """The start model (the packaged one or a saved model with layers), the width, the name, and the button."""
    with st.expander("Distill a static model", expanded=False):
        st.caption(
            "model2vec passes every token of the model's own vocabulary through it once, keeps the vectors (PCA to "
            "the width below, frequent tokens weighted down) and averages them per sentence: no attention, tens of "
            "times faster, several STS points lower (docs/backends.md). About three minutes for all-MiniLM-L6-v2 "
            "on this CPU: it runs in the queue."
        )
        try:
            check_installed()
        except EmbedLabError as error:
            notes.warning("{}", str(error))
            return
        options = [ref for ref in [PACKAGED, *saved_models()] if start_problem(ref, METHOD) is None]
        left, middle, right = st.columns([3, 1, 2])
        ref = left.selectbox("Start model", options, key=f"{KEY}.model")
        dims = middle.number_input("Width", *ranges.STATIC_DIMS, DEFAULT_PCA_DIMS, step=32, key=f"{KEY}.dims")
        name = right.text_input("Save as", value=free_name("static"), key=f"{KEY}.name")
        try:
            jobs = job_queue()
        except QueueUnreadable:
            st.button("Distill", key=BUTTON, disabled=True)
            return
        if st.button("Distill", key=BUTTON, disabled=ref is None):
            try:
                folder = model_folder(check_model_name(name))
                request = TrainRequest(Composition(ref), distill_data(int(dims)), distill_settings(), str(folder))
                jobs.submit(request, owner=train_run.session_owner(), browser=train_run.browser_key())
                train_run._start_worker(jobs)
                st.session_state.pop(ERROR, None)
            except EmbedLabError as error:
                st.session_state[ERROR] = str(error)
            st.rerun()
        if st.session_state.get(ERROR):
            notes.error("{}", st.session_state[ERROR])
