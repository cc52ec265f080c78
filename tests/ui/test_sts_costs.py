"""AppTest of the stored-smaller settings on the pages: the cost table on the STS page measures a variant beside the
model in PyTorch float32, Compare shows the trained model's float32 cosine beside its int8 one, and the server's fp32
engine (EMBEDLAB_FAST_BACKEND) serves the trained model with the same scores."""

from __future__ import annotations

import pytest

from components.shared import state
from embedlab.embedding.specs import EmbedSpec
from embedlab.models.loading import PACKAGED
from tests.ui.apptest import ok, page_test


def test_the_cost_table_measures_a_variant_beside_the_reference():
    at = ok(page_test("sts_eval").run())
    assert at.selectbox(key=state.STS_COSTS_MODEL).value == PACKAGED
    at.multiselect(key=state.STS_COSTS_VARIANTS).set_value(["binary vectors"])
    ok(at.run())
    at.button(key=state.STS_COSTS_MEASURE).click()
    ok(at.run())
    (table,) = [frame.value for frame in at.dataframe if "bytes_per_vector" in frame.value.columns]
    assert list(table["variant"]) == [f"{PACKAGED} · PyTorch fp32", f"{PACKAGED} · binary vectors"]
    assert list(table["bytes_per_vector"]) == [1536, 48]
    assert table["spearman"].notna().all() and table["auc"].notna().all()
    assert table["largest_change"].iloc[1] > 0 and table["speed_x"].iloc[0] == pytest.approx(1.0)


def test_compare_shows_float32_beside_int8_vectors():
    at = page_test("compare")
    at.session_state[state.widget_key(state.COMPARE, "trained.precision")] = "int8"
    ok(at.run())
    assert at.session_state[state.TRAINED_SPEC] == EmbedSpec(PACKAGED, precision="int8")
    (table,) = [frame.value for frame in at.dataframe if "trained_cosine" in frame.value.columns]
    assert "trained_float32" in table.columns
    int8, full = table["trained_cosine"].astype(float), table["trained_float32"].astype(float)
    assert (int8 - full).abs().max() > 0 and (int8 - full).abs().max() < 0.15


def test_the_server_engine_serves_the_trained_model_when_it_keeps_the_scores(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))  # the export of this test
    monkeypatch.setenv("EMBEDLAB_FAST_BACKEND", "onnx")
    at = ok(page_test("compare").run())
    assert at.session_state[state.TRAINED_SPEC] == EmbedSpec(PACKAGED)  # the box keeps the model itself
    assert any("Encoded through all-MiniLM-L6-v2 (ONNX)" in caption.value for caption in at.caption)
    (table,) = [frame.value for frame in at.dataframe if "trained_cosine" in frame.value.columns]
    monkeypatch.delenv("EMBEDLAB_FAST_BACKEND")
    plain = ok(page_test("compare").run())
    (expected,) = [frame.value for frame in plain.dataframe if "trained_cosine" in frame.value.columns]
    assert (table["trained_cosine"].astype(float) - expected["trained_cosine"].astype(float)).abs().max() <= 1e-3
