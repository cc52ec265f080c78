"""A bad ``EMBEDLAB_*`` value stops the app with one line naming the variable, before any page runs."""

from __future__ import annotations

from tests.ui.apptest import ok, page_test


def test_a_bad_setting_stops_the_app_with_one_line_naming_it(monkeypatch):
    monkeypatch.setenv("EMBEDLAB_SERVER_THREADS", "two")
    at = ok(page_test().run())
    assert [error.value for error in at.error] == [
        "EMBEDLAB_SERVER_THREADS='two': Input should be a valid integer, unable to parse string as an integer"
    ]
    assert not at.sidebar.markdown and not at.button  # stopped: no sidebar, no page
