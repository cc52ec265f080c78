"""Hub downloads in the app: a real progress bar, and a failed model load remembered instead of retried.

The bridge between the engine's download progress (``embedlab.models.hub``) and Streamlit is here, in one place:

- ``fetch_with_progress(ref)`` downloads a Hub model that is not cached yet *before* the cached loader runs, so the
  bar is drawn by the script itself (an element drawn inside an ``st.cache_resource`` function would be replayed
  on every later cache hit). When another session is already downloading the same model, this session shows that
  download's progress from the process-wide registry, then finds the model in the cache.
- ``remember_failure`` / ``show_failure`` / ``forget_failure``: after a model fails to load, the model box goes
  back to the model in use and the error stays above it, and nothing is retried on later reruns, until the user
  changes the box.
"""

from __future__ import annotations

import time

import streamlit as st

from components.shared import notes
from embedlab.models.hub import DownloadProgress, download_progress, hub_snapshot
from embedlab.models.loading import hub_id_of

POLL_S = 0.25  # how often a waiting session reads another session's progress
REDRAW_S = 0.2  # at most this often the bar is redrawn (a large file reports thousands of chunks)


def progress_text(repo_id: str, progress: DownloadProgress) -> str:
    mb = 1_000_000
    return (
        f"Downloading {repo_id} from the Hugging Face Hub: {progress.describe()} · "
        f"{progress.done / mb:.1f} / {progress.total / mb:.1f} MB in all"
    )


class _Bar:
    """An st.progress drawn on the first report, redrawn at most every REDRAW_S, removed at the end."""

    def __init__(self, repo_id: str) -> None:
        self.repo_id = repo_id
        self.bar = None
        self.drawn_at = 0.0

    def show(self, progress: DownloadProgress) -> None:
        finished = progress.file_done == progress.file_total
        if self.bar is not None and not finished and time.monotonic() - self.drawn_at < REDRAW_S:
            return
        fraction = min(progress.done / progress.total, 1.0) if progress.total else 0.0
        if self.bar is None:
            self.bar = st.progress(fraction, text=progress_text(self.repo_id, progress))
        else:
            self.bar.progress(fraction, text=progress_text(self.repo_id, progress))
        self.drawn_at = time.monotonic()

    def clear(self) -> None:
        if self.bar is not None:
            self.bar.empty()


def fetch_with_progress(ref: str) -> None:
    """Make sure a Hub model is in the local cache, showing the download; nothing for other references.

    Raises:
        EmbedLabError: as ``hub_snapshot`` (not cached and unreachable, no such model, no safetensors, ...).
    """
    repo_id = hub_id_of(ref)
    if repo_id is None:
        return
    bar = _Bar(repo_id)
    try:
        while (progress := download_progress(repo_id)) is not None:  # another session is downloading it
            bar.show(progress)
            time.sleep(POLL_S)
        with st.spinner(f"Looking for {repo_id} in the local cache, then on the Hugging Face Hub…"):
            hub_snapshot(repo_id, progress=bar.show)  # the cache at once when that download finished
    finally:
        bar.clear()


def _failure_key(box_key: str) -> str:
    return f"{box_key}.failure"


def _reset_key(box_key: str) -> str:
    return f"{box_key}.reset"


def remember_failure(box_key: str, ref: str, message: str, in_use: str) -> None:
    """After ``ref`` failed to load: put ``in_use`` back in the box on the next run and keep the message.

    The caller then reruns the script (the box's value cannot change once it is drawn in this run).
    """
    st.session_state[_failure_key(box_key)] = (ref, message, in_use)
    st.session_state[_reset_key(box_key)] = in_use


def show_failure(box_key: str) -> None:
    """Before the model box is drawn: apply a pending reset, and show the remembered error above the box."""
    if (in_use := st.session_state.pop(_reset_key(box_key), None)) is not None:
        st.session_state[box_key] = in_use
    if failure := st.session_state.get(_failure_key(box_key)):
        ref, message, in_use = failure
        notes.error("**{}** could not be loaded: {}  \nStill using **{}**.", ref, message, in_use, icon="⚠️")


def forget_failure(box_key: str) -> None:
    """on_change of the model box: the user picked something else, so the old error goes."""
    st.session_state.pop(_failure_key(box_key), None)
