"""`python -m embedlab serve --replicas 2` in a real browser: Compare through nginx, an upload on the browser's own
replica, a second browser on the other replica, and nothing left running after Ctrl-C (SIGINT)."""

from __future__ import annotations

import re
import signal
import threading
from pathlib import Path

import pytest
from playwright.sync_api import expect

from embedlab.models.names import MODELS_DIR_ENV
from embedlab.replicas import free_port
from tests.e2e.conftest import WHOLE_PAGE
from tests.servehelpers import living, running_serve

pytestmark = pytest.mark.e2e
PAIRS = (
    "sentence1,sentence2\n"
    "What is your age?,How old are you?\n"
    "A chef is slicing onions in the kitchen.,Volcanoes form where tectonic plates meet.\n"
)
STREAM_LOG_BOUND_S = 60


def replica_cookie(context) -> str:
    return next(cookie["value"] for cookie in context.cookies() if cookie["name"] == "embedlab_replica")


def stream_upstreams(access_log: Path) -> dict[str, set[str]]:
    """cookie -> the replica addresses that served its websockets (/_stcore/stream), from nginx's access log."""
    found: dict[str, set[str]] = {}
    text = access_log.read_text(encoding="utf-8") if access_log.is_file() else ""
    for line in text.splitlines():
        if "/_stcore/stream" in line:
            upstream, cookie = re.search(r"upstream=(\S+) cookie=(\S*)", line).groups()
            found.setdefault(cookie, set()).add(upstream)
    return found


def test_two_browsers_on_two_replicas_upload_and_stop(browser, tmp_path):
    upload = tmp_path / "class_pairs.csv"
    upload.write_text(PAIRS, encoding="utf-8")
    port = free_port()
    with running_serve(["--replicas", "2"], port, {MODELS_DIR_ENV: str(tmp_path / "models"), **WHOLE_PAGE}) as run:
        replica_ports = re.search(r"ports (\d+), (\d+) \(logs in (\S+)\)", run.output)
        # each replica ran its first page once before the port opened (the model and baselines are loaded), without
        # an error (on a very busy machine Streamlit may stop waiting after 60 s: then the warm-up carries on)
        assert "warming the replicas" in run.output and "did not run cleanly" not in run.output, run.output
        access_log = Path(replica_ports.group(3)) / "access.log"

        first = browser.new_context(viewport={"width": 1400, "height": 1000})
        second = browser.new_context(viewport={"width": 1400, "height": 1000})
        try:
            tab = first.new_page()
            tab.set_default_timeout(120_000)
            tab.goto(run.url)
            expect(tab.get_by_role("heading", name="Compare")).to_be_visible()
            expect(tab.get_by_test_id("stMetricValue").first).to_be_visible()  # the default examples scored

            # The upload is a plain HTTP PUT: it only works when it reaches the replica that holds this session.
            uploader = tab.get_by_test_id("stMain").get_by_test_id("stFileUploader")
            uploader.locator("input[type=file]").set_input_files(str(upload))
            expect(tab.get_by_text("Loaded 2 pairs from class_pairs.csv.")).to_be_visible()
            expect(tab.get_by_test_id("stStatusWidget")).to_be_hidden()
            expect(tab.get_by_role("combobox", name="Pair")).to_have_value(re.compile("How old are you"))
            trained = tab.get_by_test_id("stMetric").filter(has_text="Trained ·").get_by_test_id("stMetricValue")
            expect(trained).to_have_text(re.compile(r"^-?\d\.\d{3}$"))
            assert float(trained.inner_text()) > 0.5  # the uploaded paraphrase, scored by the trained model

            other = second.new_page()
            other.set_default_timeout(120_000)
            other.goto(run.url)
            expect(other.get_by_role("heading", name="Compare")).to_be_visible()
            expect(other.get_by_test_id("stMetricValue").first).to_be_visible()
            cookies = {replica_cookie(first), replica_cookie(second)}
            assert cookies == {"r1", "r2"}  # two new browsers, one per replica
        finally:
            first.close()  # closing the tabs closes their websockets: nginx logs each stream as it ends
            second.close()

        # Each browser's websocket went to one replica, a different one for each (read from nginx's own log).
        expected = {f"127.0.0.1:{replica_ports.group(1)}", f"127.0.0.1:{replica_ports.group(2)}"}
        waiting = threading.Event()
        for _ in range(int(STREAM_LOG_BOUND_S / 0.2)):
            streams = stream_upstreams(access_log)
            if {"r1", "r2"} <= streams.keys():
                break
            waiting.wait(0.2)
        assert len(streams["r1"]) == len(streams["r2"]) == 1, streams
        assert streams["r1"] | streams["r2"] == expected

        run.process.send_signal(signal.SIGINT)
        assert run.process.wait(timeout=60) == 0
        assert living(run.children) == {}, "still running after Ctrl-C"
        assert len(run.replicas()) == 2
