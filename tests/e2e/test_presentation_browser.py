"""Presentation mode at 1366 x 768 in a real browser: no label is cut off with "…".

Streamlit draws one-line labels (metric labels and deltas, buttons, expanders) in a `.stMarkdownEllipsis` element
and cuts what does not fit. Presentation mode enlarges them, so at a projector's 1366 px many did not fit
("100th percentil…", "Download with…", "Open in STS evalu…", "In force …"); they must wrap instead.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import settled

pytestmark = pytest.mark.e2e
PROJECTOR = {"width": 1366, "height": 768}
FIRST_LOAD_MS = 240_000

# Every one-line label in the page's main area: its text, and whether it is cut (wider than its box while the
# browser draws an ellipsis: the same test Streamlit's own frontend uses to decide that a label overflows).
LABELS = """() => Array.from(document.querySelectorAll('[data-testid="stMain"] .stMarkdownEllipsis'))
    .filter(element => element.getClientRects().length > 0)
    .map(element => ({
        text: element.innerText.replace(/\\s+/g, ' ').trim(),
        cut: element.scrollWidth > element.clientWidth + 1 && getComputedStyle(element).textOverflow === 'ellipsis',
    }))"""

# Per page: the sidebar link, what shows that the page has finished drawing, labels that must be among those checked.
PAGES = [
    ("Compare", "Trained · ", ["percentile of random pairs", "Download with scores", "Add pair"]),
    (
        "Lesson",
        "Role reversals and negations at or above the threshold",
        ["Open in STS evaluation", "Role reversals and negations at or above the threshold"],
    ),
    ("Tokens & layers", "In force · ", ["In force · "]),
]


def test_presentation_mode_cuts_no_label_at_1366x768(new_tab, app_url):
    tab = new_tab(PROJECTOR)
    tab.goto(app_url)
    expect(tab.get_by_test_id("stMetricDelta").first).to_be_visible(timeout=FIRST_LOAD_MS)
    settled(tab)
    switch = tab.get_by_test_id("stSidebar").get_by_role("switch", name="Presentation mode")
    tab.get_by_test_id("stSidebar").get_by_text("Presentation mode").click()
    expect(switch).to_be_checked()
    settled(tab)

    for link, drawn, expected in PAGES:
        tab.get_by_test_id("stSidebarNav").get_by_role("link", name=link).click()
        expect(tab.get_by_test_id("stMain").get_by_text(drawn).first).to_be_visible(timeout=FIRST_LOAD_MS)
        settled(tab)
        labels = tab.evaluate(LABELS)
        texts = [label["text"] for label in labels]
        for wanted in expected:  # the check looked at the labels that used to be cut
            assert any(wanted in text for text in texts), (link, wanted, texts)
        cut = [label["text"] for label in labels if label["cut"]]
        assert not cut, f"{link}: labels cut off at 1366 x 768 in presentation mode: {cut}"
