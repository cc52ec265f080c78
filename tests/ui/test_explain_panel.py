"""AppTest of the "Why this score" panel on Compare (the pair up close) and Negative tests (the worst failure)."""

from __future__ import annotations

from components.shared import state
from components.shared.explain_view import explained
from components.shared.services import get_scorer
from embedlab.embedding.specs import EmbedSpec
from embedlab.tasks.compare import EXAMPLE_PAIRS
from embedlab.tasks.explain import DEFAULT_STEPS
from tests.ui.apptest import ok, page_test, shown

MODEL = "all-MiniLM-L6-v2"


def in_words(at) -> list[str]:
    return [shown(md.value) for md in at.markdown if "adds the most" in md.value]


def exact_label(at) -> str:
    return get_scorer(EmbedSpec(MODEL, "model")).label


def test_compare_explains_the_pair_up_close_exactly_then_by_integrated_gradients_on_a_click():
    at = ok(page_test("compare").run())
    assert any(header.value == "Why this score" for header in at.subheader)
    first, second = EXAMPLE_PAIRS[0]  # the pair up close: the first row
    exact = explained(EmbedSpec(MODEL, "model"), (first, second))  # the trained tab's explanation, from the cache
    assert exact.method == "exact"
    words = in_words(at)
    assert exact.in_words() in words  # the trained model's own pipeline (mean pooling) at once
    assert any(md.value.startswith("**Shared direction") for md in at.markdown)
    # Only the open tab is computed: it opens on the trained model (exact); the raw side (cls) is not run yet
    assert not any("no exact sum" in caption.value for caption in at.caption)
    raw_label = next(tab.label for tab in at.tabs if tab.label != exact_label(at))
    at.session_state[state.widget_key(state.COMPARE, "explain") + ".tabs"] = raw_label  # the user opens its tab
    ok(at.run())
    assert in_words(at) == []  # the trained tab is closed now: not computed
    assert any("no exact sum" in caption.value for caption in at.caption)  # the raw side waits for a click
    button = next(b for b in at.button if b.label == "Take this score apart")
    button.click()
    ok(at.run())
    assert len(in_words(at)) == 1  # the raw side's integrated gradients, in its open tab
    assert any(
        "completeness error" in caption.value and f"{DEFAULT_STEPS} steps" in caption.value for caption in at.caption
    )


def test_negative_tests_explains_the_worst_failure():
    at = ok(page_test("negative_tests").run())
    headers = [md.value for md in at.markdown if md.value.startswith("**Why this score: row")]
    assert headers  # every bi-encoder tab with failures shows its worst one taken apart
    assert any("The worst failure." in caption.value for caption in at.caption)
    assert in_words(at)  # the trained model (mean pooling) is taken apart at once
