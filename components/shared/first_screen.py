"""A new session's first screen: the answer first, the rest of the page once the browser has shown it.

A browser opening a page renders everything the first run sent before it paints anything. On Compare that meant
Plotly's charts, the table editor and the explanation tabs kept the scores off the screen for about 4 s on a
2-core machine, against 2 s for the same page stopped after its scores (issue 32, docs/benchmarks.md). So a
session's first run of a page that opts in shows its answer only and ends with ``then_the_rest()``: a fragment whose
``run_every`` timer the browser starts when it receives the run. The timer is a guess at when the browser has painted
the first screen, not a signal from it: on a loaded machine it can fire sooner, and the session then gets the whole
page in one render, as before. That fragment run asks for a full run of the page, which shows everything; a full
run drops the timer (Streamlit clears a fragment's timer at every full run that does not draw it).

Any other full run (a widget touched before the timer fired, a page switch, a second page) is a full page: only a
session's very first run is light. So is a session that arrives in a burst (``embedlab.arrivals``: a class opening
the app at once), where the server, not the browser, is the slow part and an extra run per student would delay
every student (100 sessions through ``serve --replicas 2``: p95 6.8 s with a first screen each, see
docs/benchmarks.md); a session of a server started with ``EMBEDLAB_FIRST_SCREEN=0``; and a session with no browser
behind it (Streamlit's script health check, with which ``serve`` warms a replica, and AppTest): nothing to paint,
no timer to fire, and the warming run fills every cache the page's charts use.
"""

from __future__ import annotations

import streamlit as st

from components.shared import state
from embedlab.arrivals import Arrivals
from embedlab.settings import get_settings

# The timer starts when the browser receives the run, not when it has painted it: at 0.2 s the rest of the page
# arrived before the first paint and landed in the same render (the scores at 4.0 s, as without a first screen); at
# 1.0 s the scores came at 2.1 s and the charts at 4.0 s, as before (docs/benchmarks.md).
NUDGE_S = 1.0

SHOWN, WAITING, DONE = "shown", "waiting", "done"
ARRIVALS = Arrivals()  # this process's browser sessions reaching their first screen


def opens() -> bool:
    """True on the session's very first run in a browser: the page draws its answer only, then calls
    ``then_the_rest``."""
    if (
        state.FIRST_SCREEN in st.session_state
        or not get_settings().first_screen
        or not browser_connected()
        or ARRIVALS.burst()
    ):
        st.session_state[state.FIRST_SCREEN] = DONE
        return False
    st.session_state[state.FIRST_SCREEN] = SHOWN
    return True


def browser_connected() -> bool:
    """A browser sent this session's request: a session without one has no headers."""
    return bool(st.context.headers)


def then_the_rest() -> None:
    """At the end of the first screen: the whole page follows once the browser has drawn this one."""
    _nudge()


@st.fragment(run_every=NUDGE_S)
def _nudge() -> None:
    phase = st.session_state.get(state.FIRST_SCREEN)
    if phase == SHOWN:  # drawn within the first screen's own run
        st.session_state[state.FIRST_SCREEN] = WAITING
    elif phase == WAITING:  # the timer fired: the first screen is on screen
        st.session_state[state.FIRST_SCREEN] = DONE
        st.rerun(scope="app")
    # DONE: a tick that was already on its way when the full run began; nothing to do
