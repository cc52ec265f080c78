"""AppTest of "Why this score" for a cross-encoder: on Compare (the pair up close) and Negative tests (its worst
failure), after a click, per-token attributions with the reason there is no pair heatmap and the passes stated."""

from __future__ import annotations

from components.shared import state
from components.shared.explain_view import explained
from components.shared.services import get_scorer
from embedlab.tasks.compare import EXAMPLE_PAIRS
from embedlab.tasks.explain import DEFAULT_STEPS, NO_PAIR_MATRIX
from tests.ui.apptest import ok, page_test, shown

WAITS = "A cross-encoder reads the pair in one pass"
RUN = "Take this score apart"


def said(at, text: str) -> bool:
    return any(text in shown(caption.value) for caption in at.caption)


def test_compare_takes_the_cross_encoders_score_apart_per_token_on_a_click(cross_dir):
    at = page_test("compare")
    at.session_state[state.widget_key(state.COMPARE, "cross.model")] = str(cross_dir)
    ok(at.run())
    assert not said(at, NO_PAIR_MATRIX)
    assert not said(at, WAITS)  # only the open tab (the trained model's) is computed
    at.session_state[state.widget_key(state.COMPARE, "explain") + ".tabs"] = get_scorer(str(cross_dir)).label
    ok(at.run())  # the user opens the cross-encoder's tab
    assert said(at, WAITS) and said(at, f"{DEFAULT_STEPS + 2} passes of the pair")  # nothing computed yet
    key = state.widget_key(state.COMPARE, "explain") + ".2.run"  # the third tab: raw, trained, cross-encoder
    at.button(key=key).click()
    ok(at.run())
    scorer = get_scorer(str(cross_dir))
    found = explained(scorer.spec, EXAMPLE_PAIRS[0])  # what the tab shows, from the shared cache
    assert found.method == "integrated-gradients" and not found.has_pairs
    assert found.in_words() in [shown(md.value) for md in at.markdown]
    assert said(at, NO_PAIR_MATRIX)
    assert said(at, f"integrated gradients: {found.passes:,} passes of the pair")
    assert said(at, f"completeness error {found.completeness_error:.4f}")
    top = next(frame.value for frame in at.dataframe if "sentence" in frame.value.columns and "token" in frame.value)
    assert set(top["sentence"]) <= {1, 2} and len(top) == min(15, sum(map(len, found.tokens)))


def test_negative_tests_offer_the_cross_encoders_worst_failure(cross_dir):
    at = page_test("negative_tests")
    at.session_state[state.NEGTEST_CROSS] = str(cross_dir)
    ok(at.run())
    headers = [md.value for md in at.markdown if md.value.startswith("**Why this score: row")]
    assert len(headers) == 3  # the two bi-encoders and the cross-encoder
    assert said(at, WAITS)
    button = [b for b in at.button if b.label == RUN][-1]  # the cross-encoder's tab is the last one
    button.click()
    ok(at.run())
    assert said(at, NO_PAIR_MATRIX)
    assert any(shown(md.value).startswith("Read together, in sentence 1") for md in at.markdown)
