"""A web server restarted with a queued run: the run survives the restart, and still trains afterwards.

The first server is started with ``EMBEDLAB_AUTO_WORKER=0`` (it starts no training worker), so the run queued from
the browser stays queued; the server is stopped, a second one (workers allowed) is started on the same models
directory, and its Train page lists the run as queued, starts a worker because none is alive, and the run trains to
the end; its model is then offered in Compare's model box. Tiny: SimCSE on the bundled sentences, 2 steps. Both
servers and every worker are stopped by the test, whatever happens.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from embedlab.models.names import MODELS_DIR_ENV
from embedlab.training.queue import AUTO_WORKER_ENV, JobQueue
from tests.e2e.conftest import SERVER_START_S, WHOLE_PAGE
from tests.e2e.test_train_browser import RUN_MS, offered_on_compare, prepare_run
from tests.servehelpers import stop_queue_workers
from tools.appserver import running_app

pytestmark = pytest.mark.e2e
NAME = "restarted"


@pytest.fixture()
def models(tmp_path) -> Path:
    folder = tmp_path / "models"
    folder.mkdir()
    yield folder
    stop_queue_workers(folder)  # the worker the second server started (detached), even when the test failed


def queue_row(page):
    """The row of the run in the page's queue table (the data grid's accessible table holds the cells' text)."""
    return page.get_by_test_id("stDataFrame").locator("tr").filter(has_text=NAME)


def test_a_run_queued_before_a_restart_of_the_server_is_trained_afterwards(new_tab, models):
    with running_app(
        {MODELS_DIR_ENV: str(models), AUTO_WORKER_ENV: "0", **WHOLE_PAGE}, start_timeout_s=SERVER_START_S
    ) as first:
        page = new_tab()
        prepare_run(page, first.url, NAME, 2)
        page.get_by_role("button", name="Start training").click()
        expect(page.get_by_text(re.compile(rf"^{NAME}: queued, position 1"))).to_be_visible()
        expect(page.get_by_text("started one on this machine")).to_have_count(0)
        page.context.close()
    (view,) = JobQueue(str(models / ".queue" / "queue.db")).views()
    assert view.name == NAME and view.state == "queued"  # the server is gone; its run is not

    with running_app({MODELS_DIR_ENV: str(models), **WHOLE_PAGE}, start_timeout_s=SERVER_START_S) as second:
        page = new_tab()
        page.goto(f"{second.url}/train")
        expect(page.get_by_role("heading", name="Train", exact=True)).to_be_visible()
        expect(queue_row(page)).to_contain_text("queued")
        expect(page.get_by_text(re.compile("No training worker was running: started one"))).to_be_visible()
        expect(queue_row(page)).to_contain_text("finished", timeout=RUN_MS)
        assert (models / NAME / "modules.json").is_file()

        offered_on_compare(page, NAME)
