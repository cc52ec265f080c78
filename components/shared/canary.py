"""The canary banner: a configuration whose scores carry no signal is said so above its results.

Any scorer (``embedlab.tasks.canary``): its paraphrase pairs must beat its random pairs, its scores must not be
NaN or constant. One verdict per configuration and baseline, shared by every session.
"""

from __future__ import annotations

import streamlit as st

from components.shared import notes
from components.shared.services import baseline, get_scorer
from embedlab.embedding.baseline import Baseline
from embedlab.embedding.specs import EmbedSpec
from embedlab.scorers.base import Scorer
from embedlab.tasks.canary import CanaryResult, run_canary


@st.cache_resource(show_spinner=False, max_entries=32)
def shared_canary(spec: EmbedSpec) -> CanaryResult:
    """``run_canary`` once per configuration, against its random-pair baseline (itself cached on the spec, whose
    model identity includes the revision); never changed. Keyed on the spec alone: hashing the baseline's scores on
    every run cost more than the verdict's lookup."""
    return run_canary(get_scorer(spec), baseline(spec))


def canary_banner(spec: EmbedSpec) -> CanaryResult:
    """A warning when the configuration's scores carry no signal; returns the verdict."""
    result = shared_canary(spec)
    show(result)
    return result


def scorer_canary_banner(scorer: Scorer, typical: Baseline) -> CanaryResult:
    """The same for a scorer without an ``EmbedSpec`` of its own (a cross-encoder), against its baseline."""
    result = run_canary(scorer, typical)  # its pairs are cached by the scorer: ten pairs, once
    show(result)
    return result


def show(result: CanaryResult) -> None:
    if not result.passed:
        notes.warning(
            "**No signal in these scores** ({}): {}. Passes and failures below say nothing about meaning: check "
            "that the model is the one you meant and that its weights loaded.",
            result.label,
            result.problem,
            icon="🐤",
        )
