"""app.py itself: a bad ``EMBEDLAB_*`` value stops it with one line, and its tab icon is a file it ships."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from tests.ui.apptest import ROOT, ok, page_test


def test_a_bad_setting_stops_the_app_with_one_line_naming_it(monkeypatch):
    monkeypatch.setenv("EMBEDLAB_SERVER_THREADS", "two")
    at = ok(page_test().run())
    assert [error.value for error in at.error] == [
        "EMBEDLAB_SERVER_THREADS='two': Input should be a valid integer, unable to parse string as an integer"
    ]
    assert not at.sidebar.markdown and not at.button  # stopped: no sidebar, no page


def test_the_page_icon_is_a_file_shipped_with_the_app(monkeypatch):
    """Issue 31 item 13: ":material/scatter_plot:" made every browser fetch the icon from fonts.gstatic.com."""
    configs = []
    real = st.set_page_config

    def recording(*args, **kwargs):
        configs.append(kwargs)
        return real(*args, **kwargs)

    monkeypatch.setattr(st, "set_page_config", recording)
    ok(page_test().run())
    (config,) = configs
    icon = Path(config["page_icon"])
    assert icon.is_file() and icon.resolve().is_relative_to(ROOT / "assets")
    assert icon.read_bytes().startswith(b"\x89PNG")
    assert not str(config["page_icon"]).startswith(":")  # not an emoji or a ":material/..." name: Streamlit
    # serves a file from the app's own /media/ (the browser test checks no request leaves the loopback)
