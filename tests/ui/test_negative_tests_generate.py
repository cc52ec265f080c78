"""AppTest of "Generate from my sentences" on the Negative tests page: the generated pairs fill the editable table,
results by kind of edit, the download, bad input, sentences from a file or the Compare table, and the canary."""

from __future__ import annotations

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from components.negative_tests import negtest_view as view
from components.shared import state
from embedlab.embedding.specs import EmbedSpec
from embedlab.tasks.compare import example_pairs
from embedlab.tasks.negtest import bundled_suite
from embedlab.tasks.perturb import perturb
from tests.ui.apptest import ok, page_test, shown

SENTENCES = [
    "The cat chased the dog.",
    "The teacher praised the student.",
    "Alice sent Bob a letter.",
    "The water is hot.",
    "She does not like spicy food.",
]


def generate(at: AppTest, text: str) -> AppTest:
    at.text_area(key=state.NEGTEST_GENERATE_TEXT_WIDGET).input(text)
    next(button for button in at.button if button.label == "Generate pairs").click()
    return ok(at.run())


def table(at: AppTest) -> pd.DataFrame:
    return at.session_state[state.NEGTEST_PAIRS]


def frames_with(at: AppTest, column: str) -> list[pd.DataFrame]:
    return [frame.value for frame in at.dataframe if column in frame.value.columns]


def own_label(at: AppTest) -> str:
    return at.session_state[state.TRAINED_SPEC].label


@pytest.fixture()
def app() -> AppTest:
    return ok(page_test("negative_tests").run())


def test_generated_pairs_fill_the_table_and_results_come_by_kind(app):
    at = generate(app, "\n".join(SENTENCES))
    expected = perturb(SENTENCES).pairs
    got = table(at)
    assert got[["sentence1", "sentence2", "category"]].equals(expected[["sentence1", "sentence2", "category"]])
    assert got["label"].astype(int).tolist() == expected["label"].tolist()
    assert any(
        shown(success.value).startswith(f"Generated {len(expected)} pairs from 5 sentences") for success in at.success
    )
    # per configuration: which kinds it fails; a bi-encoder scores role reversals as the same sentence
    kinds = frames_with(at, "verdict")
    assert len(kinds) == 2
    own = kinds[1].set_index("kind")
    assert own.at["role_reversal", "verdict"] == "fails" and own.at["role_reversal", "mean_score"] > 0.95
    assert set(own.index) == set(expected["category"])
    assert any(
        "Kinds of edit this configuration fails:" in md.value and "role_reversal" in md.value for md in at.markdown
    )
    across = next(
        frame.value
        for frame in at.dataframe
        if frame.value.columns[0] == "kind" and "verdict" not in frame.value.columns
    )
    assert set(across["kind"]) == set(expected["category"])
    assert across.set_index("kind").at["role_reversal", own_label(at)] == own.at["role_reversal", "failed_share"]
    # the download holds the table's pairs
    assert [button.proto.label for button in at.get("download_button")] == [
        f"Download these {len(expected)} pairs (CSV for negtest)"
    ]


def test_generated_pairs_stay_editable_before_scoring(app):
    at = generate(app, "\n".join(SENTENCES))
    version = at.session_state[view.PAIRS_TABLE.version_key]
    at.session_state[view.PAIRS_TABLE.editor_key(version)] = {
        "edited_rows": {0: {"sentence2": "A dog was chased by a cat."}},
        "added_rows": [],
        "deleted_rows": [],
    }
    ok(at.run())
    assert table(at).iloc[0]["sentence2"] == "A dog was chased by a cat."
    failures = frames_with(at, "margin")
    assert failures  # scored: the edited table, not the generated one
    assert "The cat did not chase the dog." not in set(table(at)["sentence2"])


def test_bad_input_keeps_the_table_and_says_why(app):
    at = generate(app, "Just one sentence.")
    assert any("has one sentence" in shown(error.value) for error in at.error)
    assert len(table(at)) == len(bundled_suite())  # the table was left as it was
    at = generate(at, "\n".join(f"Sentence {n}." for n in range(1_001)))
    assert any("at most 1,000" in shown(error.value) for error in at.error)
    assert at.text_area(key=state.NEGTEST_GENERATE_TEXT_WIDGET).value.startswith("Sentence 0.")  # kept


def test_sentences_from_a_file_or_the_compare_table_fill_the_box(app):
    at = app
    at.file_uploader(key=state.NEGTEST_GENERATE_UPLOAD).upload(
        "mine.csv", b"id,sentence\n1,The cat sat.\n2,A dog ran.\n", "text/csv"
    )
    ok(at.run())
    assert at.text_area(key=state.NEGTEST_GENERATE_TEXT_WIDGET).value == "The cat sat.\nA dog ran."
    at.file_uploader(key=state.NEGTEST_GENERATE_UPLOAD).upload("bad.csv", b"id,score\n1,2\n", "text/csv")
    ok(at.run())
    assert any("has no sentence column" in shown(error.value) for error in at.error)
    assert at.text_area(key=state.NEGTEST_GENERATE_TEXT_WIDGET).value == "The cat sat.\nA dog ran."
    next(button for button in at.button if button.label == "Compare's sentences").click()
    ok(at.run())
    pairs = example_pairs()
    expected = list(dict.fromkeys([*pairs["sentence1"], *pairs["sentence2"]]))
    assert at.text_area(key=state.NEGTEST_GENERATE_TEXT_WIDGET).value.splitlines() == expected


def test_the_canary_banner_flags_the_untrained_control_only():
    at = page_test("negative_tests")
    at.session_state[state.RAW_SPEC] = EmbedSpec("untrained-bert", pooling="mean")
    ok(at.run())
    banners = [shown(warning.value) for warning in at.warning if "No signal in these scores" in warning.value]
    assert len(banners) == 1
    assert "untrained-bert" in banners[0] and "its paraphrase pairs beat only" in banners[0]


def test_the_canary_banner_on_compare_flags_the_untrained_control_only():
    at = page_test("compare")
    at.session_state[state.RAW_SPEC] = EmbedSpec("untrained-bert", pooling="mean")
    ok(at.run())
    banners = [shown(warning.value) for warning in at.warning if "No signal in these scores" in warning.value]
    assert len(banners) == 1 and "untrained-bert" in banners[0]
