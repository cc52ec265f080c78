"""The Train page's run: the Start button, and the progress of the current or last run, polled while it trains.

The run itself belongs to one ``TrainingJobs`` object (``embedlab.training.jobs``) kept in ``st.cache_resource``:
shared by every session, so progress survives reruns and page switches; one run at a time (the CPU is the limit),
stopped and shown in full only to the session that started it (``OWNER``). The progress panel is a fragment polling
that object; what a finished run shows is ``components.train_results``.
"""

from __future__ import annotations

import uuid

import streamlit as st

from components import train_results
from components.services import get_encoder
from components.train_form import choice, keep, key_of
from embedlab import served
from embedlab.errors import EmbedLabError
from embedlab.models.names import models_dir
from embedlab.training.compose import Composition
from embedlab.training.data import TrainingData
from embedlab.training.folders import free_name, save_where_free
from embedlab.training.jobs import JobView, TrainingJobs, TrainRequest
from embedlab.training.run import TrainSettings, count_steps
from embedlab.training.save import check_model_name, model_folder

START_BUTTON = "train.start"
STOP_BUTTON = "train.stop"
KEEP_PARTIAL = "train.keep_partial"
LAST_ERROR = "train.error"
OWNER = "train.owner"  # this session's token: the runs it starts are its own to stop and to see
POLL_SECONDS = 1.0


@st.cache_resource(show_spinner=False)
def training_jobs() -> TrainingJobs:
    """The process's one training runner, shared by every session. Start models come from the model cache; a run
    whose name was taken while it trained is saved under the next free name (``save_where_free``), never lost."""
    return TrainingJobs(load=lambda ref: get_encoder(ref).model, save=save_where_free)


def start_controls(
    composition: Composition, data: TrainingData, settings: TrainSettings, eval_pairs, problem: str | None = None
) -> None:
    """The name to save as and the Start button: off while a run is active, or while ``problem`` (why the method
    cannot train the composition) stands."""
    jobs = training_jobs()
    view = jobs.view(session_owner())
    default_name = choice("name") or free_name(f"{data.method}-{composition.pooling}")
    name = st.text_input("Save as (a folder under the models directory)", value=default_name, key=key_of("name"))
    st.caption(f"Models directory: `{models_dir()}` (set EMBEDLAB_MODELS_DIR to move it).")
    busy = view is not None and view.active
    too_long = None
    try:
        served.check_steps(count_steps(data.n_examples, settings))
    except EmbedLabError as error:  # said before Start, not after (the engine refuses it again on submit)
        too_long = str(error)
        st.error(too_long)
    off = busy or problem is not None or too_long is not None
    if st.button("Start training", type="primary", key=START_BUTTON, disabled=off):
        try:
            folder = model_folder(check_model_name(name))
            request = TrainRequest(composition, data, settings, save_to=str(folder), eval_pairs=eval_pairs)
            jobs.submit(request, owner=session_owner())
            keep("name", "")
            st.session_state.pop(LAST_ERROR, None)
        except EmbedLabError as error:
            st.session_state[LAST_ERROR] = str(error)
            keep("name", name)
        st.rerun()
    if busy:
        st.caption("A run is in progress on this server: one at a time (the CPU is the limit).")
    elif problem:
        st.caption(f"Start is off until the composition fits the method: {problem}")
    if st.session_state.get(LAST_ERROR):
        st.error(st.session_state[LAST_ERROR])


def progress_panel() -> None:
    """The current or last run: polled every second while it runs (a fragment), a full rerun when it ends."""
    view = training_jobs().view(session_owner())
    if view is None:
        st.info("No training has run on this server yet: compose a model, pick a method and data, and start.")
        return
    if view.active:
        st.fragment(run_every=POLL_SECONDS)(_live_panel)(view.job_id)
    else:
        _render(view)


def progress_text(view: JobView) -> str:
    """What the run is doing, for the progress bar: the step, speed and ETA while it trains; once Stop was asked,
    that it is stopping (it ends its step, then the stopped model is measured and saved: no ETA for that)."""
    latest = view.latest
    if view.stopping:
        where = f" at step {latest.step}/{latest.total}" if latest is not None and latest.step else ""
        doing = "saving the partial model" if view.phase == "saving" else "measuring the stopped model, then saving"
        return f"stopping{where}: {doing}…"
    if latest is None or latest.step == 0:
        return f"{view.phase}…"
    eta = f", ETA {latest.eta_seconds:.0f} s" if latest.eta_seconds is not None else ""
    return f"{view.phase}: step {latest.step}/{latest.total} · {latest.steps_per_second:.2f} steps/s{eta}"


def _live_panel(job_id: int) -> None:
    view = training_jobs().view(session_owner())
    if view is None or view.job_id != job_id or not view.active:
        st.rerun(scope="app")  # the run ended: the whole page updates (the model list, the results)
    _render(view)


def session_owner() -> str:
    return st.session_state.setdefault(OWNER, uuid.uuid4().hex)


def _render(view: JobView) -> None:
    if not view.mine:  # another session's run: no data source, results, error, zip or Stop
        st.info(
            "A run by another session is in progress: one at a time on this server."
            if view.active
            else "No training has run in this session yet: compose a model, pick a method and data, and start."
        )
        return
    request = view.request
    title = f"Run {view.job_id}: {request.data.method} on {request.composition.model} · {request.data.source}"
    st.markdown(f"**{title}**")
    latest = view.latest
    if view.active:
        fraction = 0.0 if latest is None or not latest.total else min(1.0, latest.step / latest.total)
        st.progress(fraction, text=progress_text(view))
        if not view.stopping:
            keep_partial = st.checkbox("Keep the partial model when stopping", value=True, key=KEEP_PARTIAL)
            if st.button("Stop", key=STOP_BUTTON):
                # the next poll says "stopping"
                training_jobs().stop(view.job_id, session_owner(), keep_partial=keep_partial)
    elif view.status == "failed":
        st.error(view.error)
    else:
        stopped = " (stopped early)" if view.status == "stopped" else ""
        st.success(f"{view.steps} steps in {view.seconds:.0f} s{stopped}. " + train_results.saved_text(view))
    train_results.show(view)
