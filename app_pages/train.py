"""Train: compose a sentence-transformers model, train it on this CPU, and see what changed."""

from __future__ import annotations

import streamlit as st

from components.train import distill_panel, train_form, train_results, train_run


def page() -> None:
    st.title("Train")
    st.caption(
        "The cure after the diagnosis: fine-tune a sentence embedder with sentence-transformers' own trainer, "
        "supervised (scored pairs), on positive pairs, or without labels (SimCSE, TSDAE), and compare before and "
        "after on STS, the random-pair baseline and the negative tests; or train a cross-encoder. Runs wait their "
        "turn in a queue and train in a worker process, one at a time per worker."
    )
    train_form.init_state()
    train_run.progress_panel()
    distill_panel.distill_panel()
    st.divider()
    st.subheader("1. Compose the model")
    composition = train_form.composer()
    if composition is None:
        return
    st.subheader("2. Method and data")
    method = train_form.method_choice()
    matryoshka, unread = train_form.matryoshka_choice()
    problem = unread or train_form.method_fit(composition, method, matryoshka)
    data = train_form.data_choice(method, int(train_form.choice("seed")), matryoshka)
    eval_pairs = train_form.eval_choice()
    st.subheader("3. Settings")
    settings = train_form.settings_choice(composition, method)
    if settings is None:
        return
    train_form.code_panel(composition, method, settings, matryoshka)
    if data is None or eval_pairs is None:
        return
    train_run.start_controls(composition, data, settings, eval_pairs, problem, cross=method == train_form.CROSS_METHOD)
    train_results.saved_models_panel()


page()
