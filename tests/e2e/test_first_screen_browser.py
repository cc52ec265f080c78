"""The answer on the first screen: each page's result starts inside a 1366 x 768 window on first load."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from embedlab.models.names import MODELS_DIR_ENV
from tests.e2e.conftest import SERVER_START_S, settled
from tools.appserver import running_app

pytestmark = pytest.mark.e2e
SMALL = {"width": 1366, "height": 768}
LARGE = {"width": 1500, "height": 1100}

# The score table's header and first row: rows are drawn on a canvas, so the first row's bottom is derived from the
# grid's box and its row count (aria-rowcount counts the header row too; every row has the same height).
FIRST_ROW = """table => {
    const grid = table.querySelector('[aria-rowcount]');
    const box = table.getBoundingClientRect();
    const rows = Number(grid.getAttribute('aria-rowcount'));
    const headers = Array.from(table.querySelectorAll('th')).map(th => th.innerText);
    return {top: box.top, rowBottom: box.top + 2 * box.height / rows, headers};
}"""


@pytest.mark.parametrize("viewport", [SMALL, LARGE], ids=["1366x768", "1500x1100"])
def test_first_pair_scores_are_on_the_first_screen(new_tab, app_url, viewport):
    tab = new_tab(viewport)
    tab.goto(app_url)
    # The scores are drawn first and the table is drawn again once the baselines are ready: wait for that one.
    scores = (
        tab.get_by_test_id("stDataFrame")
        .filter(has=tab.locator("th", has_text="Raw cosine"))
        .filter(has=tab.locator("th", has_text="Trained typical"))
    )
    expect(scores).to_be_visible()
    settled(tab)
    found = scores.evaluate(FIRST_ROW)
    # the grid draws only the columns in view: both scores and both baselines are among them
    assert {"Raw cosine", "Raw typical", "Trained cosine", "Trained typical"} <= set(found["headers"])
    assert 0 < found["top"] and found["rowBottom"] <= viewport["height"], found
    # the configuration is one click away, not a panel on the first screen
    expect(tab.get_by_text("Change the raw pooling")).to_be_visible()


@pytest.mark.parametrize(
    ("path", "result"),
    [
        ("projection", lambda tab: tab.get_by_test_id("stPlotlyChart").first),
        ("negative_tests", lambda tab: tab.get_by_role("heading", name="Summary")),
        ("sts_eval", lambda tab: tab.get_by_role("heading", name="Best configurations")),
    ],
)
def test_each_page_result_starts_on_the_first_screen(new_tab, app_url, path, result):
    tab = new_tab(SMALL)
    tab.goto(f"{app_url}/{path}")
    expect(result(tab)).to_be_visible()
    settled(tab)
    top = result(tab).evaluate("element => element.getBoundingClientRect().top")
    assert 0 < top < SMALL["height"] - 100, top  # starts on the first screen, with room to show some of it


def test_a_new_session_is_sent_its_scores_first_and_the_rest_unasked(new_tab, app_models_dir):
    """Compare's first screen (components/shared/first_screen.py), read from the websocket: the session's first run
    sends the scores and the pair's numbers but no chart and no table editor, the browser's timer asks for the rest
    (a fragment run) with no click, and the next run sends the whole page. (When the browser paints the first screen
    is a matter of timing: bench/bench_app_start.py measures it.) On a server of its own: sessions other tests opened
    just before on a shared one would make this one part of a burst (embedlab/arrivals.py), which gets the whole
    page in one run."""
    from streamlit.proto.BackMsg_pb2 import BackMsg  # noqa: TID251  (reading the protocol, not using the engine)
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg  # noqa: TID251

    runs: list[dict] = []  # each script run: whether a fragment ran, and the kinds of element it sent
    asked: list[BackMsg] = []  # what the browser sent

    def received(payload) -> None:
        if not isinstance(payload, bytes):
            return
        message = ForwardMsg()
        message.ParseFromString(payload)
        kind = message.WhichOneof("type")
        if kind == "new_session":
            runs.append({"fragment": bool(message.metadata.run.fragment_ids), "elements": set()})
        elif kind == "delta" and runs and message.delta.WhichOneof("type") == "new_element":
            element = message.delta.new_element
            name = element.WhichOneof("type")
            if name == "dataframe" and element.dataframe.editing_mode:
                name = "data_editor"
            runs[-1]["elements"].add(name)

    def sent(payload) -> None:
        if isinstance(payload, bytes):
            message = BackMsg()
            message.ParseFromString(payload)
            asked.append(message)

    def watch(socket) -> None:
        socket.on("framereceived", received)
        socket.on("framesent", sent)

    with running_app({MODELS_DIR_ENV: str(app_models_dir)}, start_timeout_s=SERVER_START_S) as app:
        tab = new_tab()
        tab.on("websocket", watch)
        tab.goto(app.url)
        expect(tab.get_by_text("Edit, paste or delete rows here")).to_be_visible()  # the editor, unasked
        expect(tab.get_by_test_id("stPlotlyChart").first).to_be_visible()
        expect(tab.get_by_role("heading", name="What a score means for this model")).to_be_visible()
        settled(tab)
    first, *later = runs
    assert not first["fragment"] and "metric" in first["elements"] and "dataframe" in first["elements"]
    assert not {"plotly_chart", "data_editor"} & first["elements"], first
    timer = [m for m in asked if m.rerun_script.fragment_id and m.rerun_script.is_auto_rerun]
    assert len(timer) == 1, asked  # the timer fired once, and was dropped by the full run it asked for
    whole = [run for run in later if not run["fragment"]]
    assert len(whole) == 1 and {"plotly_chart", "data_editor", "metric"} <= whole[0]["elements"], runs
