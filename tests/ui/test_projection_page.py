"""AppTest of the Projection page: a small typed set, two plots, neighbours, caching, bad input."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from streamlit.testing.v1 import AppTest

import components.projection.projection_view as view
from components.shared import state
from components.shared.figures import projection_figure
from components.shared.services import get_encoder
from embedlab.embedding.specs import EmbedSpec
from embedlab.tasks.projection import ProjectionSettings, label_agreement, parse_sentence_lines
from tests.ui.apptest import page_test

MODEL = "all-MiniLM-L6-v2"
TOPICS = {
    "sports": [
        "The striker scored a goal in the final minute.",
        "The home team won the football match.",
        "She ran the marathon in under three hours.",
        "The tennis player served an ace to win the set.",
        "The goalkeeper saved a penalty kick.",
        "Our basketball team lost the championship game.",
    ],
    "cooking": [
        "Chop the onions and fry them in butter.",
        "Bake the bread for forty minutes at high heat.",
        "Season the soup with salt and pepper.",
        "Whisk the eggs with sugar until pale.",
        "Simmer the tomato sauce for an hour.",
        "Roast the chicken with garlic and lemon.",
    ],
    "weather": [
        "Heavy rain is expected tomorrow afternoon.",
        "A cold front will bring snow to the mountains.",
        "It will be sunny and warm all weekend.",
        "Strong winds knocked down trees overnight.",
        "Thunderstorms are forecast for the evening.",
        "Fog will clear by midday, then clouds.",
    ],
}
LINES = [f"{label}\t{sentence}" for label, sentences in TOPICS.items() for sentence in sentences]
SMALL_TEXT = "\n".join(LINES[:6] + [""] + LINES[6:12] + ["   "] + LINES[12:])  # two empty lines
SMALL = parse_sentence_lines(SMALL_TEXT)
PCA = ProjectionSettings(method="pca")


def page(settings: ProjectionSettings | None = None, **seed) -> AppTest:
    at = page_test("projection")
    at.session_state[state.PROJECTION_SOURCE] = "text"
    at.session_state[state.PROJECTION_TEXT] = SMALL_TEXT
    if settings is not None:
        at.session_state[state.PROJECTION_SETTINGS] = settings
    for key, value in seed.items():
        at.session_state[key] = value
    return at


def run(at: AppTest) -> AppTest:
    at.run()
    assert not at.exception, at.exception
    return at


def charts(at: AppTest) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def shown_sentences(figure: dict) -> set[str]:
    return {row[0].replace("<br>", " ") for trace in figure["data"] for row in trace.get("customdata") or []}


def specs(at: AppTest) -> dict[str, EmbedSpec]:
    return {"raw": at.session_state[state.RAW_SPEC], "trained": at.session_state[state.TRAINED_SPEC]}


def brute_force_neighbours(vectors: np.ndarray, index: int, k: int) -> list[int]:
    data = vectors.astype(np.float64)
    cosines = data @ data[index] / (np.linalg.norm(data, axis=1) * np.linalg.norm(data[index]))
    cosines[index] = -np.inf
    return [int(i) for i in np.argsort(-cosines, kind="stable")[:k]]


def test_typed_set_shows_two_umap_plots_agreement_and_neighbours():
    at = run(page())
    assert any(caption.value == "2 empty lines skipped." for caption in at.caption)
    assert any(caption.value.startswith("18 sentences, 3 labels") for caption in at.caption)
    figures = charts(at)
    assert len(figures) == 2
    for figure, side in zip(figures, ("Raw", "Trained"), strict=True):
        assert figure["layout"]["title"]["text"].startswith(side) and figure["layout"]["title"]["text"].endswith("UMAP")
        assert {trace["name"] for trace in figure["data"]} >= set(TOPICS)
        assert shown_sentences(figure) == set(SMALL.sentences)  # hover carries every full sentence
        assert all(trace["type"] == "scatter" for trace in figure["data"])
    assert any("only approximate" in caption.value for caption in at.caption)

    encoder = get_encoder(MODEL)
    vectors = {side: encoder.embed(SMALL.sentences, spec) for side, spec in specs(at).items()}
    # One agreement number per plot, equal to the engine's on the same vectors.
    for metric, side in zip(at.metric, ("raw", "trained"), strict=True):
        assert metric.value == f"{label_agreement(vectors[side], SMALL.labels).rate:.0%}"
    assert label_agreement(vectors["trained"], SMALL.labels).rate >= 0.9  # three clear topics

    # Neighbour lists of the first sentence: a brute-force cosine ranking in the original space.
    tables = at.dataframe
    assert len(tables) == 2
    for table, side in zip(tables, ("raw", "trained"), strict=True):
        expected = brute_force_neighbours(vectors[side], 0, 5)
        assert table.value["sentence"].tolist() == [SMALL.sentences[i] for i in expected]
        assert table.value["label"].tolist() == [SMALL.labels[i] for i in expected]
        assert table.value["rank"].tolist() == [1, 2, 3, 4, 5]
    trained_table = tables[1].value
    assert trained_table["label"].iloc[0] == "sports"
    assert trained_table["cosine"].is_monotonic_decreasing
    raw_set, trained_set = (set(t.value["sentence"]) for t in tables)
    assert trained_table["in both"].tolist() == [s in raw_set for s in trained_table["sentence"]]
    labels = [button.proto.label for button in at.get("download_button")]
    assert labels.count("vectors.tsv") == 2 and labels.count("metadata.tsv") == 2 and "coordinates.csv" in labels


def test_search_and_picking_never_recompute_the_projection(projections):
    at = run(page(PCA))
    assert len(projections) == 2  # raw and trained
    at.text_input(key=state.PROJECTION_QUERY_WIDGET).input("the").run()
    assert not at.exception
    expected = sum("the" in sentence.casefold() for sentence in SMALL.sentences)
    for figure in charts(at):
        search = [trace for trace in figure["data"] if trace["name"].startswith("search:")]
        assert len(search) == 1 and search[0]["name"] == f"search: {expected} matches"
        assert len(search[0]["customdata"]) == expected
    at.selectbox(key=state.PROJECTION_PICK_WIDGET).set_value(13).run()
    assert not at.exception
    assert len(projections) == 2
    for figure in charts(at):
        star = [trace for trace in figure["data"] if trace["name"] == "picked sentence"]
        assert len(star) == 1 and star[0]["customdata"][0][0].replace("<br>", " ") == SMALL.sentences[13]
    encoder = get_encoder(MODEL)
    trained = encoder.embed(SMALL.sentences, specs(at)["trained"])
    expected_rows = brute_force_neighbours(trained, 13, 5)
    assert at.dataframe[1].value["sentence"].tolist() == [SMALL.sentences[i] for i in expected_rows]
    assert at.session_state[state.PROJECTION_PICKED] == 13

    at.toggle(key=state.PROJECTION_DIMS_WIDGET).set_value(True).run()  # a real settings change: both recomputed
    assert len(projections) == 4
    assert all(trace["type"] == "scatter3d" for figure in charts(at) for trace in figure["data"])


def test_changing_raw_pooling_needs_no_forward_pass(projections):
    at = run(page(PCA))
    encoder = get_encoder(MODEL)
    before = encoder.forward_passes
    assert len(projections) == 2
    at.radio(key="projection.raw.pooling").set_value("mean").run()
    assert not at.exception
    assert encoder.forward_passes == before
    assert len(projections) == 3  # only the raw picture changed
    raw_title = charts(at)[0]["layout"]["title"]["text"]
    assert "· mean ·" in raw_title and raw_title.endswith("PCA")


def test_too_many_sentences_is_an_error_and_the_text_is_kept():
    text = "\n".join(f"sentence number {i}" for i in range(5001))
    at = run(page(**{state.PROJECTION_TEXT: text}))
    assert any("5,001 sentences" in error.value and "at most 5,000" in error.value for error in at.error)
    assert at.text_area(key=state.PROJECTION_TEXT_WIDGET).value == text
    assert not at.get("plotly_chart")


def test_bad_upload_leaves_the_current_sentences(tmp_path):
    at = run(page(PCA, **{state.PROJECTION_SOURCE: "upload"}))
    assert any("Upload a file" in info.value for info in at.info)
    good = "label,sentence\n" + "\n".join(
        f"{label},{sentence}" for label, sentence in zip(SMALL.labels[:9], SMALL.sentences[:9], strict=True)
    )
    at.get("file_uploader")[0].set_value(("mine.csv", good.encode(), "text/csv")).run()
    assert not at.exception
    assert any(caption.value.startswith("9 sentences, 2 labels") for caption in at.caption)
    assert all(shown_sentences(figure) == set(SMALL.sentences[:9]) for figure in charts(at))

    at.get("file_uploader")[0].set_value(("bad.csv", b"text\nno sentence column\n", "text/csv")).run()
    assert not at.exception
    assert any("no 'sentence' column" in e.value and "left as they were" in e.value for e in at.error)
    assert any(caption.value.startswith("9 sentences, 2 labels") for caption in at.caption)
    assert all(shown_sentences(figure) == set(SMALL.sentences[:9]) for figure in charts(at))


def test_compare_pairs_are_a_source_and_few_sentences_fall_back_to_pca():
    pairs = pd.DataFrame(
        {
            "sentence1": ["How old are you?", "The cat sleeps.", "Stocks fell today."],
            "sentence2": ["What is your age?", "A kitten is napping.", "Markets dropped sharply."],
        }
    )
    at = run(page(**{state.PROJECTION_SOURCE: "pairs", state.PAIRS: pairs}))
    figures = charts(at)
    assert len(figures) == 2
    assert all(figure["layout"]["title"]["text"].endswith("PCA") for figure in figures)
    assert any("PCA instead" in caption.value and "n_neighbors (15)" in caption.value for caption in at.caption)
    assert {trace["name"] for trace in figures[1]["data"]} >= {"pair 0", "pair 1", "pair 2"}
    assert all(shown_sentences(figure) == {*pairs.sentence1, *pairs.sentence2} for figure in figures)
    # Each sentence's nearest neighbour under the trained model is its pair partner.
    assert at.metric[1].value == "100%"


class SlowEvent:
    """A warm-up that finishes on the third check, so the waiting status is drawn without any sleep."""

    def __init__(self) -> None:
        self.checks = 0

    def is_set(self) -> bool:
        return self.checks >= 3

    def wait(self, timeout: float | None = None) -> bool:
        self.checks += 1
        return self.is_set()


def wait_script() -> None:
    import streamlit as st  # AppTest runs this body alone: it imports what it uses

    from components.projection.projection_view import wait_for_umap

    wait_for_umap()
    st.write("after the wait")


def test_the_page_waits_for_umap_then_leaves_no_status_above_the_maps(monkeypatch):
    """While UMAP compiles a status with a progress bar stands where the maps go; once it is ready the status goes,
    so the maps start where they always do (a collapsed "compiled" status pushed them off a 768-pixel screen)."""
    unfinished = view.Warmup(done=SlowEvent(), seconds=12.0)
    monkeypatch.setattr(view, "start_umap_warmup", lambda: unfinished)
    at = run(AppTest.from_function(wait_script, default_timeout=60))
    assert unfinished.done.checks == 3  # it waited for the warm-up
    assert len(at.status) == 0 and len(at.get("progress")) == 0
    assert at.markdown[-1].value == "after the wait"

    finished = view.Warmup(seconds=1.0)
    finished.done.set()
    monkeypatch.setattr(view, "start_umap_warmup", lambda: finished)
    at = run(AppTest.from_function(wait_script, default_timeout=60))
    assert not at.status and not at.get("progress")


def test_real_warmup_runs_once_per_process_and_finishes():
    first = view.start_umap_warmup()
    assert view.start_umap_warmup() is first
    assert first.done.wait(timeout=300) and first.error is None and first.seconds > 0


def test_figure_builder_colours_by_label_and_switches_renderers():
    rng = np.random.default_rng(0)
    few = projection_figure(rng.normal(size=(6, 2)), list("abcdef"), ["x", "x", "y", "y", "", ""], "t")
    assert [trace.name for trace in few.data] == ["no label", "x", "y"]
    assert [trace.showlegend for trace in few.data] == [False, True, True]
    assert few.data[1].marker.color != few.data[2].marker.color
    assert few.data[0].customdata[0][0] == "e"  # hover: the sentence, then its label

    many_labels = [f"pair {i // 2}" for i in range(60)]  # 30 labels: one trace, no legend
    crowded = projection_figure(rng.normal(size=(60, 2)), [str(i) for i in range(60)], many_labels, "t")
    assert len(crowded.data) == 1 and crowded.data[0].showlegend is False
    colors = crowded.data[0].marker.color
    assert len(set(colors)) == 30 and colors[0] == colors[1] != colors[2]  # one colour per label

    big = projection_figure(rng.normal(size=(1600, 2)), ["s"] * 1600, ["a"] * 1600, "t")
    assert big.data[0].type == "scattergl"
    escaped = projection_figure(rng.normal(size=(1, 3)), ["<b>bold</b> " + "word " * 30], ["a"], "t")
    assert escaped.data[0].type == "scatter3d"
    assert (
        escaped.data[0].customdata[0][0].startswith("&lt;b&gt;bold&lt;/b&gt;")
        and "<br>" in escaped.data[0].customdata[0][0]
    )


def test_search_and_source_survive_a_page_switch():
    at = page_test()
    for key, value in (
        (state.PROJECTION_SOURCE, "text"),
        (state.PROJECTION_TEXT, SMALL_TEXT),
        (state.PROJECTION_SETTINGS, PCA),
    ):
        at.session_state[key] = value
    run(at)
    at.switch_page("app_pages/projection.py")
    run(at)
    at.text_input(key=state.PROJECTION_QUERY_WIDGET).input("rain").run()
    at.switch_page("app_pages/compare.py")
    run(at)
    assert state.PROJECTION_QUERY_WIDGET not in at.session_state  # Streamlit dropped the widget's own state
    at.switch_page("app_pages/projection.py")
    run(at)
    assert at.text_input(key=state.PROJECTION_QUERY_WIDGET).value == "rain"
    assert at.radio(key=state.PROJECTION_SOURCE_WIDGET).value == "text"
    assert any("“rain”: 1 of" in caption.value for caption in at.caption)


def test_sentences_the_model_cannot_read_are_marked_in_hover_and_neighbours():
    pairs = pd.DataFrame(
        {
            "sentence1": ["你几岁了？", "The cat sleeps.", "Stocks fell today."],
            "sentence2": ["你多大了？", "A kitten is napping.", "Markets dropped sharply."],
        }
    )
    at = run(page(**{state.PROJECTION_SOURCE: "pairs", state.PAIRS: pairs, state.PROJECTION_PICKED: 0}))
    warning = next(w.value for w in at.warning if "cannot read 2 of these sentences" in w.value)
    assert f"**{MODEL}**" in warning and "multilingual" in warning
    for figure in charts(at):
        hovers = {row[0].split("<br>")[0]: row[0] for trace in figure["data"] for row in trace.get("customdata") or []}
        assert "cannot read: 4 of 5 tokens are [UNK]" in hovers["你几岁了？"]
        assert "cannot read: 3 of 5 tokens are [UNK]" in hovers["你多大了？"]  # 大 is in its vocabulary
        assert "[UNK]" not in hovers["The cat sleeps."]
    assert any("The picked sentence: cannot read: 4 of 5" in w.value for w in at.warning)
    for table in at.dataframe:
        shown = table.value.set_index("sentence")
        assert "cannot read" in shown.loc["你多大了？", "note"]
        assert shown.drop(index="你多大了？")["note"].eq("").all()
