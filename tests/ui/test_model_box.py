"""AppTest of the model box after a failed load: the model in use is shown, the error stays, nothing is retried."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from components import downloads, state
from embedlab.models import hub, loading

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "app_pages" / "compare.py")
MODEL = "all-MiniLM-L6-v2"
BOX = "compare.trained.model"
FAILING = "no-such-org/no-such-model"


def ok(at: AppTest) -> AppTest:
    assert not at.exception, at.exception
    return at


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
    at = AppTest.from_file(PAGE, default_timeout=300)
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
