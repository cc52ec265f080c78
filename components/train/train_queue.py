"""The training queue this server's Train page uses: one ``JobQueue`` per place, shared by every session.

Its own module so that the run panel (``components.train.train_run``) and the results it shows
(``components.train.train_results``) both read it without importing each other.
"""

from __future__ import annotations

import streamlit as st

from embedlab.models.names import models_dir
from embedlab.settings import get_settings
from embedlab.training.queue import JobQueue


@st.cache_resource(show_spinner=False)
def _queue_of(folder: str, location: str) -> JobQueue:
    return JobQueue(location or None, publish_admin=True)


def job_queue() -> JobQueue:
    """The training queue of this server's models directory (or of ``EMBEDLAB_QUEUE``); one object per place."""
    return _queue_of(str(models_dir()), get_settings().queue)
