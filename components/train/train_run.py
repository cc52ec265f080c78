"""The Train page's runs: the Start button (it queues a run), the queue everyone sees, and this session's runs.

Runs are jobs on the training queue (``embedlab.training.queue``), trained by worker processes, never in this web
server: the page queues a run for this session (``OWNER``, a token kept in its session state), starts one local
worker when none is alive and a run is queued (and says so; never with ``EMBEDLAB_AUTO_WORKER=0``), and polls the
queue from a fragment while anything is queued or running.
Only the session that queued a run sees its details and its Stop/Cancel button; the admin
(``components.shared.admin_box``) gets a Stop/Cancel button on every run; everyone sees every run's name, method,
state, position and progress.
What a finished run shows is ``components.train.train_results``.
"""

from __future__ import annotations

import re
import secrets
import time
import uuid

import pandas as pd
import streamlit as st

from components.shared import notes
from components.shared.admin_box import is_admin
from components.train import train_results
from components.train.train_form import choice, keep, key_of
from components.train.train_queue import job_queue
from embedlab import served
from embedlab.errors import EmbedLabError
from embedlab.models.names import models_dir
from embedlab.training.compose import Composition
from embedlab.training.data import TrainingData
from embedlab.training.folders import free_name
from embedlab.training.queue import (
    JobQueue,
    JobView,
    QueueUnreadable,
    TrainRequest,
    ensure_worker,
    max_queue_size,
    max_queued,
    queue_full_message,
)
from embedlab.training.run import TrainSettings, count_steps
from embedlab.training.save import check_model_name, model_folder

START_BUTTON = "train.start"
STOP_BUTTON = "train.stop"  # one per run: "train.stop.<id>"
KEEP_PARTIAL = "train.keep_partial"
LAST_ERROR = "train.error"
WORKER_NOTE = "train.worker_note"  # what the page said about the worker it started
OWNER = "train.owner"  # this session's token: the runs it queues are its own to stop and to see
BROWSER = "train.browser"  # this browser's key (its cookie): the runs of all its sessions count towards one cap
BROWSER_SET = "train.browser_set"  # True once this session asked the browser to keep the cookie
BROWSER_COOKIE = "embedlab_browser"
BROWSER_KEY = re.compile(r"[A-Za-z0-9_-]{16,64}")  # what a browser's cookie must look like to be taken
COOKIE_DAYS = 30
UNREADABLE_SERVED = (
    "The training queue cannot be read (its database is damaged), so runs cannot be queued or listed here: tell "
    "the person who runs this server."
)
POLL_SECONDS = 1.0


def session_owner() -> str:
    return st.session_state.setdefault(OWNER, uuid.uuid4().hex)


def browser_key() -> str:
    """This browser's key, for the cap on queued runs: the cookie it sent, else a new one this session asks it to
    keep (a small script sets it). A reload or another tab of the same browser sends the cookie, so its runs count
    together; a private window, another browser or cleared cookies is a new browser (docs/served.md)."""
    sent = st.context.cookies.get(BROWSER_COOKIE)
    sent = sent if isinstance(sent, str) and BROWSER_KEY.fullmatch(sent) else None  # untrusted: checked
    key = st.session_state.get(BROWSER)
    if key is None:
        key = st.session_state[BROWSER] = sent or secrets.token_urlsafe(24)
    if not st.session_state.get(BROWSER_SET) and sent != key:
        st.session_state[BROWSER_SET] = True
        age = COOKIE_DAYS * 86_400  # the key is ours (token_urlsafe or checked above): no browser text in the script
        st.html(
            f"<script>document.cookie = '{BROWSER_COOKIE}={key}; path=/; max-age={age}; SameSite=Strict';</script>",
            unsafe_allow_javascript=True,
        )
    return key


def unreadable_text(error: QueueUnreadable) -> str:
    """What the page says of a queue it cannot read: with the file in local use, without a server path served."""
    return UNREADABLE_SERVED if served.served_mode() else str(error)


def start_controls(
    composition: Composition,
    data: TrainingData,
    settings: TrainSettings,
    eval_pairs,
    problem: str | None = None,
    cross: bool = False,
) -> None:
    """The name to save as and the Start button (it queues the run); off while ``problem`` (why the method cannot
    train the composition) stands, while this browser has as many runs queued as it may, or (served mode) while the
    whole queue is full; off too when the queue cannot be read (said above, by ``progress_panel``)."""
    try:
        jobs = job_queue()
        mine, everyone = jobs.active_counts(browser_key())
    except QueueUnreadable:
        st.button("Start training", type="primary", key=START_BUTTON, disabled=True)
        return
    default_name = choice("name") or free_name(
        f"{'cross-encoder' if cross else data.method_label.replace('+', '-')}-{composition.pooling}"
    )
    name = st.text_input("Save as (a folder under the models directory)", value=default_name, key=key_of("name"))
    st.caption(f"Models directory: `{models_dir()}` (set EMBEDLAB_MODELS_DIR to move it).")
    full = mine >= max_queued()
    queue_full = served.served_mode() and everyone >= max_queue_size()
    too_long = None
    try:
        served.check_steps(count_steps(data.n_examples, settings))
    except EmbedLabError as error:  # said before Start, not after (the queue refuses it again)
        too_long = str(error)
        notes.error("{}", too_long)
    off = full or queue_full or problem is not None or too_long is not None
    if st.button("Start training", type="primary", key=START_BUTTON, disabled=off):
        try:
            folder = model_folder(check_model_name(name))
            request = TrainRequest(composition, data, settings, save_to=str(folder), eval_pairs=eval_pairs, cross=cross)
            jobs.submit(request, owner=session_owner(), browser=browser_key())
            _start_worker(jobs)
            keep("name", "")
            st.session_state.pop(LAST_ERROR, None)
        except EmbedLabError as error:
            st.session_state[LAST_ERROR] = str(error)
            keep("name", name)
        st.rerun()
    if queue_full:
        notes.warning("{}", queue_full_message(everyone))
    elif full:
        st.caption(
            f"This browser has {mine} runs queued or running (in this tab or others), the most one browser may have: "
            "wait or cancel one."
        )
    elif problem:
        notes.caption("Start is off until the composition fits the method: {}", problem)
    if st.session_state.get(LAST_ERROR):
        notes.error("{}", st.session_state[LAST_ERROR])


def _start_worker(jobs: JobQueue) -> None:
    """Start a local worker when none is alive (``ensure_worker``), and say so on the page."""
    started = ensure_worker(jobs)
    if started is not None:
        st.session_state[WORKER_NOTE] = (
            f"No training worker was running: started one on this machine (pid {started.pid}; its log is in "
            f"`{jobs.folder}`). It keeps training queued runs after this page closes."
        )


def progress_panel() -> None:
    """The queue and this session's runs: polled every second while anything is queued or running (a fragment),
    a full rerun when one of them ends (the model boxes then list its model). A queued run with no worker alive
    (a server restarted, its worker gone with it) gets one started, as Start does."""
    browser_key()  # the first thing a new browser gets: its cookie, before it can queue anything
    try:
        views = job_queue().views(session_owner())
    except QueueUnreadable as error:
        notes.error("{}", unreadable_text(error))
        return
    if any(view.state == "queued" for view in views):
        _start_worker(job_queue())
    if not views:
        st.info("No training has run on this server yet: compose a model, pick a method and data, and start.")
        return
    if any(view.active for view in views):
        st.fragment(run_every=POLL_SECONDS)(_live_panel)(_active_ids(views))
    else:
        _render(views)


def _active_ids(views: list[JobView]) -> tuple[str, ...]:
    return tuple(view.job_id for view in views if view.active)


def _live_panel(active: tuple[str, ...]) -> None:
    try:
        views = job_queue().views(session_owner())
    except QueueUnreadable as error:
        notes.error("{}", unreadable_text(error))
        return
    if not set(active) <= set(_active_ids(views)):
        st.rerun(scope="app")  # a run ended: the whole page updates (the model lists, the results)
    _render(views)


def progress_text(view: JobView) -> str:
    """What a run is doing, for its progress bar: its place in the queue, or the step, speed and ETA while it
    trains; once Stop was asked, that it is stopping."""
    latest = view.latest
    if view.state == "queued":
        return f"queued, position {view.position}" + starts_text(view)
    if view.stopping:
        where = f" at step {latest.step}/{latest.total}" if latest is not None and latest.step else ""
        return f"stopping{where}: it ends its step, then the stopped model is measured and saved…"
    if latest is None or latest.step == 0:
        return f"{view.phase or 'starting'}…"
    eta = f", ETA {latest.eta_seconds:.0f} s" if latest.eta_seconds is not None else ""
    return f"{view.phase}: step {latest.step}/{latest.total} · {latest.steps_per_second:.2f} steps/s{eta}"


def starts_text(view: JobView) -> str:
    if view.starts_in is None:
        return " (no run has finished here yet to estimate when it starts)"
    if view.starts_in < 60:
        return ", starts within a minute (estimated from the runs finished here)"
    return f", starts in about {view.starts_in / 60:.0f} min (estimated from the runs finished here)"


def queue_table(views: list[JobView]) -> pd.DataFrame:
    """Every run as a row: what everyone may see."""
    rows = []
    for view in views:
        latest = view.latest
        where = {
            "queued": f"position {view.position}" + ("" if view.starts_in is None else starts_text(view)),
            "running": "" if latest is None else f"step {latest.step}/{latest.total}",
            "interrupted": view.message,
            "stopped": view.message,
            "failed": view.message if view.mine else "",
            "finished": "" if latest is None else f"{latest.step} steps",
        }[view.state]
        rows.append(
            {
                "run": view.name,
                "method": view.method,
                "state": view.state,
                "progress": where,
                "owner": "you" if view.mine else view.owner_label,
                "ended": "" if view.finished is None else time.strftime("%H:%M:%S", time.localtime(view.finished)),
            }
        )
    return pd.DataFrame(rows)


def _render(views: list[JobView]) -> None:
    admin = is_admin()
    if note := st.session_state.get(WORKER_NOTE):
        notes.info("{}", note)
    active = [view for view in views if view.active]
    st.markdown(
        f"**Training queue** · {len(active)} queued or running · workers alive: {len(job_queue().live_workers())}"
    )
    st.dataframe(queue_table(views), hide_index=True)
    for view in active:
        if not (view.mine or admin):
            continue
        fraction = 0.0
        if view.latest is not None and view.latest.total:
            fraction = min(1.0, view.latest.step / view.latest.total)
        st.progress(fraction, text=f"{view.name}: {progress_text(view)}")
        if view.stopping:
            continue
        label = "Cancel" if view.state == "queued" else "Stop"
        if not view.mine:
            label += " (admin)"
        if st.button(f"{label} {view.name}", key=f"{STOP_BUTTON}.{view.job_id}"):
            keep_partial = bool(st.session_state.get(KEEP_PARTIAL, True))
            try:
                job_queue().stop(view.job_id, session_owner(), admin=admin, keep_partial=keep_partial)
            except EmbedLabError as error:
                notes.error("{}", error)
            else:
                st.rerun()  # the page now says "stopping" (or "cancelled"), with no second Stop
    if any(view.state == "running" and view.mine for view in active):
        st.checkbox("Keep the partial model when stopping", value=True, key=KEEP_PARTIAL)
    mine = [view for view in views if view.mine and not view.active]
    if mine:
        _render_result(mine[0])


def _render_result(view: JobView) -> None:
    """This session's latest ended run: how it ended and what it measured."""
    title = f"{view.name}: {view.method} on {view.composition.model if view.composition else '?'} · {view.source}"
    notes.markdown("**{}**", title)
    if view.state == "failed":
        notes.error("{}", view.message)
    elif view.state == "interrupted":
        notes.warning("Interrupted: {}.", view.message)
    else:
        stopped = " (stopped early)" if view.state == "stopped" else ""
        notes.success(
            "{} steps in {} s{}. {}", view.steps, f"{view.seconds:.0f}", stopped, train_results.saved_text(view)
        )
    train_results.show(view)
