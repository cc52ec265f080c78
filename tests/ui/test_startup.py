"""Server start: the warm-up fills the caches the Compare page reads, so a new session neither loads a model nor
scores a baseline again."""

from __future__ import annotations

import streamlit as st

from components.shared import canary, services, warmup
from embedlab.embedding import reference_cache
from embedlab.scorers import base
from embedlab.scorers.hidden_states import HiddenStatesScorer
from tests.ui.apptest import ok, page_test


def test_the_warm_up_fills_the_caches_the_compare_page_reads(monkeypatch, tmp_path):
    services.get_encoder.clear()
    canary.shared_canary.clear()  # a verdict another test left would hide what the warm-up must compute
    st.cache_data.clear()
    monkeypatch.setenv("EMBEDLAB_VECTOR_CACHE_DIR", str(tmp_path))
    calls: list[str] = []

    def counted(name, original):
        def call(*args, **kwargs):
            calls.append(name)
            return original(*args, **kwargs)

        return call

    monkeypatch.setattr(HiddenStatesScorer, "load_engine", counted("load", HiddenStatesScorer.load_engine))
    monkeypatch.setattr(base, "random_pair_baseline", counted("baseline", base.random_pair_baseline))
    monkeypatch.setattr(services, "layer_baselines", counted("layers", services.layer_baselines))
    monkeypatch.setattr(reference_cache, "save_states", counted("saved", reference_cache.save_states))

    startup = warmup.Startup()
    warmup.warm_defaults(startup)
    assert startup.error is None and startup.done.is_set()
    assert startup.step == len(warmup.STEPS)
    # offline the raw default is the packaged backbone: one model, loaded once, its reference states written once
    assert calls.count("load") == 1 and calls.count("saved") == 1
    assert startup.reference == {"all-MiniLM-L6-v2": "encoded"}
    assert sorted(set(calls)) == ["baseline", "layers", "load", "saved"]
    encoder = services.get_encoder("all-MiniLM-L6-v2")
    encoded = encoder.texts_encoded

    calls.clear()
    at = ok(page_test("compare").run())
    assert calls == []  # no model load, no baseline, no layer baseline: all found where the warm-up left them
    assert encoder.texts_encoded - encoded <= 2 * 10  # only the example pairs' own sentences
    assert any("raw_typical" in frame.value.columns for frame in at.dataframe)
    assert at.metric  # "One pair, up close": its numbers need both baselines
