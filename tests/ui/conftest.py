"""Fixtures shared by the page tests."""

from __future__ import annotations

import pytest
import streamlit as st

import components.projection.projection_view as view


@pytest.fixture()
def projections(monkeypatch) -> list[int]:
    """Counts projections actually computed (cache misses); caches start empty."""
    st.cache_data.clear()
    view.fitted_projection.clear()
    calls: list[int] = []
    original = view.fit_projection

    def counted(vectors, settings=None):
        calls.append(len(vectors))
        return original(vectors, settings)

    monkeypatch.setattr(view, "fit_projection", counted)
    return calls
