"""Embedding Lab: entry point. Page config, navigation and the shared sidebar; no logic."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from components.compare.first_look_view import first_look_view
from components.shared import notes
from components.shared.warmup import starting_notice
from embedlab.settings import SettingsError, get_settings

# The tab's icon is a file shipped with the app: a ":material/..." icon makes every browser fetch it from
# fonts.gstatic.com, which a classroom without internet logs as a failed request and one with it tells who opened it.
ICON = Path(__file__).resolve().parent / "assets" / "favicon.png"
st.set_page_config(page_title="Embedding Lab", page_icon=str(ICON), layout="wide")

try:
    get_settings()  # a bad EMBEDLAB_* value stops the app with one line naming the variable, before any page runs
except SettingsError as error:
    notes.error("{}", error)
    st.stop()

# On a fresh server: the models and baselines load in the background (imports included) while this shows how far
# it is, instead of an empty page, and, on Compare, the answer computed without torch; at once afterwards. See
# components/shared/warmup.py and components/compare/first_look_view.py.
starting_notice(first_look_view)

from components.projection.projection_view import start_umap_warmup  # noqa: E402
from components.shared.admin_box import sidebar_box as admin_box  # noqa: E402
from components.shared.heap import collect_now_and_then, fewer_young_collections, freeze_once  # noqa: E402
from components.shared.presentation import inject_css  # noqa: E402
from components.shared.presentation import toggle as presentation_toggle  # noqa: E402
from components.shared.served_notes import sidebar_note as served_note  # noqa: E402
from components.shared.share_links import end_of_run, start_of_run  # noqa: E402
from embedlab.embedding.forward import limit_server_threads  # noqa: E402

# The pages live in app_pages/, not pages/: Streamlit treats a folder named pages/ as a legacy multipage app
# until st.navigation has run once in the process, so a deep link opened first on a fresh server would skip
# this file (no sidebar, no wide layout, an automatic page list).
PAGES = {  # page name (views, links) -> page
    "compare": st.Page("app_pages/compare.py", title="Compare", icon=":material/compare_arrows:", default=True),
    "tokens": st.Page("app_pages/tokens.py", title="Tokens & layers", icon=":material/grid_on:"),
    "lesson": st.Page("app_pages/lesson.py", title="Lesson", icon=":material/school:"),
    "projection": st.Page("app_pages/projection.py", title="Projection", icon=":material/bubble_chart:"),
    "negative_tests": st.Page("app_pages/negative_tests.py", title="Negative tests", icon=":material/rule:"),
    "sts_eval": st.Page("app_pages/sts_eval.py", title="STS evaluation", icon=":material/leaderboard:"),
    "train": st.Page("app_pages/train.py", title="Train", icon=":material/model_training:"),
    "retrieval": st.Page("app_pages/retrieval.py", title="Retrieval", icon=":material/search:"),
}

fewer_young_collections()  # a class's allocations: see components/shared/heap.py
limit_server_threads()  # 1 torch thread per model call (EMBEDLAB_SERVER_THREADS): see embedlab/embedding/forward.py

navigation = st.navigation(list(PAGES.values()))
page_name = next(name for name, page in PAGES.items() if page.title == navigation.title)
with st.sidebar:
    st.markdown("### Embedding Lab")
    st.caption(
        "Which layer, which token, which pooling gives a sentence vector you can compare with cosine? "
        "Raw BERT pooling against a trained sentence-transformer, with baselines."
    )
    presentation_toggle()
    served_note()  # in served mode (EMBEDLAB_SERVED=1): no server paths, and the per-session limits
    admin_box()  # with EMBEDLAB_ADMIN_TOKEN: the teacher types it once to stop any training run
inject_css()
start_of_run(page_name)  # a shared link's view, once per session, before the page's widgets exist
navigation.run()
end_of_run(page_name)  # the view into the address bar; Download view / Upload view in the sidebar
freeze_once(page_name)  # its imports and shared caches kept out of every later full collection
collect_now_and_then()  # a full collection at most every 2 s, not one per session (components/shared/heap.py)
# UMAP's import and numba compilation (~10-25 s of CPU), once per process, in the background. Started after the
# page has rendered so that it does not compete with the first model load on a 2-core machine; the Projection
# page starts it itself when it is the first page opened.
start_umap_warmup()
