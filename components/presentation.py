"""Presentation mode: bigger scores, text and chart fonts for a projector, the same content.

One toggle (``state.PRESENTATION``, in app.py's sidebar). Pages render every plotly figure through
``plotly_chart`` (or ``present``), which scales the figure's fonts when the toggle is on, and app.py calls
``inject_css`` once per run, which enlarges metric values and text. Per session: another user's toggle never
changes what this session sees (no global plotly template).
"""

from __future__ import annotations

import plotly.graph_objects as go
import streamlit as st

from components import state

SCALE = 1.5  # chart fonts and metric values
TEXT_SCALE = 1.25  # body text: larger, but long explanations still fit
PLOTLY_FONT_SIZE = 12  # plotly's default layout font size

# Streamlit's own sizes: metric value 2.25rem, label and delta 0.875rem / 1rem, body text 1rem.
CSS = f"""
<style>
[data-testid="stMetricValue"], [data-testid="stMetricValue"] > div {{ font-size: {2.25 * SCALE}rem !important; }}
[data-testid="stMetricLabel"] p, [data-testid="stMetricDelta"] div {{ font-size: {1.0 * SCALE}rem !important; }}
[data-testid="stMain"] [data-testid="stMarkdownContainer"] p,
[data-testid="stMain"] [data-testid="stMarkdownContainer"] li,
[data-testid="stMain"] [data-testid="stCaptionContainer"] {{ font-size: {TEXT_SCALE}rem !important; }}
</style>
"""


def presenting() -> bool:
    return bool(st.session_state.get(state.PRESENTATION, False))


def scale_fonts(figure: go.Figure, factor: float) -> go.Figure:
    """A copy of ``figure`` with every font size multiplied by ``factor`` (the layout font set when unset).

    Every ``size`` inside a ``*font`` property is scaled (layout, title, legend, axes, annotations, traces'
    text fonts); what is drawn does not change. The top margin grows with the title.
    """

    def walk(node):
        if isinstance(node, dict):
            return {
                key: (_scaled_font(value, factor) if key.endswith("font") and isinstance(value, dict) else walk(value))
                for key, value in node.items()
            }
        if isinstance(node, list | tuple):
            return [walk(item) for item in node]
        return node

    data = walk(figure.to_dict())
    layout = data.setdefault("layout", {})
    font = layout.setdefault("font", {})
    font.setdefault("size", PLOTLY_FONT_SIZE * factor)
    margin = layout.get("margin")
    if isinstance(margin, dict) and "t" in margin:
        margin["t"] = margin["t"] * factor
    return go.Figure(data)


def _scaled_font(font: dict, factor: float) -> dict:
    scaled = {key: value for key, value in font.items()}
    if isinstance(scaled.get("size"), int | float):
        scaled["size"] = scaled["size"] * factor
    return scaled


def present(figure: go.Figure) -> go.Figure:
    """``figure`` as this session should see it: fonts scaled in presentation mode, else unchanged."""
    return scale_fonts(figure, SCALE) if presenting() else figure


def plotly_chart(figure: go.Figure, **kwargs):
    """``st.plotly_chart`` through ``present``: the one way pages show a figure."""
    return st.plotly_chart(present(figure), **kwargs)


def inject_css() -> None:
    """Enlarge metric values and text in presentation mode (nothing otherwise)."""
    if presenting():
        st.html(CSS)


def toggle() -> None:
    """The sidebar switch."""
    st.toggle(
        "Presentation mode",
        key=state.PRESENTATION,
        help="Larger scores, text and chart fonts for a projector; the same content.",
    )
