"""Hostile links in a real browser: a deeply nested parameter is a one-line note, not a traceback; Markdown and
HTML in a link are shown as the characters sent, never as a working link or a remote image in the app's notes."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import settled
from tests.ui.apptest import ROOT

pytestmark = pytest.mark.e2e
LINK = "[Sign in again](http://evil/phish)"
IMAGE = "![t](http://evil/img.png)"
CLICK = "[Click to continue](http://evil/p)"


def evil_requests(tab) -> list[str]:
    """The requests the tab makes to the host ``evil`` (filled in as the page loads)."""
    seen: list[str] = []
    tab.on("request", lambda request: seen.append(request.url) if "//evil" in request.url else None)
    return seen


def no_live_evil_element(tab) -> None:
    expect(tab.locator('a[href*="//evil"]')).to_have_count(0)
    expect(tab.locator('img[src*="//evil"]')).to_have_count(0)


@pytest.mark.parametrize("path, param", [("", "pairs"), ("tokens", "sentences")])
def test_a_link_nested_1200_deep_shows_a_note_and_no_traceback(new_tab, app_url, path, param):
    tab = new_tab()
    tab.goto(f"{app_url}/{path}?{param}=" + "%5B" * 1200)
    note = tab.get_by_test_id("stAlert").filter(has_text="nested too deeply")
    expect(note).to_be_visible()
    expect(note).to_contain_text(param)
    settled(tab)
    text = tab.locator("body").inner_text()
    assert "RecursionError" not in text and "Traceback" not in text
    assert str(ROOT) not in text and "site-packages" not in text
    expect(tab.get_by_test_id("stException")).to_have_count(0)


def test_markdown_in_a_link_parameter_name_is_literal_text_in_the_note(new_tab, app_url):
    tab = new_tab()
    requests = evil_requests(tab)
    key = f"x` {LINK} {IMAGE} `"
    tab.goto(f"{app_url}/?{quote(key, safe='')}=1")
    note = tab.get_by_test_id("stAlert").filter(has_text="Sign in again")
    expect(note).to_be_visible()
    settled(tab)
    expect(note).to_contain_text(LINK)  # the brackets and the address, as typed
    expect(note).to_contain_text(IMAGE)
    no_live_evil_element(tab)
    assert requests == []  # the browser never fetched the "image"


def test_markdown_in_an_sts_path_and_a_lesson_model_is_literal_text(new_tab, app_url):
    tab = new_tab()
    requests = evil_requests(tab)
    tab.goto(f"{app_url}/sts_eval?data=path&path={quote(CLICK, safe='')}")
    expect(tab.get_by_test_id("stAlert").filter(has_text="not opened until you confirm")).to_be_visible()
    settled(tab)
    expect(tab.get_by_text(CLICK).first).to_be_visible()
    no_live_evil_element(tab)

    other = new_tab()
    other_requests = evil_requests(other)
    raw = '{"model":"' + f"{LINK} {IMAGE}" + '","pooling":"cls","layers":"-1","post":"none","post_dims":null}'
    other.goto(f"{app_url}/lesson?raw={quote(raw, safe='')}")
    note = other.get_by_test_id("stAlert").filter(has_text="Sign in again")
    expect(note.first).to_be_visible()
    settled(other)
    expect(note.first).to_contain_text(LINK)
    no_live_evil_element(other)
    assert requests == [] and other_requests == []
