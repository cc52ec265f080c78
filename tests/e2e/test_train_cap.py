"""The cap on queued runs is per browser: a reload or another tab of the same browser does not reset it.

A server with ``EMBEDLAB_MAX_QUEUED=1`` and no worker (``EMBEDLAB_AUTO_WORKER=0``: the run stays queued). One tab
queues a run; a reload of it, and a second tab of the same browser (same cookies), find Start off with the reason;
another browser (a new context: no cookie, as a private window) may queue its own run. The server is stopped by the
test, whatever happens.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from embedlab.models.names import MODELS_DIR_ENV
from embedlab.training.queue import AUTO_WORKER_ENV, JobQueue
from tests.e2e.conftest import SERVER_START_S, WHOLE_PAGE
from tests.e2e.test_train_browser import prepare_run
from tools.appserver import running_app

pytestmark = pytest.mark.e2e
CAPPED = "the most one browser may have"


def test_a_reload_or_a_second_tab_does_not_reset_the_cap_but_another_browser_has_its_own(new_tab, tmp_path):
    models: Path = tmp_path / "models"
    models.mkdir()
    env = {MODELS_DIR_ENV: str(models), AUTO_WORKER_ENV: "0", "EMBEDLAB_MAX_QUEUED": "1"}
    with running_app({**env, **WHOLE_PAGE}, start_timeout_s=SERVER_START_S) as app:
        first = new_tab()
        prepare_run(first, app.url, "capped-first", 2)
        first.get_by_role("button", name="Start training").click()
        expect(first.get_by_text(re.compile(r"^capped-first: queued, position 1"))).to_be_visible()
        assert "embedlab_browser" in {cookie["name"] for cookie in first.context.cookies()}

        first.reload()  # a new session of the same browser
        prepare_run(first, app.url, "capped-reload", 2)
        expect(first.get_by_text(CAPPED)).to_be_visible()
        expect(first.get_by_role("button", name="Start training")).to_be_disabled()

        second = first.context.new_page()  # another tab of the same browser
        second.set_default_timeout(120_000)
        prepare_run(second, app.url, "capped-tab", 2)
        expect(second.get_by_text(CAPPED)).to_be_visible()
        expect(second.get_by_role("button", name="Start training")).to_be_disabled()

        other = new_tab()  # another browser: its own cap
        prepare_run(other, app.url, "other-browser", 2)
        other.get_by_role("button", name="Start training").click()
        expect(other.get_by_text(re.compile(r"^other-browser: queued, position 2"))).to_be_visible()
    names = {view.name: view.state for view in JobQueue(str(models / ".queue" / "queue.db")).views()}
    assert names == {"capped-first": "queued", "other-browser": "queued"}
