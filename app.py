"""Embedding Lab: entry point. Page config, navigation and the shared sidebar; no logic."""

from __future__ import annotations

import streamlit as st

st.set_page_config(page_title="Embedding Lab", page_icon=":material/scatter_plot:", layout="wide")

PAGES = [
    st.Page("pages/compare.py", title="Compare", icon=":material/compare_arrows:", default=True),
]

navigation = st.navigation(PAGES)
with st.sidebar:
    st.markdown("### Embedding Lab")
    st.caption(
        "Which layer, which token, which pooling gives a sentence vector you can compare with cosine? "
        "Raw BERT pooling against a trained sentence-transformer, with baselines."
    )
navigation.run()
