"""A page load asks no host but the app's own (issue 31 item 13: the tab icon came from fonts.gstatic.com)."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import settled

pytestmark = pytest.mark.e2e
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}


def test_a_page_load_asks_no_outside_host(new_tab, app_url):
    tab = new_tab()
    asked = []
    tab.on("request", lambda request: asked.append(request.url))
    tab.goto(app_url)
    expect(tab.get_by_test_id("stDataFrame").first).to_be_visible()  # the Compare page has drawn its scores
    settled(tab)
    icon = tab.locator("link[rel~='icon']").first.get_attribute("href")
    icon_url = tab.evaluate("href => new URL(href, location).href", icon)
    assert urlsplit(icon_url).hostname == urlsplit(tab.url).hostname and "/media/" in icon_url  # the app's file
    web = [url for url in asked if urlsplit(url).scheme in ("http", "https", "ws", "wss")]
    assert web and [url for url in web if urlsplit(url).hostname not in LOOPBACK] == []
