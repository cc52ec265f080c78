"""The one model box: the suggested models and every saved model, where any Hub id or folder can be typed."""

from __future__ import annotations

from collections.abc import Iterable

import streamlit as st

from embedlab.models.registry import available_cross_encoders, available_models, model_label


def model_options(*chosen: str | None) -> list[str]:
    """What a model box offers: ``available_models()``, and any chosen model not among them (typed ones) first."""
    available = list(available_models())
    extra = [ref for ref in dict.fromkeys(chosen) if ref and ref not in available]
    return [*extra, *available]


def model_box(key: str, label: str = "Model", help: str | None = None, *, on_change=None) -> str | None:
    """A model box (select one) under ``key``; the value already under ``key`` stays offered. Returns the ref."""
    return st.selectbox(
        label,
        model_options(st.session_state.get(key)),
        key=key,
        format_func=model_label,
        accept_new_options=True,
        help=help,
        on_change=on_change,
    )


def models_box(key: str, label: str = "Models", help: str | None = None, *, on_change=None) -> list[str]:
    """A box choosing several models under ``key``, with the same options as ``model_box``."""
    current: Iterable[str] = st.session_state.get(key) or ()
    return list(
        st.multiselect(
            label,
            model_options(*current),
            key=key,
            format_func=model_label,
            accept_new_options=True,
            help=help,
            on_change=on_change,
        )
    )


def cross_encoder_box(key: str, label: str = "Cross-encoder", help: str | None = None, *, on_change=None) -> str | None:
    """A box choosing a cross-encoder under ``key``: "None" first, every saved cross-encoder, any folder typed.

    Returns the chosen reference, or None for "None" (nothing saved yet, or the user chose no cross-encoder).
    """
    current = st.session_state.get(key)
    options = [None, *dict.fromkeys([*([current] if current else []), *available_cross_encoders()])]
    return st.selectbox(
        label,
        options,
        key=key,
        format_func=lambda ref: "None" if ref is None else model_label(ref),
        accept_new_options=True,
        help=help,
        on_change=on_change,
    )
