"""AppTest of the model box after a failed load: the model in use is shown, the error stays, nothing is retried."""

from __future__ import annotations

import threading
from contextlib import ExitStack

import pytest
from streamlit.testing.v1 import AppTest

from components.shared import downloads, state
from embedlab.models import hub, loading
from tests.hubstandin import Repo, folder_files, point_hub_at, running_standin, wait_for
from tests.ui.apptest import ok, page_test

MODEL = "all-MiniLM-L6-v2"
BOX = "compare.trained.model"
FAILING = "no-such-org/no-such-model"


def failure_shown(at: AppTest) -> bool:
    return any(FAILING in e.value and f"Still using **{MODEL}**" in e.value for e in at.error)


@pytest.fixture
def hub_attempts(monkeypatch) -> list[str]:
    """Every attempt to fetch FAILING from the Hub (offline here: each fails at once), by either caller."""
    attempts = []
    real = hub.hub_snapshot

    def counting(repo_id, progress=None):
        if repo_id == FAILING:
            attempts.append(repo_id)
        return real(repo_id, progress)

    monkeypatch.setattr(downloads, "hub_snapshot", counting)
    monkeypatch.setattr(loading, "hub_snapshot", counting)
    return attempts


def test_failed_load_shows_the_model_in_use_keeps_the_error_and_is_not_retried(hub_attempts):
    at = page_test("compare")
    at.session_state[BOX] = FAILING  # as if typed in the model box
    ok(at.run())
    assert len(hub_attempts) == 1
    assert failure_shown(at) and "HF_HUB_OFFLINE is set" in at.error[0].value
    assert at.selectbox(key=BOX).value == MODEL  # the box shows the model in use, not the failed name
    assert at.session_state[state.TRAINED_SPEC].model == MODEL

    ok(at.run())  # any later rerun: the error stays, the Hub is not asked again
    assert failure_shown(at) and len(hub_attempts) == 1

    at.selectbox(key=BOX).set_value("untrained-bert")  # the user changes the box: the old error goes
    ok(at.run())
    assert not failure_shown(at) and len(hub_attempts) == 1
    assert at.session_state[state.TRAINED_SPEC].model == "untrained-bert"


# ---------------------------------------------------------------- downloads, against the local Hub stand-in

REPO = "embedlab-tests/tiny-bert"
WEIGHTS = "model.safetensors"


@pytest.fixture
def online(monkeypatch, tmp_path, tiny_model_dir):
    """start(mode) -> a stand-in serving the tiny model as REPO; the Hub libraries point at it, online."""
    with ExitStack() as stack:

        def start(mode: str = "normal"):
            repo = Repo(folder_files(tiny_model_dir), mode=mode)
            server = stack.enter_context(running_standin({REPO: repo}))
            point_hub_at(server, monkeypatch, tmp_path / "hf")
            return server

        yield start


def test_progress_bar_says_file_megabytes_and_rate():
    def script():
        from components.shared import downloads
        from embedlab.models.hub import DownloadProgress

        bar = downloads._Bar("org/model")
        bar.show(
            DownloadProgress("org/model", "model.safetensors", 2_000_000, 4_000_000, 2_500_000, 4_500_000, 2, 4, 1e6)
        )

    at = ok(AppTest.from_function(script).run())
    (bar,) = at.get("progress")
    assert bar.proto.value == 100 * 2_500_000 // 4_500_000
    assert bar.proto.text == (
        "Downloading org/model from the Hugging Face Hub: model.safetensors: 2.0 / 4.0 MB at 1.0 MB/s "
        "(file 3 of 4) · 2.5 / 4.5 MB in all"
    )


def test_typed_hub_model_downloads_once_and_is_used(online):
    server = online()
    at = page_test("compare")
    at.session_state[BOX] = REPO
    ok(at.run())
    assert not at.error, [e.value for e in at.error]
    assert at.session_state[state.TRAINED_SPEC].model == REPO
    assert len(server.gets(WEIGHTS)) == 1
    asked = len(server.requests)
    ok(at.run())
    assert len(server.requests) == asked  # from the cache afterwards


def test_a_second_session_shows_the_running_download(online, monkeypatch):
    server = online("hold")  # the weights stop half-way until this test releases them: the download is surely running
    monkeypatch.setenv("EMBEDLAB_HUB_TIMEOUT_S", "300")  # the held download must outlast a slow AppTest start
    (repo,) = server.repos.values()
    shown = []
    real_show = downloads._Bar.show

    def recording_show(self, progress):
        shown.append(progress)
        real_show(self, progress)
        if progress.file == WEIGHTS and 0 < progress.file_done < progress.file_total:
            repo.release.set()  # the second session has shown the running download: let the first one finish

    monkeypatch.setattr(downloads._Bar, "show", recording_show)
    first_result = []
    first = threading.Thread(target=lambda: first_result.append(hub.hub_snapshot(REPO)), daemon=True)
    first.start()
    wait_for(lambda: (p := hub.download_progress(REPO)) and p.file == WEIGHTS and p.file_done > 0, what="download")
    assert not repo.release.is_set()

    def second_session():
        from components.shared import downloads

        downloads.fetch_with_progress("embedlab-tests/tiny-bert")

    ok(AppTest.from_function(second_session, default_timeout=120).run())
    first.join(timeout=60)
    assert not first.is_alive() and len(first_result) == 1  # the first download finished, and without an error
    assert any(p.file == WEIGHTS and 0 < p.file_done < p.file_total for p in shown)  # the other session's progress
    assert len(server.gets(WEIGHTS)) == 1  # and no second download
