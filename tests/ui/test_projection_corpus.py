"""AppTest of Projection's "Encode my corpus" section: a file read with its bounds, one job for two tabs, the job's
progress, and once a worker has encoded it the map, the search and the neighbours.

The section runs alone (``AppTest.from_function``) on a temporary models directory with the app's own worker
start turned off; the queued job is encoded by a ``Worker`` in this process (the real worker loop, until the queue
is empty).
"""

from __future__ import annotations

import html
import json

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from components.shared import state
from components.shared.figures import HOVER_CHARS, corpus_map_figure
from embedlab.corpus.mapping import map_path
from embedlab.corpus.store import find_corpus
from embedlab.training.queue import JobQueue, Worker
from tests.ui.apptest import APP_TEST_TIMEOUT_S, ok, shown

TOPICS = ("a violin concerto", "tax returns", "mountain goats")
TEXTS = [f"Note {i}: something about {TOPICS[i % 3]}, written on day {i}." for i in range(30)]
MODEL = "all-MiniLM-L6-v2"


def corpus_script() -> None:
    from components.projection.corpus_view import corpus_section

    corpus_section("all-MiniLM-L6-v2")


@pytest.fixture
def models(tmp_path, monkeypatch):
    folder = tmp_path / "models"
    monkeypatch.setenv("EMBEDLAB_MODELS_DIR", str(folder))
    monkeypatch.setenv("EMBEDLAB_AUTO_WORKER", "0")
    monkeypatch.delenv("EMBEDLAB_QUEUE", raising=False)
    return folder


def tab(content: bytes, name: str = "notes.txt") -> AppTest:
    at = AppTest.from_function(corpus_script, default_timeout=APP_TEST_TIMEOUT_S)
    at.session_state[state.CORPUS_METHOD] = "pca"  # UMAP's first compilation would dominate the test
    at.run()
    at.file_uploader(key=state.CORPUS_UPLOAD).upload(name, content, "text/plain")
    return ok(at.run())


def captions(at: AppTest) -> str:
    return "\n".join(shown(caption.value) for caption in at.caption)


def test_two_tabs_share_one_job_and_the_encoded_corpus_is_mapped_searched_and_queried(models):
    content = "\n".join(TEXTS).encode()
    first, second = tab(content), tab(content)
    assert "notes.txt: 30 texts, encoded with all-MiniLM-L6-v2." in captions(first)
    ok(first.button(key=state.CORPUS_ENCODE).click().run())
    ok(second.button(key=state.CORPUS_ENCODE).click().run())
    job = first.session_state[state.CORPUS_JOB]
    assert second.session_state[state.CORPUS_JOB] == job  # one job for both tabs
    assert "queued, position 1" in first.get("progress")[0].proto.text

    assert Worker(JobQueue(), threads=1).run(until_idle=True) == 1
    assert JobQueue().view(job).state == "finished"
    ok(first.run())  # encoded, its map not kept yet: its job is queued and its progress shown, no map
    assert not first.get("component_instance") and "queued, position 1" in first.get("progress")[0].proto.text
    assert "The map is fitted by the workers" in captions(first)
    ok(second.run())  # the second tab waits on the same map job
    map_job = first.session_state[state.CORPUS_MAP_JOB][2]
    assert second.session_state[state.CORPUS_MAP_JOB][2] == map_job
    assert [view.method for view in JobQueue().views() if view.active] == ["map"]

    assert Worker(JobQueue(), threads=1).run(until_idle=True) == 1
    assert JobQueue().view(map_job).state == "finished"
    stored = find_corpus(MODEL, TEXTS)
    kept = map_path(stored.folder, "pca")
    written = kept.stat().st_mtime_ns
    ok(first.run())
    assert first.get("component_instance"), "no map once its job has finished"
    assert "PCA of 30 points" in captions(first)
    first.text_input(key=state.CORPUS_QUERY).input("violin")
    ok(first.run())
    assert "10 texts contain the search." in captions(first)
    neighbours = first.dataframe[-1].value
    assert len(neighbours) == 10 and 0 not in neighbours["#"].tolist()
    assert sum("violin" in text for text in neighbours["text"]) >= 8  # the same topic comes first
    assert "Exact search" in captions(first)
    assert stored.complete and np.asarray(stored.vectors()).shape == (30, 384)

    # a new tab (or a restarted app) reads the kept map at once: no job queued, no refit
    third = tab(content)
    assert third.get("component_instance") and "PCA of 30 points" in captions(third) and not third.get("progress")
    assert kept.stat().st_mtime_ns == written and len(JobQueue().views()) == 2  # the encode and the map job


def test_bad_files_are_one_literal_message_and_nothing_is_queued(models):
    binary = tab(b"\x00\x01\x02 not text", "blob.txt")
    assert "looks like a binary file" in binary.error[0].value and not binary.button
    empty = tab(b"\n\n", "**empty**.txt")
    assert shown(empty.error[0].value).startswith("**empty**.txt holds no text")  # literal, not bold
    assert JobQueue().views() == []


def raw_script(raw: str) -> None:
    from components.projection.corpus_view import corpus_section

    corpus_section("all-MiniLM-L6-v2", raw)


def test_the_raw_panels_model_is_encoded_by_its_own_job_and_mapped_beside(models, tiny_st_dir):
    at = AppTest.from_function(raw_script, args=(str(tiny_st_dir),), default_timeout=APP_TEST_TIMEOUT_S)
    at.session_state[state.CORPUS_METHOD] = "pca"
    at.run()
    at.file_uploader(key=state.CORPUS_UPLOAD).upload("notes.txt", "\n".join(TEXTS).encode(), "text/plain")
    ok(at.run())
    ok(at.button(key=state.CORPUS_ENCODE).click().run())
    assert Worker(JobQueue(), threads=1).run(until_idle=True) == 1
    ok(at.run())  # the trained map's job
    assert Worker(JobQueue(), threads=1).run(until_idle=True) == 1
    ok(at.run())
    assert len(at.get("component_instance")) == 1  # the trained map alone until the raw model's job has run
    ok(at.button(key=state.CORPUS_RAW_ENCODE).click().run())
    assert Worker(JobQueue(), threads=1).run(until_idle=True) == 1
    ok(at.run())  # the raw map's job: the trained map is drawn meanwhile
    assert len(at.get("component_instance")) == 1 and at.get("progress")
    assert Worker(JobQueue(), threads=1).run(until_idle=True) == 1
    ok(at.run())
    charts = at.get("component_instance")
    assert len(charts) == 2, "no raw map beside the trained one"
    for chart in charts:  # each frame is sent its figure: every one of the 30 texts drawn, hover text escaped
        figure = json.loads(json.loads(chart.proto.json_args)["spec"])
        hovers = [text for trace in figure["data"] for text in trace.get("hovertext", [])]
        assert chart.proto.component_name.endswith("corpus_map") and len(hovers) == 30
        assert set(hovers) == {html.escape(text) for text in TEXTS}
    raw = find_corpus(str(tiny_st_dir), TEXTS)
    assert raw.complete and raw.vectors().shape[0] == 30
    assert raw.key != find_corpus(MODEL, TEXTS).key
    assert "Raw: the raw model's own sentence-transformers pipeline" in captions(at)


def test_a_map_too_big_to_draw_sends_its_density_as_one_byte_a_cell_and_short_escaped_hovers():
    rng = np.random.default_rng(0)
    coords = rng.normal(size=(3000, 2)).astype(np.float32)
    texts = [f"<b>text {i}</b> " + "long " * 60 for i in range(3000)]
    figure = corpus_map_figure(coords, texts, ["a", "b"] * 1500, np.zeros(3000, bool), ((-1, 1), (-1, 1)), 500)
    density = [trace for trace in figure.data if trace.type == "heatmap"]
    assert len(density) == 1 and np.asarray(density[0].z).dtype == np.uint8
    assert int(np.asarray(density[0].z).max()) == 255
    points = [trace for trace in figure.data if trace.type == "scattergl"]
    rows = np.concatenate([np.asarray(trace.customdata)[:, 0] for trace in points])
    assert len(rows) == 500 and np.all(np.abs(coords[rows]) <= 1)  # only the region's points, at most the cap
    hovers = [hover for trace in points for hover in trace.hovertext]
    assert all(len(hover) <= HOVER_CHARS + 40 and "<b>" not in hover for hover in hovers)
    first = points[0]
    assert first.hovertext[0].startswith(f"&lt;b&gt;text {int(np.asarray(first.customdata)[0, 0])}&lt;/b&gt;")


def projection_path_script(model: str, texts: list[str]) -> None:
    """What the Projection page does with the trained side's sentences: the bar, the vectors, the unreadable marks."""
    import streamlit as st

    from components.projection.projection_view import embeddings, unreadable_marks
    from components.shared.services import encode_unseen, get_encoder
    from embedlab.embedding.specs import EmbedSpec
    from embedlab.models.identity import resolve_model

    spec = EmbedSpec(resolve_model(model))
    encoder = get_encoder(model)
    encode_unseen(encoder, texts, model, spec)
    vectors = embeddings(tuple(texts), spec)
    marks = unreadable_marks(encoder, tuple(texts))
    st.session_state["result"] = (vectors, marks, encoder.forward_passes)


def test_the_projection_page_reads_stored_texts_with_no_forward_pass(models, tiny_st_dir):
    from components.shared.services import get_encoder
    from embedlab.corpus.encode import encode_corpus
    from embedlab.corpus.store import prepare_corpus
    from embedlab.corpus.texts import Corpus
    from embedlab.models.loading import load_model

    model = str(tiny_st_dir)
    get_encoder.clear()
    stored = prepare_corpus(model, Corpus(tuple(TEXTS), "notes.txt"), chunk=8)
    assert encode_corpus(stored, load_model(model)).finished
    subset = TEXTS[5:17]
    at = AppTest.from_function(projection_path_script, args=(model, subset), default_timeout=APP_TEST_TIMEOUT_S)
    ok(at.run())
    vectors, marks, passes = at.session_state["result"]
    assert passes == 0 and not at.get("progress")
    np.testing.assert_array_equal(vectors, stored.vectors()[5:17])
    assert marks == [""] * len(subset)


def stored_random_vectors() -> None:
    """The section's corpus stored complete with random vectors of the model's width: no model call."""
    from embedlab.corpus.store import prepare_corpus
    from embedlab.corpus.texts import Corpus

    stored = prepare_corpus(MODEL, Corpus(tuple(TEXTS), "notes.txt"), chunk=16)
    rng = np.random.default_rng(0)
    for index in range(stored.n_chunks):
        first, end = stored.chunk_rows(index)
        stored.write_chunk(index, rng.normal(size=(end - first, 384)).astype(np.float32), 0)


def test_a_running_map_job_shows_its_phase_and_points_placed(models):
    import os
    import time

    from embedlab.training.queue.records import HOST, WorkerEntry
    from embedlab.training.run import ProgressReport

    stored_random_vectors()
    at = tab("\n".join(TEXTS).encode())
    jobs = JobQueue()
    job = at.session_state[state.CORPUS_MAP_JOB][2]
    worker = WorkerEntry(id="w", pid=os.getpid(), host=HOST, heartbeat=time.time(), job=job)
    jobs.store.put_worker(worker)  # a live worker holding the job, as a worker's record says mid-fit
    progress = ProgressReport(step=20, total=30, loss=None, steps_per_second=5.0, eta_seconds=2.0, elapsed_seconds=3)
    running = {"state": "running", "worker": worker, "progress": progress, "phase": "placing the other points"}
    jobs.store.put_record(jobs.record(job).model_copy(update=running))
    ok(at.run())
    assert at.get("progress")[0].proto.text == "placing the other points: 20/30 points placed, about 2 s left"
    assert not at.get("component_instance")


def test_a_failed_map_job_is_said_once_and_fitted_again_on_request(models, monkeypatch):
    from embedlab.corpus import mapping
    from embedlab.errors import EmbedLabError

    stored_random_vectors()
    at = tab("\n".join(TEXTS).encode())
    failed = at.session_state[state.CORPUS_MAP_JOB][2]

    def refuse(*args, **kwargs):
        raise EmbedLabError("No room for the map: free some space.")

    with monkeypatch.context() as patched:
        patched.setattr(mapping, "corpus_map", refuse)
        assert Worker(JobQueue(), threads=1).run(until_idle=True) == 1
    ok(at.run())
    assert "The map job failed: No room for the map: free some space." in shown(at.warning[0].value)
    ok(at.run())
    assert len(JobQueue().views()) == 1  # a failed map is not queued again by itself
    ok(at.button(key=f"{state.CORPUS_MAP_AGAIN}.{state.CORPUS_MAP_JOB}").click().run())
    again = at.session_state[state.CORPUS_MAP_JOB][2]
    assert again != failed and JobQueue().view(again).state == "queued"
    assert Worker(JobQueue(), threads=1).run(until_idle=True) == 1
    ok(at.run())
    assert at.get("component_instance") and "PCA of 30 points" in captions(at)
