"""What a new session costs the server: the work that is the same for every session is done once, not per session."""

from __future__ import annotations

import gc
import threading

import components.shared.heap as heap
from components.shared.services import get_encoder
from embedlab.models.loading import PACKAGED
from tests.ui.apptest import ok, page_test


def test_the_first_run_of_a_page_freezes_the_long_lived_heap(monkeypatch):
    # Streamlit's full collection after every run skips frozen objects: the shared model must be among them
    monkeypatch.setattr(heap, "_frozen", set())
    ok(page_test().run())
    encoder = get_encoder(PACKAGED)
    assert gc.get_freeze_count() > 0
    assert all(tracked is not encoder for tracked in gc.get_objects())  # the permanent generation is not listed
    assert heap.freeze_once("compare") is False  # once per page and process


def test_sessions_opening_negative_tests_share_the_suite_results(monkeypatch):
    import components.negative_tests.negtest_view as negtest_view

    negtest_view.shared_negtest.clear()
    runs: list[str] = []
    original = negtest_view.run_negtest
    monkeypatch.setattr(
        negtest_view,
        "run_negtest",
        lambda encoder, spec, *a, **k: runs.append(spec.label) or original(encoder, spec, *a, **k),
    )
    figures: list[str] = []
    draw = negtest_view.score_distributions
    monkeypatch.setattr(
        negtest_view, "score_distributions", lambda result, color: figures.append(color) or draw(result, color)
    )
    first = ok(page_test("negative_tests").run())
    assert len(runs) == 2 and len(figures) == 2  # raw and trained configurations
    second = ok(page_test("negative_tests").run())  # a new session, same suite and configurations
    assert len(runs) == 2 and len(figures) == 2
    assert [m.value for m in second.metric] == [m.value for m in first.metric]


def test_a_figure_is_built_once_per_content_and_shared():
    import numpy as np

    from components.shared.figures import projection_figure

    coords = np.array([[0.0, 1.0], [1.0, 0.0]])
    first = projection_figure(coords, ["A cat.", "A dog."], ["animal", "animal"], "map")
    again = projection_figure(coords.copy(), ["A cat.", "A dog."], ["animal", "animal"], "map")  # another session
    other = projection_figure(coords, ["A cat.", "A fox."], ["animal", "animal"], "map")
    assert again is first  # built once, shared
    assert other is not first and "A fox." in other.to_json() and "A fox." not in first.to_json()


def test_the_app_runs_its_model_calls_on_one_torch_thread(monkeypatch):
    # two threads on a shared 2-core machine spin at OpenMP's barrier: the cold start's baselines took 3-5x longer
    import torch

    monkeypatch.delenv("EMBEDLAB_SERVER_THREADS", raising=False)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        ok(page_test().run())
        seen: list[int] = []  # as the next session's script thread sees it (a thread keeps the count it started with)
        reader = threading.Thread(target=lambda: seen.append(torch.get_num_threads()))
        reader.start()
        reader.join(timeout=30)
        assert seen == [1]
    finally:
        torch.set_num_threads(before)


def test_a_class_finishing_at_once_gets_one_full_collection_not_one_per_session(monkeypatch):
    # Streamlit's own pass after every run (runner.postScriptGC) is off in .streamlit/config.toml: heap collects
    import tomllib

    from tests.ui.apptest import ROOT

    monkeypatch.setattr(heap, "_next_collection", [float("-inf")])
    passes: list[int] = []

    def count(phase, info):
        if phase == "start" and info["generation"] == 2:
            passes.append(1)

    gc.callbacks.append(count)
    try:
        # share=1: only the interval decides (a pass here takes far less than 2 s)
        assert heap.collect_now_and_then(every_s=2.0, now=100.0, share=1.0) is True
        later = [heap.collect_now_and_then(every_s=2.0, now=100.0 + i / 10, share=1.0) for i in range(1, 20)]
        assert later == [False] * 19
        assert heap.collect_now_and_then(every_s=2.0, now=102.0, share=1.0) is True  # once the interval is over
    finally:
        gc.callbacks.remove(count)
    assert len(passes) == 2
    streamlit_config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert streamlit_config["runner"]["postScriptGC"] is False


def test_a_costly_full_collection_waits_long_enough_to_stay_a_small_share_of_the_time(monkeypatch):
    monkeypatch.setattr(heap, "_next_collection", [float("-inf")])
    clock = iter([10.0, 10.5, 20.0, 20.01, 30.0, 30.01])  # a pass of 0.5 s (a class open), then passes of 0.01 s
    monkeypatch.setattr(heap.time, "perf_counter", lambda: next(clock))
    passes: list[int] = []
    monkeypatch.setattr(heap.gc, "collect", lambda *args: passes.append(1) or 0)
    assert heap.collect_now_and_then(every_s=2.0, now=100.0, share=0.05) is True
    assert heap.collect_now_and_then(every_s=2.0, now=102.0, share=0.05) is False  # 2 s is not enough after it
    assert heap.collect_now_and_then(every_s=2.0, now=109.9, share=0.05) is False  # 0.5 s / 5 % = 10 s
    assert heap.collect_now_and_then(every_s=2.0, now=110.0, share=0.05) is True
    assert heap.collect_now_and_then(every_s=2.0, now=112.0, share=0.05) is True  # a cheap pass: 2 s again
    assert len(passes) == 3


def test_the_app_collects_the_young_generation_less_often():
    before = gc.get_threshold()
    try:
        gc.set_threshold(700, 10, 10)  # Python's default
        ok(page_test().run())  # the whole app: app.py tunes the collector before the page runs
        assert gc.get_threshold() == (heap.YOUNG_THRESHOLD, 10, 10)
    finally:
        gc.set_threshold(*before)
